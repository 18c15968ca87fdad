import { describe, expect, it } from 'vitest';
import { counterWindow, type TableDelta, tableWindow } from '../../../functions/cache-efficiency/window';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 22, 3, minute));
const reading = (
  hits: number,
  misses: number,
  errors: number,
  minute: number,
  startedAt: string | null = '2026-11-22T00:00:00Z',
) => ({
  hits,
  misses,
  errors,
  startedAt,
  takenAt: at(minute),
});
const delta = (overrides: Partial<TableDelta> = {}): TableDelta => ({
  currentRows: 100,
  newRows: 0,
  deletedRows: 0,
  recalculatedRows: 0,
  resetRows: 0,
  backdatedRows: 0,
  hits: 0,
  hitsSinceCalculation: 0,
  ...overrides,
});

describe('window', () => {
  it('measures the counters window from deltas, not totals', () => {
    const window = counterWindow(reading(9900, 100, 0, 0), reading(9950, 150, 0, 15), 10);
    expect(window).toMatchObject({
      state: 'ok',
      lookups: 100,
      hits: 50,
      misses: 50,
      errors: 0,
      hitRatioPercent: 50,
      cacheFailureRatePercent: 50,
    });
    // The cumulative ratio says 98.5 %: shown beside the window's 50 %, never used for it.
    expect(window.cumulativeHitRatioPercent).toBe(98.5149);
  });

  it('counts errors as failures of the cache, and apart as their own rate', () => {
    expect(counterWindow(reading(0, 0, 0, 0), reading(80, 15, 5, 15), 10)).toMatchObject({
      lookups: 100,
      hitRatioPercent: 80,
      cacheFailureRatePercent: 20,
      errorRatePercent: 5,
    });
    // A cache that only errors is a failing cache, not a healthy one.
    expect(counterWindow(reading(0, 0, 0, 0), reading(0, 0, 400, 15), 10)).toMatchObject({
      lookups: 400,
      hitRatioPercent: 0,
      cacheFailureRatePercent: 100,
      errorRatePercent: 100,
    });
  });

  it('has no data on the first reading, after a reset, or when a counter goes backwards', () => {
    expect(counterWindow(undefined, reading(5, 5, 0, 15), 1)).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('first reading'),
    });
    expect(counterWindow(reading(500, 50, 0, 0), reading(3, 1, 0, 15, '2026-11-22T03:10:00Z'), 1)).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('reset'),
    });
    expect(counterWindow(reading(500, 50, 0, 0, null), reading(400, 60, 0, 15, null), 1)).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('hits -100'),
    });
  });

  it('has no data below the minimum number of lookups, saying how many there were', () => {
    expect(counterWindow(reading(0, 0, 0, 0), reading(3, 1, 0, 15), 20)).toMatchObject({
      state: 'no_data',
      lookups: 4,
      reason: 'only 4 lookup(s) in the window; at least 20 are needed for a ratio (CACHE_MIN_LOOKUPS)',
    });
  });

  it('counts one miss per new or recalculated entry and its hits since', () => {
    const window = tableWindow(at(0), at(15), delta({ newRows: 2, recalculatedRows: 3, hits: 45 }), 10);
    expect(window).toMatchObject({
      state: 'ok',
      hits: 45,
      misses: 5,
      errors: null,
      lookups: 50,
      hitRatioPercent: 90,
      errorRatePercent: null,
    });
  });

  it('says when entries were deleted', () => {
    const window = tableWindow(at(0), at(15), delta({ deletedRows: 2, hits: 20 }), 10);
    expect(window.details.deletedNote).toBe('2 entries were deleted; hits they took after the previous run are not counted');
  });

  it('has no data on the first run, on a counter reset and on a rewritten table', () => {
    expect(tableWindow(null, at(15), delta({ hits: 99 }), 1)).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('first run'),
    });
    expect(tableWindow(at(0), at(15), delta({ resetRows: 1, hits: 99 }), 1)).toMatchObject({
      state: 'no_data',
      reason: 'access_count went down without a recalculation for 1 entry: counter reset',
    });
    expect(tableWindow(at(0), at(15), delta({ backdatedRows: 3 }), 1)).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('back in time'),
    });
  });
});
