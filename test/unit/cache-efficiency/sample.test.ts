import { describe, expect, it } from 'vitest';
import { simulateSliceCoverage } from '../../../bench/cases/cache-sample-simulation';
import {
  compareScope,
  designVariance,
  firstSliceFraction,
  nextSliceFraction,
  sliceCondition,
  sliceEstimate,
} from '../../../functions/cache-efficiency/sample';

const pivot = '40000000-0000-4000-8000-000000000000';

describe('sample', () => {
  it('reads a slice as a range of the key the btree answers, wrapping past the last key', () => {
    expect(sliceCondition('user_id', null)).toBe('true');
    expect(sliceCondition('user_id', { pivot, fraction: 1 })).toBe('true');
    expect(sliceCondition('user_id', { pivot, fraction: 0.25 })).toBe(
      "(user_id >= '40000000-0000-4000-8000-000000000000'::uuid AND user_id < '80000000-0000-4000-8000-000000000000'::uuid)",
    );
    expect(sliceCondition('user_id', { pivot: 'c0000000-0000-0000-0000-000000000000', fraction: 0.25 })).toBe(
      "user_id >= 'c0000000-0000-0000-0000-000000000000'::uuid",
    );
    expect(sliceCondition('user_id', { pivot: 'e0000000-0000-0000-0000-000000000000', fraction: 0.25 })).toBe(
      "(user_id >= 'e0000000-0000-0000-0000-000000000000'::uuid OR user_id < '20000000-0000-0000-0000-000000000000'::uuid)",
    );
    expect(() => sliceCondition('user_id', { pivot: "x'; DROP TABLE t; --", fraction: 0.1 })).toThrow('not a UUID');
  });

  it('compares the keys two snapshots share: the smaller slice of one pivot, nothing across pivots', () => {
    const small = { pivot, fraction: 0.02 };
    const large = { pivot, fraction: 0.08 };
    expect(compareScope(null, null)).toEqual({ overlap: null, previousWider: false });
    expect(compareScope(small, large)).toEqual({ overlap: small, previousWider: false });
    expect(compareScope(large, small)).toEqual({ overlap: small, previousWider: true });
    expect(compareScope(null, small)).toEqual({ overlap: small, previousWider: true });
    expect(compareScope(small, null)).toEqual({ overlap: small, previousWider: false });
    expect(compareScope(small, { pivot: '00000000-0000-4000-8000-000000000000', fraction: 0.02 })).toBe('moved');
  });

  it("estimates the hit ratio with the ratio estimator's interval, entries as clusters, the finite population corrected", () => {
    // 100 entries of a 10 % slice: 40 with 1 hit, 10 with 1 miss, 5 hot ones with 20 hits, 45 untouched.
    const sums = {
      entries: 100,
      hits: 40 + 100,
      misses: 10,
      hitsSquared: 40 + 5 * 400,
      lookupsSquared: 40 + 10 + 5 * 400,
      hitsTimesLookups: 40 + 5 * 400,
    };
    const estimate = sliceEstimate(sums, { pivot, fraction: 0.1 });
    const ratio = 140 / 150;
    const spread = 40 * (1 - ratio) ** 2 + 10 * ratio ** 2 + 5 * (20 - 20 * ratio) ** 2;
    const standardError = (Math.sqrt((0.9 * 100 * spread) / 99) / 150) * 100;
    expect(estimate?.standardErrorPoints).toBeCloseTo(standardError, 9);
    expect(estimate).toMatchObject({ entries: 100, lookups: 150, tableEntriesEstimate: 1000, confidencePercent: 95 });
    expect(estimate?.hitRatio.low).toBeCloseTo(ratio * 100 - 1.959964 * standardError, 3);
    expect(estimate?.failureRate.high).toBeCloseTo((1 - ratio) * 100 + 1.959964 * standardError, 3);
  });

  it('never gives a narrower interval than a binomial one on the lookups: all hits is not a 100 % cache', () => {
    const allHits = { entries: 1000, hits: 50, misses: 0, hitsSquared: 50, lookupsSquared: 50, hitsTimesLookups: 50 };
    const estimate = sliceEstimate(allHits, { pivot, fraction: 0.05 });
    // Agresti-Coull on 50 lookups: (50 + 2) / (50 + 4), +-1.96 sqrt(0.95 p (1 - p) / 54).
    const adjusted = 52 / 54;
    expect(estimate?.hitRatio.high).toBe(100);
    expect(estimate?.standardErrorPoints).toBeCloseTo(Math.sqrt((0.95 * adjusted * (1 - adjusted)) / 54) * 100, 9);
    expect(estimate?.hitRatio.low).toBeLessThan(95.2);
    expect(
      sliceEstimate({ ...allHits, hits: 0, hitsSquared: 0, lookupsSquared: 0, hitsTimesLookups: 0 }, { pivot, fraction: 0.05 }),
    ).toBe(undefined);
  });

  it('grows the slice toward the share its interval needs, at most 4-fold a run, shrinks it only when far narrower, keeps it between', () => {
    const sums = (lookups: number) => ({
      entries: 20_000,
      hits: lookups * 0.8,
      misses: lookups * 0.2,
      hitsSquared: lookups * 0.8,
      lookupsSquared: lookups,
      hitsTimesLookups: lookups * 0.8,
    });
    const next = (lookups: number, fraction: number) =>
      nextSliceFraction({
        fraction,
        variance: designVariance(sums(lookups), fraction) ?? null,
        tooFewLookups: false,
        targetHalfWidthPoints: 1,
        tableEntries: 1_000_000,
      });
    // 2,500 lookups on 2 % of the keys: about +-1.6 points; the share that gives +-0.9 is about 6 %.
    expect(sliceEstimate(sums(2_500), { pivot, fraction: 0.02 })?.halfWidthPoints).toBeCloseTo(1.55, 1);
    expect(next(2_500, 0.02)).toBeGreaterThan(0.05);
    expect(next(2_500, 0.02)).toBeLessThan(0.08);
    // Twenty times too few lookups: 4-fold, not the whole table at once.
    expect(next(125, 0.02)).toBeCloseTo(0.08, 9);
    // About right: kept, so the slice stays the same run after run.
    expect(next(7_000, 0.06)).toBe(0.06);
    // Far narrower than needed: shrunk, never under 10,000 entries.
    expect(next(200_000, 0.5)).toBeLessThan(0.1);
    expect(next(10_000_000, 0.5)).toBe(0.01);
    // A whole table's window says what a slice would do: a quiet one keeps the whole table.
    expect(next(60_000, 1)).toBeLessThan(0.2);
    expect(next(300, 1)).toBe(1);
    // Too few lookups for any ratio: 4-fold.
    expect(
      nextSliceFraction({ fraction: 0.02, variance: null, tooFewLookups: true, targetHalfWidthPoints: 1, tableEntries: 1e6 }),
    ).toBe(0.08);
    expect(firstSliceFraction(1_000_000)).toBe(0.02);
    expect(firstSliceFraction(100_000)).toBe(0.1);
  });

  it('holds the census in about 95 % of intervals over seeded simulated traffic, hot users included', () => {
    const result = simulateSliceCoverage({
      seed: 11,
      entries: 100_000,
      windows: 16,
      slices: 20,
      lookupsPerEntry: 0.15,
      activitySigma: 1.5,
      ttlWindows: 1,
      arrivals: 0.005,
      departures: 0.001,
      targetHalfWidthPoints: 1,
    });
    expect(result.intervals).toBeGreaterThan(250);
    // A guard, with room for the randomness of 300 intervals; the bench reports the figure.
    expect(result.covered / result.intervals).toBeGreaterThan(0.9);
    expect(result.medianHalfWidthPoints).toBeLessThanOrEqual(1);
  });
});
