import { describe, expect, it } from 'vitest';
import { hitRatioSteps, olapSteps } from '../../../functions/cache-efficiency/alerting';
import { sliceEstimate } from '../../../functions/cache-efficiency/sample';
import type { CacheWindow, MeasuredWindow } from '../../../functions/cache-efficiency/window';
import { renderAlert } from '../../../lib/alerts/render';
import { defaultThresholds } from '../../../lib/thresholds';
import { deliveredAlert } from '../../../local/outbox';
import { readabilityProblems } from '../../support/alert-corpus';

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

/**
 * A window of a 5 % slice: `hits` of `lookups`, one lookup per entry touched, among 50,000 entries;
 * its interval from sample.ts, as the function makes it.
 */
const sampled = (hits: number, lookups: number): MeasuredWindow => {
  const misses = lookups - hits;
  const sample = sliceEstimate(
    {
      entries: 50_000,
      hits,
      misses,
      hitsSquared: hits,
      lookupsSquared: lookups,
      hitsTimesLookups: hits,
      hitsFourth: hits,
      hitsCubedTimesLookups: hits,
      hitsSquaredTimesLookupsSquared: hits,
      hitsTimesLookupsCubed: hits,
      lookupsFourth: lookups,
    },
    { pivot: '40000000-0000-4000-8000-000000000000', fraction: 0.05 },
  );
  return {
    ...(ok(0) as MeasuredWindow),
    source: 'table',
    lookups,
    hits,
    misses,
    errors: null,
    hitRatioPercent: (hits / lookups) * 100,
    cacheFailureRatePercent: (misses / lookups) * 100,
    errorRatePercent: null,
    ...(sample ? { sample } : {}),
  };
};

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

  it("counts a sampled window under target only when its interval's upper bound is under", () => {
    // 84 % of 400 lookups: the estimate is under 85 %, the interval (about +-3.6 points) is not.
    const unsure = sampled(336, 400);
    expect(unsure.sample?.hitRatio.high).toBeGreaterThan(85);
    expect(actions([unsure, unsure, unsure])[0]).toBe('resolve cache:user_performance:hit-ratio');
    // 80 % of 6,000 lookups: under 85 % even at its upper bound.
    const shown = sampled(4_800, 6_000);
    expect(shown.sample?.hitRatio.high).toBeLessThan(85);
    expect(actions([shown, unsure, shown])[0]).toBe('raise cache:user_performance:hit-ratio');
  });

  it('resolves on a sampled window whose interval reaches the target, even when its lower bound is under', () => {
    // 86 % of 400 lookups: the interval (about +-3.5 points) straddles 85 %.
    const recovering = sampled(344, 400);
    expect(recovering.sample?.hitRatio.low).toBeLessThan(85);
    const shown = sampled(4_800, 6_000);
    expect(actions([recovering, recovering, shown])).toEqual([
      'resolve cache:user_performance:hit-ratio',
      'resolve cache:user_performance:no-data',
    ]);
  });

  it('names only the windows that breached, sampled and whole-table alike, each with its own lookups', () => {
    const shown = sampled(4_800, 6_000);
    const [step] = hitRatioSteps('user_performance', [shown, sampled(344, 400), ok(70)], options);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert.measurements.map((measurement) => [measurement.value, measurement.sampleCount])).toEqual([
      [80, 6_000],
      [70, 200],
    ]);
    expect(step.alert.measurements[0]?.name).toMatch(/95 % interval [\d.]+ to [\d.]+ %, estimate$/);
    expect(step.alert.measurements[1]?.name).toBe('hit ratio to 04:00Z');
  });

  it('says the interval and n of a sampled window in plain words, readable on a phone and in a mailbox', () => {
    const shown = sampled(4_800, 6_000);
    const [step] = hitRatioSteps('user_performance', [shown, shown, shown], options);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert.summary).toContain(
      `Latest: 80 %, with 95 % confidence between ${Number(shown.sample?.hitRatio.low.toFixed(1))} % and ${Number(shown.sample?.hitRatio.high.toFixed(1))} %, from 6,000 lookups on 50,000 entries (a fixed 5 % slice of about 1,000,000)`,
    );
    expect(step.alert.summary).toContain('each counted only when even its upper bound is under 85 %');
    const rendered = renderAlert(step.alert, {
      kind: 'firing',
      stage: 'production',
      smsDisplayName: 'VIGIL',
      since: step.alert.since ?? now,
      sentAt: now,
      repeatIntervalMinutes: 240,
    });
    const message = deliveredAlert(
      JSON.stringify({
        Subject: rendered.subject,
        Message: rendered.message,
        MessageAttributes: Object.fromEntries(
          Object.entries(rendered.attributes).map(([name, value]) => [name, { Value: value.StringValue }]),
        ),
      }),
      'VIGIL',
    );
    expect(message.email).toMatch(/hit ratio to 04:00Z, 95 % interval [\d.]+ to [\d.]+ %, estimate 80 % \(under 85 %\)/);
    expect(readabilityProblems(message)).toEqual([]);
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
