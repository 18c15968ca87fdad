import { describe, expect, it } from 'vitest';
import { warmUp } from '../../../functions/cache-efficiency/measure';
import type { CacheWindow } from '../../../functions/cache-efficiency/window';

const window = (start: string): CacheWindow =>
  ({
    source: 'table',
    state: 'ok',
    windowStart: new Date(start),
    windowEnd: new Date('2026-12-05T12:00:00Z'),
    cumulativeHitRatioPercent: null,
    details: {},
  }) as unknown as CacheWindow;

describe('warm-up (pure)', () => {
  it('starts at the latest restart, lasts one TTL, and marks only the windows that overlap it', () => {
    const windows = [window('2026-12-05T10:00:00Z'), window('2026-12-05T11:45:00Z')];
    const restarts = [
      { at: new Date('2026-12-05T09:00:00Z'), why: 'counters reset' },
      { at: new Date('2026-12-05T11:00:00Z'), why: 'the cache table was emptied' },
    ];
    const warm = warmUp(windows, restarts, { until: null, reason: null }, 30);
    expect(warm.until?.toISOString()).toBe('2026-12-05T11:30:00.000Z');
    expect(warm.reason).toBe('the cache table was emptied at 2026-12-05T11:00:00.000Z');
    expect(warm.windows[0]?.state).not.toBe('ok');
    expect(warm.windows[1]).toBe(windows[1]);
  });

  it('keeps a longer warm-up already under way, and none at all with a zero TTL', () => {
    const windows = [window('2026-12-05T11:00:00Z')];
    const previous = { until: new Date('2026-12-05T13:00:00Z'), reason: 'earlier restart' };
    expect(warmUp(windows, [{ at: new Date('2026-12-05T11:00:00Z'), why: 'x' }], previous, 30)).toMatchObject(previous);
    const none = warmUp(windows, [{ at: new Date('2026-12-05T11:00:00Z'), why: 'x' }], { until: null, reason: null }, 0);
    expect(none).toEqual({ windows, until: null, reason: null });
  });
});
