import { describe, expect, it } from 'vitest';
import { shiftEstimate } from '../../../functions/probe/stats';
import {
  fewestLoadsForMedianBound,
  fewestLoadsForShiftInterval,
  meanEvidence,
  medianEvidence,
  rateEvidence,
  samplesToDecide,
} from '../../../functions/rollback-decision/evidence';
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
});
