import { describe, expect, it } from 'vitest';
import { median, minimumSamples, percentile, reductionPercent } from '../../functions/probe/stats';

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
