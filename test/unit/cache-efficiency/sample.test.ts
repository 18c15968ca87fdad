import { describe, expect, it } from 'vitest';
import { simulateSliceCoverage } from '../../../bench/cases/cache-sample-simulation';
import {
  compareScope,
  effectiveDegreesOfFreedom,
  firstSliceFraction,
  neededFraction,
  nextSliceFraction,
  quantile95,
  type SliceSums,
  sliceCondition,
  sliceDesign,
  sliceEstimate,
  z95,
} from '../../../functions/cache-efficiency/sample';

const pivot = '40000000-0000-4000-8000-000000000000';

/** The sums SQL would give for `entries` entries, of which the listed groups had [hits, lookups] each. */
function sumsOf(entries: number, groups: { count: number; hits: number; lookups: number }[]): SliceSums {
  const sum = (term: (hits: number, lookups: number) => number) =>
    groups.reduce((total, group) => total + group.count * term(group.hits, group.lookups), 0);
  return {
    entries,
    hits: sum((h) => h),
    misses: sum((h, l) => l - h),
    hitsSquared: sum((h) => h * h),
    lookupsSquared: sum((_, l) => l * l),
    hitsTimesLookups: sum((h, l) => h * l),
    hitsFourth: sum((h) => h ** 4),
    hitsCubedTimesLookups: sum((h, l) => h ** 3 * l),
    hitsSquaredTimesLookupsSquared: sum((h, l) => h ** 2 * l ** 2),
    hitsTimesLookupsCubed: sum((h, l) => h * l ** 3),
    lookupsFourth: sum((_, l) => l ** 4),
  };
}

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

  /** Two slices of one pivot, for compareScope. */
  const small = { pivot, fraction: 0.02 };
  const large = { pivot, fraction: 0.08 };

  it('compares the keys two snapshots share: the smaller slice of one pivot, nothing across pivots', () => {
    const cut = { previousCut: true };
    expect(compareScope(null, null, cut)).toEqual({ overlap: null, previousWider: false, read: null });
    expect(compareScope(small, large, cut)).toEqual({ overlap: small, previousWider: false, read: large });
    expect(compareScope(large, small, cut)).toEqual({ overlap: small, previousWider: true, read: small });
    expect(compareScope(null, small, cut)).toEqual({ overlap: small, previousWider: true, read: small });
    expect(compareScope(small, null, cut)).toEqual({ overlap: small, previousWider: false, read: null });
  });

  it('reads the larger slice once when a packed snapshot (no whole keys) would have to be cut', () => {
    const packed = { previousCut: false };
    expect(compareScope(large, small, packed)).toEqual({ overlap: large, previousWider: false, read: large });
    expect(compareScope(small, large, packed)).toEqual({ overlap: small, previousWider: false, read: large });
    expect(compareScope(small, null, packed)).toEqual({ overlap: small, previousWider: false, read: null });
    expect(compareScope(small, { pivot: '00000000-0000-4000-8000-000000000000', fraction: 0.02 }, packed)).toBe('moved');
  });

  it("estimates the hit ratio with the ratio estimator's interval, entries as clusters, the finite population corrected", () => {
    // 100 entries of a 10 % slice: 40 with 1 hit, 10 with 1 miss, 5 hot ones with 20 hits, 45 untouched.
    const sums = sumsOf(100, [
      { count: 40, hits: 1, lookups: 1 },
      { count: 10, hits: 0, lookups: 1 },
      { count: 5, hits: 20, lookups: 20 },
    ]);
    const estimate = sliceEstimate(sums, { pivot, fraction: 0.1 });
    const ratio = 140 / 150;
    const spread = 40 * (1 - ratio) ** 2 + 10 * ratio ** 2 + 5 * (20 - 20 * ratio) ** 2;
    const standardError = (Math.sqrt((0.9 * 100 * spread) / 99) / 150) * 100;
    expect(estimate?.standardErrorPoints).toBeCloseTo(standardError, 9);
    expect(estimate).toMatchObject({ entries: 100, lookups: 150, tableEntriesEstimate: 1000, confidencePercent: 95 });
    // Its degrees of freedom, by hand: (sum z^2)^2 / sum z^4 over the same z_i.
    const fourths = 40 * (1 - ratio) ** 4 + 10 * ratio ** 4 + 5 * (20 - 20 * ratio) ** 4;
    expect(estimate?.degreesOfFreedom).toBeCloseTo((spread * spread) / fourths, 9);
    expect(estimate?.degreesOfFreedom).toBeCloseTo(13.51, 2);
    const quantile = quantile95(estimate?.degreesOfFreedom ?? null);
    expect(estimate?.hitRatio.low).toBeCloseTo(ratio * 100 - quantile * standardError, 3);
    expect(estimate?.failureRate.high).toBeCloseTo((1 - ratio) * 100 + quantile * standardError, 3);
  });

  it("takes Student's t quantile of the given degrees of freedom, the normal one without", () => {
    expect(quantile95(10)).toBeCloseTo(2.228, 3);
    expect(quantile95(30)).toBeCloseTo(2.042, 3);
    expect(quantile95(1)).toBeCloseTo(12.706, 3);
    expect(quantile95(5.5)).toBeGreaterThan(quantile95(6));
    expect(quantile95(5.5)).toBeLessThan(quantile95(5));
    expect(quantile95(null)).toBe(z95);
  });

  it('counts the degrees of freedom of the spread: many like entries give many, a few hot ones few', () => {
    // 2,000 entries of one lookup each, a fifth of them misses: the spread is carried by all of them.
    const alike = sumsOf(20_000, [
      { count: 1_600, hits: 1, lookups: 1 },
      { count: 400, hits: 0, lookups: 1 },
    ]);
    // z = 0.2 for 1,600 entries and -0.8 for 400: (1,600 x 0.04 + 400 x 0.64)^2 / (1,600 x 0.0016 + 400 x 0.4096).
    expect(effectiveDegreesOfFreedom(alike)).toBeCloseTo(320 ** 2 / 166.4, 6);
    // The same and three hot entries that miss often: they carry most of the spread.
    const hot = sumsOf(20_000, [
      { count: 1_600, hits: 1, lookups: 1 },
      { count: 400, hits: 0, lookups: 1 },
      { count: 3, hits: 150, lookups: 300 },
    ]);
    expect(effectiveDegreesOfFreedom(hot)).toBeLessThan(5);
    // Too few entries to have as many as the formula says: n - 1 at most.
    expect(effectiveDegreesOfFreedom({ ...alike, entries: 50 })).toBe(49);
    // No spread (every lookup a hit), or no lookups: none to count.
    expect(effectiveDegreesOfFreedom(sumsOf(1_000, [{ count: 50, hits: 1, lookups: 1 }]))).toBe(null);
    expect(effectiveDegreesOfFreedom(sumsOf(1_000, []))).toBe(null);
  });

  it('widens the interval of a sample whose spread a few hot entries carry beyond what the normal quantile gives', () => {
    const hot = sumsOf(20_000, [
      { count: 1_600, hits: 1, lookups: 1 },
      { count: 400, hits: 0, lookups: 1 },
      { count: 3, hits: 150, lookups: 300 },
    ]);
    const estimate = sliceEstimate(hot, { pivot, fraction: 0.05 });
    const degrees = effectiveDegreesOfFreedom(hot);
    expect(estimate?.degreesOfFreedom).toBe(degrees);
    expect(estimate?.halfWidthPoints).toBeCloseTo(quantile95(degrees) * (estimate?.standardErrorPoints ?? 0), 3);
    expect(estimate?.halfWidthPoints).toBeGreaterThan(1.3 * z95 * (estimate?.standardErrorPoints ?? 0));
    // Like entries alone: the t quantile of a few hundred degrees of freedom, within 1 % of the normal one.
    const alike = sliceEstimate(
      sumsOf(20_000, [
        { count: 1_600, hits: 1, lookups: 1 },
        { count: 400, hits: 0, lookups: 1 },
      ]),
      { pivot, fraction: 0.05 },
    );
    expect(alike?.halfWidthPoints).toBeLessThan(1.01 * z95 * (alike?.standardErrorPoints ?? 0));
    expect(alike?.halfWidthPoints).toBeGreaterThan(z95 * (alike?.standardErrorPoints ?? 0));
  });

  it('never gives a narrower interval than a binomial one on the lookups: all hits is not a 100 % cache', () => {
    const allHits = sumsOf(1000, [{ count: 50, hits: 1, lookups: 1 }]);
    const estimate = sliceEstimate(allHits, { pivot, fraction: 0.05 });
    // Agresti-Coull on 50 lookups: (50 + 2) / (50 + 4), +-1.96 sqrt(0.95 p (1 - p) / 54).
    const adjusted = 52 / 54;
    expect(estimate?.hitRatio.high).toBe(100);
    expect(estimate?.standardErrorPoints).toBeCloseTo(Math.sqrt((0.95 * adjusted * (1 - adjusted)) / 54) * 100, 9);
    expect(estimate?.hitRatio.low).toBeLessThan(95.2);
    // The floor is a binomial interval: the normal quantile, whatever the spread's degrees of freedom.
    expect(estimate?.degreesOfFreedom).toBe(null);
    expect(estimate?.halfWidthPoints).toBeCloseTo(z95 * (estimate?.standardErrorPoints ?? 0), 3);
    expect(sliceEstimate(sumsOf(1000, []), { pivot, fraction: 0.05 })).toBe(undefined);
  });

  it('grows the slice toward the share its interval needs, at most 4-fold a run, shrinks it only when far narrower, keeps it between', () => {
    // Entries of one lookup each, 80 % of them hits.
    const sums = (lookups: number) =>
      sumsOf(20_000, [
        { count: lookups * 0.8, hits: 1, lookups: 1 },
        { count: lookups * 0.2, hits: 0, lookups: 1 },
      ]);
    const next = (lookups: number, fraction: number) =>
      nextSliceFraction({
        fraction,
        design: sliceDesign(sums(lookups), fraction) ?? null,
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
      nextSliceFraction({ fraction: 0.02, design: null, tooFewLookups: true, targetHalfWidthPoints: 1, tableEntries: 1e6 }),
    ).toBe(0.08);
    expect(firstSliceFraction(1_000_000)).toBe(0.02);
    expect(firstSliceFraction(100_000)).toBe(0.1);
  });

  it('keeps the slice the snapshot holds when the window counted another share and meets the width', () => {
    const sums = sumsOf(20_000, [
      { count: 7_000 * 0.8, hits: 1, lookups: 1 },
      { count: 7_000 * 0.2, hits: 0, lookups: 1 },
    ]);
    const next = (held: number) =>
      nextSliceFraction({
        fraction: 0.06,
        held,
        design: sliceDesign(sums, 0.06) ?? null,
        tooFewLookups: false,
        targetHalfWidthPoints: 1,
        tableEntries: 1_000_000,
      });
    expect(sliceEstimate(sums, { pivot, fraction: 0.06 })?.halfWidthPoints).toBeLessThan(1);
    expect(sliceEstimate(sums, { pivot, fraction: 0.06 })?.halfWidthPoints).toBeGreaterThan(0.6);
    // It grew this run (counted over the earlier 6 %): kept grown, not taken back.
    expect(next(0.08)).toBe(0.08);
    // It shrank this run (counted over the earlier 6 %): kept shrunk, not grown back.
    expect(next(0.05)).toBe(0.05);
    // Too wide a window never takes a held slice back either.
    const wide = sumsOf(20_000, [
      { count: 2_500 * 0.8, hits: 1, lookups: 1 },
      { count: 2_500 * 0.2, hits: 0, lookups: 1 },
    ]);
    expect(
      nextSliceFraction({
        fraction: 0.02,
        held: 0.3,
        design: sliceDesign(wide, 0.02) ?? null,
        tooFewLookups: false,
        targetHalfWidthPoints: 1,
        tableEntries: 1_000_000,
      }),
    ).toBe(0.3);
  });

  it('aims the slice with the t quantile of the share it aims at, whose degrees of freedom grow with it', () => {
    const design = { variance: 1e-4, degreesOfFreedom: 8, quantile: quantile95(8) };
    const normal = neededFraction({ ...design, degreesOfFreedom: null, quantile: z95 }, 0.9, 0.02);
    const aimed = neededFraction(design, 0.9, 0.02);
    // Wider than the normal quantile asks; narrower than this window's own quantile would (8 degrees
    // of freedom on 2 %: some 40 on the 10 % it aims at).
    expect(aimed).toBeGreaterThan(normal);
    expect(aimed).toBeLessThan(neededFraction({ ...design, degreesOfFreedom: null }, 0.9, 0.02));
    // The share it settles on gives the half width aimed at with the quantile of that share.
    const degrees = (8 * aimed) / 0.02;
    expect(quantile95(degrees) * Math.sqrt(((1 - aimed) / aimed) * 1e-4) * 100).toBeCloseTo(0.9, 2);
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
