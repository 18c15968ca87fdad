import { describe, expect, it } from 'vitest';
import { median, minimumSamples, percentile, reductionPercent, shiftEstimate } from '../../lib/stats';
import { seededRandom } from '../../local/seeded-random';

describe('probe stats', () => {
  it('needs 2 samples for p50, 20 for p95, 100 for p99', () => {
    expect([50, 95, 99].map(minimumSamples)).toEqual([2, 20, 100]);
  });

  it('reports a percentile with its n, from a measured value (nearest rank)', () => {
    const values = Array.from({ length: 20 }, (_, index) => index + 1);
    expect(percentile(values, 95)).toEqual({ value: 19, n: 20 });
    expect(percentile(values, 50)).toEqual({ value: 10, n: 20 });
  });

  it('refuses a percentile the samples cannot support, saying why', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toEqual({
      value: null,
      n: 10,
      reason: 'p99 needs at least 100 samples, 10 succeeded',
    });
    expect(percentile([], 50)).toMatchObject({ value: null, n: 0 });
  });

  it('computes medians and reductions', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(reductionPercent(1, 8)).toBe(87.5);
    expect(reductionPercent(800, 4000)).toBe(80);
    expect(reductionPercent(null, 4000)).toBeNull();
  });
});

describe('the difference of the new page from the old (Hodges-Lehmann, 95 % interval)', () => {
  const seeded = seededRandom;
  const draws = (random: () => number, n: number, center: number, spread: number) =>
    Array.from({ length: n }, () => center + (random() - 0.5) * 2 * spread);

  it('calls a clearly faster page faster, with an interval around the true shift', () => {
    const random = seeded(7);
    const result = shiftEstimate(draws(random, 20, 45, 5), draws(random, 20, 15, 5));
    expect(result).toMatchObject({ verdict: 'faster', nOld: 20, nNew: 20, confidencePercent: 95 });
    expect(result.low).toBeLessThan(-30 + 5);
    expect(result.high).toBeGreaterThan(-30 - 5);
    expect(result.high).toBeLessThan(0);
    expect(result.estimateMs).toBeCloseTo(-30, -1);
  });

  it('calls a slower page slower, and the same page not distinguishable', () => {
    const random = seeded(11);
    expect(shiftEstimate(draws(random, 20, 15, 5), draws(random, 20, 45, 5)).verdict).toBe('slower');
    const same = draws(random, 20, 30, 10);
    expect(shiftEstimate(same, same)).toMatchObject({ verdict: 'not_distinguishable', estimateMs: 0 });
  });

  it('is wrong about equal pages about 5 % of the time, as a 95 % interval should be', () => {
    const random = seeded(2026);
    let distinguished = 0;
    const trials = 2000;
    for (let trial = 0; trial < trials; trial += 1) {
      if (shiftEstimate(draws(random, 20, 30, 10), draws(random, 20, 30, 10)).verdict !== 'not_distinguishable')
        distinguished += 1;
    }
    expect(distinguished / trials).toBeGreaterThan(0.025);
    expect(distinguished / trials).toBeLessThan(0.075);
  });

  it('says when there are too few loads for an interval, or none', () => {
    expect(shiftEstimate([40, 42], [15, 16])).toMatchObject({
      verdict: 'not_distinguishable',
      low: null,
      reason: '2 old and 2 new loads are too few for a 95 % interval',
    });
    expect(shiftEstimate([], [15])).toMatchObject({ verdict: 'not_distinguishable', estimateMs: null });
  });
});
