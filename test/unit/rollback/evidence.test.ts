import { describe, expect, it } from 'vitest';
import {
  fewestLoadsForMedianBound,
  fewestLoadsForShiftInterval,
  meanEvidence,
  medianEvidence,
  rateEvidence,
  samplesToDecide,
} from '../../../lib/evidence';
import { shiftEstimate } from '../../../lib/stats';
import { seededRandom } from '../../../local/seeded-random';

/** P(X >= k) for X ~ Bin(n, p), summed in log space: an oracle written apart from the module. */
function upperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  let logBinomial = 0;
  for (let i = 1; i <= k; i += 1) logBinomial += Math.log((n - i + 1) / i);
  let total = 0;
  let logTerm = logBinomial + k * Math.log(p) + (n - k) * Math.log1p(-p);
  for (let x = k; x <= n; x += 1) {
    total += Math.exp(logTerm);
    logTerm += Math.log((n - x) / (x + 1)) + Math.log(p) - Math.log1p(-p);
  }
  return Math.min(1, total);
}

/** Exact one-sided bounds by bisection on the binomial tails, in percent. */
function oracleBounds(events: number, trials: number, alpha: number) {
  const bisect = (f: (p: number) => boolean) => {
    let low = 0;
    let high = 1;
    for (let step = 0; step < 100; step += 1) {
      const middle = (low + high) / 2;
      if (f(middle)) high = middle;
      else low = middle;
    }
    return ((low + high) / 2) * 100;
  };
  // Lower: the p at which P(X >= events) reaches alpha; upper: the p at which P(X <= events) falls to alpha.
  const low = events === 0 ? 0 : bisect((p) => upperTail(trials, events, p) >= alpha);
  const high = events === trials ? 100 : bisect((p) => 1 - upperTail(trials, events + 1, p) <= alpha);
  return { low, high };
}

/** P(X = x) for X ~ Bin(n, p), every x, from the log of the first term up: for exact coverage sums. */
function binomialMasses(n: number, p: number): number[] {
  const masses: number[] = [];
  let logTerm = n * Math.log1p(-p);
  for (let x = 0; x <= n; x += 1) {
    masses.push(Math.exp(logTerm));
    logTerm += Math.log((n - x) / (x + 1)) + Math.log(p) - Math.log1p(-p);
  }
  return masses;
}

/**
 * The order statistic that bounds a median one-sidedly, in exact integer arithmetic: the largest k
 * with P(Bin(n, 1/2) >= k) >= confidence, i.e. 100 * sum_{j >= k} C(n, j) >= percent * 2^n; 0 if none.
 */
function medianOrderIndex(n: number, confidencePercent: number): number {
  const choose: bigint[] = [1n];
  for (let j = 1; j <= n; j += 1) choose.push(((choose[j - 1] as bigint) * BigInt(n - j + 1)) / BigInt(j));
  const needed = BigInt(confidencePercent) * 2n ** BigInt(n);
  let best = 0;
  let tail = 0n;
  for (let k = n; k >= 1; k -= 1) {
    tail += choose[k] as bigint;
    if (100n * tail >= needed) {
      best = k;
      break;
    }
  }
  return best;
}

