import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoToken } from '../../../local/demo-app/seed';
import { useHandlerFixture } from '../../support/handler-fixture';

describe('cacheEfficiency handler', () => {
  const fixture = useHandlerFixture({
    functionName: 'cacheEfficiency',
    remainingMs: 60_000,
    demo: { users: 30, transactionsPerUser: 10, adoptionPercent: 100, app: { cacheTtlSeconds: 3600 } },
  });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;

  const load = async (users: number[], times = 1) => {
    for (const user of users) {
      for (let index = 0; index < times; index += 1) {
        const response = await fetch(`${fixture.app.url}${completePath}`, {
          headers: { authorization: `Bearer ${demoToken(user)}` },
        });
        await response.arrayBuffer();
      }
    }
  };
  const delivered = fixture.deliveredKeys;

  beforeAll(async () => {
    handler = await fixture.handler('cache-efficiency', {
      CACHE_COUNTERS_QUERY: "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'",
      CACHE_MIN_LOOKUPS: '5',
    });
  });

  it('alerts once after 2 of 3 windows under target, and resolves once the ratio holds again', async () => {
    const first = await handler({}, context);
    expect(first.windows).toEqual(expect.arrayContaining([expect.objectContaining({ source: 'counters', state: 'no_data' })]));
    expect(await delivered()).toEqual([]);

    await load([1, 2, 3, 4, 5]);
    await handler({}, context);
    expect(await delivered()).toEqual([]);

    await load([6, 7, 8, 9, 10]);
    const third = await handler({}, context);
    expect(third.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'cache:user_performance:hit-ratio', action: 'sent', kind: 'firing' }),
      ]),
    );
    const [firing] = await fixture.delivered();
    expect(firing?.subject).toBe('Vigil local MAJOR: Cache hit ratio of user_performance under 85 %');
    expect(firing?.email).toContain('(under 85 %)');

    await load([1, 2, 3, 4, 5], 4);
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await load([6, 7, 8, 9, 10], 4);
    await handler({}, context);
    expect(await delivered()).toEqual(['resolved cache:user_performance:hit-ratio']);
  });

  it('emits only measured values as metrics', async () => {
    // The handler's own instance: the fixture loads it in a fresh module graph.
    const { metrics } = await import('../../../lib/metrics');
    const added = vi.spyOn(metrics, 'addMetric');
    await load([11, 12, 13], 3);
    await handler({}, context);
    const names = added.mock.calls.map(([name]) => name);
    expect(names).toEqual(expect.arrayContaining(['CacheHitRatio', 'CacheFailureRate', 'CacheLookups', 'CacheErrorRate']));
    const ratio = added.mock.calls.find(([name]) => name === 'CacheHitRatio')?.[2];
    expect(ratio).toBeCloseTo((6 / 9) * 100, 3);
    added.mockClear();
    await handler({}, context);
    expect(added.mock.calls.map(([name]) => name)).not.toContain('CacheHitRatio');
    added.mockRestore();
  });
});
