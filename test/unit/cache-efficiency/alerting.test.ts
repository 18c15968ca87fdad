import { describe, expect, it } from 'vitest';
import { hitRatioSteps, olapSteps } from '../../../functions/cache-efficiency/alerting';
import type { CacheWindow } from '../../../functions/cache-efficiency/window';
import { defaultThresholds } from '../../../lib/thresholds';

const now = new Date('2026-11-22T04:00:00Z');
const ok = (hitRatioPercent: number): CacheWindow => ({
  source: 'counters',
  windowStart: new Date('2026-11-22T03:45:00Z'),
  windowEnd: now,
  cumulativeHitRatioPercent: 95,
  details: {},
  state: 'ok',
  lookups: 200,
  hits: hitRatioPercent * 2,
  misses: 200 - hitRatioPercent * 2,
  errors: 0,
  hitRatioPercent,
  cacheFailureRatePercent: 100 - hitRatioPercent,
  errorRatePercent: 0,
});
const noData: CacheWindow = {
  source: 'counters',
  windowStart: null,
  windowEnd: now,
  cumulativeHitRatioPercent: null,
  details: {},
  state: 'no_data',
  reason: 'only 3 lookup(s)',
  lookups: 3,
  hits: 3,
  misses: 0,
  errors: 0,
};
const options = { targetPercent: 85, breaches: 2, windows: 3, now };
const actions = (windows: CacheWindow[]) =>
  hitRatioSteps('user_performance', windows, options).map(
    (step) => `${step.action} ${step.action === 'raise' ? step.alert.key : step.key}`,
  );

describe('cache alerting', () => {
  it('raises after M of the last N windows under target, not after one', () => {
    expect(actions([ok(70), ok(90), ok(90)])).toEqual([
      'resolve cache:user_performance:hit-ratio',
      'resolve cache:user_performance:no-data',
    ]);
    expect(actions([ok(70), ok(90), ok(60)])[0]).toBe('raise cache:user_performance:hit-ratio');
    expect(actions([ok(90), ok(70), ok(60), ok(50)])[0]).toBe('raise cache:user_performance:hit-ratio');
    expect(actions([ok(90), ok(90), ok(70), ok(50)])[0]).toBe('resolve cache:user_performance:hit-ratio');
  });

  it('puts each breaching window, with its lookups, in the alert', () => {
    const [step] = hitRatioSteps('user_performance', [ok(70), ok(90), ok(60)], options);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert.measurements.map((measurement) => [measurement.value, measurement.sampleCount])).toEqual([
      [70, 200],
      [60, 200],
    ]);
  });

  it('never reads a window without data as healthy', () => {
    expect(actions([noData, ok(90), ok(90)])).toEqual(['hold cache:user_performance:hit-ratio']);
    expect(actions([noData, noData, noData])).toEqual([
      'hold cache:user_performance:hit-ratio',
      'raise cache:user_performance:no-data',
    ]);
  });

  it('raises a stale OLAP cache and a low health score as critical', () => {
    const steps = olapSteps(
      {
        state: 'ok',
        table: 'performance_metrics_cache',
        lastUpdated: new Date('2026-11-22T03:45:00Z'),
        stalenessMinutes: 15,
        healthByTenant: [
          { tenantId: 'a', healthScore: 55, buckets: 1 },
          { tenantId: 'b', healthScore: 92, buckets: 1 },
        ],
      },
      defaultThresholds.cache,
      now,
    );
    expect(steps.map((step) => (step.action === 'raise' ? `${step.alert.key} ${step.alert.severity}` : step.action))).toEqual([
      'cache:olap:stale critical',
      'cache:olap:health critical',
    ]);
  });

  it('resolves a fresh, healthy OLAP cache and holds when it cannot read one', () => {
    const healthy = olapSteps(
      {
        state: 'ok',
        table: 't',
        lastUpdated: now,
        stalenessMinutes: 2,
        healthByTenant: [{ tenantId: 'a', healthScore: 90, buckets: 1 }],
      },
      defaultThresholds.cache,
      now,
    );
    expect(healthy.map((step) => step.action)).toEqual(['resolve', 'resolve']);
    const missing = olapSteps({ state: 'no_data', table: 't', reason: 'table t not found' }, defaultThresholds.cache, now);
    expect(missing.map((step) => step.action)).toEqual(['hold', 'hold']);
  });
});