describe('rollback evidence', () => {
  it.each([
    [0, 5],
    [2, 20],
    [1, 20],
    [11, 20],
    [80, 2000],
    [125, 2498],
    [0, 299],
    [20, 20],
  ])('gives the exact Clopper-Pearson bounds for %i of %i', (events, trials) => {
    const evidence = rateEvidence(events, trials, 95, 'requests');
    const oracle = oracleBounds(events, trials, 0.05);
    expect(evidence.low).toBeCloseTo(oracle.low, 6);
    expect(evidence.high).toBeCloseTo(oracle.high, 6);
  });

  it('says what the headline cases can carry: 2 of 20, and five failing loads against four', () => {
    expect(rateEvidence(2, 20, 95, 'requests')).toMatchObject({ low: expect.closeTo(1.81, 2), high: expect.closeTo(28.26, 2) });
    expect(rateEvidence(0, 5, 95, 'loads').high).toBeCloseTo(45.07, 2);
    expect(rateEvidence(0, 4, 95, 'loads').high as number).toBeGreaterThan(50);
    // One of one is not shown over 5 %: exactly 5 % at 95 %, not past it.
    expect(rateEvidence(1, 1, 95, 'requests').low).toBe(5);
  });

  it('keeps its stated confidence: the true rate is past a bound in at most 5 % of draws, at every n', () => {
    const random = seededRandom(28);
    const draws = 2_000;
    for (const p of [0.001, 0.01, 0.05, 0.3]) {
      for (const n of [20, 200]) {
        let belowLow = 0;
        let aboveHigh = 0;
        for (let draw = 0; draw < draws; draw += 1) {
          let events = 0;
          for (let trial = 0; trial < n; trial += 1) if (random() < p) events += 1;
          const { low, high } = rateEvidence(events, n, 95, 'requests');
          if ((low as number) > p * 100) belowLow += 1;
          if ((high as number) < p * 100) aboveHigh += 1;
        }
        expect(belowLow / draws, `lower bound past p = ${p} at n = ${n}`).toBeLessThanOrEqual(0.06);
        expect(aboveHigh / draws, `upper bound past p = ${p} at n = ${n}`).toBeLessThanOrEqual(0.06);
      }
    }
  });

  it('bounds a median by its order statistics, and says when the loads are too few', () => {
    expect(medianEvidence([5, 1, 4, 2, 3], 95)).toMatchObject({ low: 1, high: 5 });
    expect(medianEvidence([1, 2, 3, 4], 95)).toMatchObject({ low: null, high: null });
    expect(fewestLoadsForMedianBound(95)).toBe(5);
    const values = Array.from({ length: 20 }, (_, index) => index + 1);
    // P(Bin(20, 1/2) >= 6) = 0.979 >= 0.95 > P(>= 7) = 0.942: the 6th smallest and the 6th largest.
    expect(medianEvidence(values, 95)).toMatchObject({ low: 6, high: 15 });
  });

  it("needs as many loads for a shift interval as the probe's own Hodges-Lehmann does", () => {
    expect(fewestLoadsForShiftInterval()).toBe(4);
    expect(shiftEstimate([1, 2, 3], [4, 5, 6])).toMatchObject({ low: null, high: null });
    expect(shiftEstimate([1, 2, 3, 4], [5, 6, 7, 8]).low).not.toBeNull();
  });

  it('names the samples that would decide a rate: the bound decides there and not one sample before', () => {
    for (const [events, trials, limit] of [
      [2, 20, 5],
      [1, 49, 5],
      [11, 20, 50],
      [0, 40, 1],
    ] as const) {
      const evidence = rateEvidence(events, trials, 95, 'requests');
      const estimate = (events / trials) * 100;
      const needed = samplesToDecide(evidence, estimate, limit) as number;
      const decides = (n: number) => {
        const { low, high } = rateEvidence((events / trials) * n, n, 95, 'requests');
        return (low as number) > limit || (high as number) <= limit;
      };
      expect(decides(needed)).toBe(true);
      expect(decides(needed - 1)).toBe(false);
    }
    expect(samplesToDecide(rateEvidence(0, 40, 95, 'requests'), 0, 1)).toBe(299);
    expect(samplesToDecide(rateEvidence(1, 20, 95, 'requests'), 5, 5)).toBeNull();
  });

  it("bounds a mean by Student's t, and not at all without a spread", () => {
    expect(meanEvidence(100, null, 30, 95, 'requests')).toMatchObject({ low: null, high: null });
    expect(meanEvidence(100, 20, 1, 95, 'requests')).toMatchObject({ low: null, high: null });
    const half = (1.6991270265334972 * 20) / Math.sqrt(30);
    expect(meanEvidence(100, 20, 30, 95, 'requests')).toMatchObject({
      low: expect.closeTo(100 - half, 9),
      high: expect.closeTo(100 + half, 9),
    });
  });

  it("takes a cluster sample's effective degrees of freedom: a spread few hot units carry bounds wider, and needs more to decide", () => {
    // 10,000 entries, but a spread carried by a few of them: t at 4 degrees of freedom (2.1318), not 9,999.
    const few = meanEvidence(5, 0.5 * Math.sqrt(10_000), 10_000, 95, 'cache entries', 4);
    const many = meanEvidence(5, 0.5 * Math.sqrt(10_000), 10_000, 95, 'cache entries');
    expect(few).toMatchObject({ degreesOfFreedom: 4, high: expect.closeTo(5 + 2.131847 * 0.5, 5) });
    expect(many.high).toBeCloseTo(5 + 1.645 * 0.5, 2);
    // 1 point from a limit: shown at these entries with many degrees of freedom, not yet with 4.
    expect(samplesToDecide(few, 5, 6) as number).toBeGreaterThan(samplesToDecide(many, 5, 6) as number);
    // Never more than n - 1, never fewer than 1.
    expect(meanEvidence(5, 1, 10, 95, 'entries', 50).degreesOfFreedom).toBe(9);
    expect(meanEvidence(5, 1, 10, 95, 'entries', 0.2).degreesOfFreedom).toBe(1);
  });

  it('keeps its stated confidence exactly: the binomial mass past each bound is at most 5 %, at every n and rate', () => {
    for (const n of [1, 2, 3, 4, 5, 10, 20, 50, 200]) {
      for (const p of [0.0005, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 0.5, 0.7, 0.95, 0.99, 0.999]) {
        const masses = binomialMasses(n, p);
        let belowLow = 0;
        let aboveHigh = 0;
        masses.forEach((mass, events) => {
          const { low, high } = rateEvidence(events, n, 95, 'requests');
          if ((low as number) > p * 100) belowLow += mass;
          if ((high as number) < p * 100) aboveHigh += mass;
        });
        expect(belowLow, `P(lower bound > ${p}) at n = ${n}`).toBeLessThanOrEqual(0.05 + 1e-9);
        expect(aboveHigh, `P(upper bound < ${p}) at n = ${n}`).toBeLessThanOrEqual(0.05 + 1e-9);
      }
    }
  });

  it('takes its median bounds from the order statistic an exact binomial count names, at every n', () => {
    const random = seededRandom(7);
    for (let n = 1; n <= 80; n += 1) {
      const values = Array.from({ length: n }, () => Math.round(random() * 1e6) / 100);
      const sorted = [...values].sort((a, b) => a - b);
      const k = medianOrderIndex(n, 95);
      const evidence = medianEvidence(values, 95);
      if (k === 0) {
        expect(evidence, `n = ${n}`).toMatchObject({ low: null, high: null });
        expect(n).toBeLessThan(fewestLoadsForMedianBound(95));
      } else {
        expect(evidence, `n = ${n}`).toMatchObject({ low: sorted[k - 1], high: sorted[n - k] });
        expect(n).toBeGreaterThanOrEqual(fewestLoadsForMedianBound(95));
      }
    }
    // The same order statistic at other confidences: 1 - 2^-n reaches 99 % from 7 loads, 90 % from 4.
    expect(fewestLoadsForMedianBound(99)).toBe(7);
    expect(fewestLoadsForMedianBound(90)).toBe(4);
    expect(medianEvidence([3, 1, 2, 4], 90)).toMatchObject({ low: 1, high: 4 });
  });

  it("has a shift interval from exactly as many loads of each page as the probe's Hodges-Lehmann", () => {
    const fewest = fewestLoadsForShiftInterval();
    for (let n = 1; n <= 12; n += 1) {
      const old = Array.from({ length: n }, (_, index) => 1000 + index * 7);
      const fresh = Array.from({ length: n }, (_, index) => 1100 + index * 11);
      const { low, high } = shiftEstimate(old, fresh);
      if (n < fewest) expect({ n, low, high }).toEqual({ n, low: null, high: null });
      else {
        expect(typeof low, `low at n = ${n}`).toBe('number');
        expect(typeof high, `high at n = ${n}`).toBe('number');
      }
    }
  });

  it('names the samples that would decide a success rate under a "<" limit, and a mean', () => {
    for (const [successes, loads] of [
      [0, 1],
      [1, 3],
      [3, 4],
      [2, 6],
    ] as const) {
      const evidence = rateEvidence(successes, loads, 95, 'loads');
      const share = successes / loads;
      const needed = samplesToDecide(evidence, share * 100, 50) as number;
      const decides = (n: number) => {
        const { low, high } = rateEvidence(share * n, n, 95, 'loads');
        return (high as number) < 50 || (low as number) >= 50;
      };
      expect(decides(needed), `${successes} of ${loads}`).toBe(true);
      expect(decides(needed - 1), `${successes} of ${loads}`).toBe(false);
    }
    expect(samplesToDecide(rateEvidence(0, 1, 95, 'loads'), 0, 50)).toBe(5);

    for (const [mean, sd, n, limit] of [
      [3200, 900, 10, 3000],
      [2800, 2500, 5, 3000],
      [5500, 4000, 30, 5000],
    ] as const) {
      const needed = samplesToDecide(meanEvidence(mean, sd, n, 95, 'requests'), mean, limit) as number;
      const decides = (m: number) => {
        const { low, high } = meanEvidence(mean, sd, m, 95, 'requests');
        return (low as number) > limit || (high as number) <= limit;
      };
      expect(decides(needed), `mean ${mean} against ${limit}`).toBe(true);
      expect(decides(needed - 1), `mean ${mean} against ${limit}`).toBe(false);
    }
  });
});
