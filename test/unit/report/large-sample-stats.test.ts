import { describe, expect, it } from 'vitest';
import { kthDifference, percentile, quantileInterval, shiftEstimate, shiftEstimateOfMany } from '../../../lib/stats';
import { seededRandom } from '../../../local/seeded-random';

const loads = (random: () => number, n: number, base: number, spread: number) =>
  Array.from({ length: n }, () => Math.round((base + random() * spread) * 1000) / 1000);

describe('lib/stats for a week of probe runs', () => {
  it('selects the k-th difference new - old exactly as sorting all of them would, ties included', () => {
    const random = seededRandom(3);
    for (const [m, n] of [
      [7, 9],
      [40, 60],
      [200, 150],
    ] as const) {
      const olds = loads(random, m, 3000, 900).map((value, index) => (index % 5 === 0 ? 3300 : value));
      const news = loads(random, n, 500, 200).map((value, index) => (index % 7 === 0 ? 600 : value));
      const all = news.flatMap((x) => olds.map((y) => x - y)).sort((a, b) => a - b);
      const sortedOld = [...olds].sort((a, b) => a - b);
      const sortedNew = [...news].sort((a, b) => a - b);
      for (const k of [1, 2, Math.floor(all.length / 3), Math.ceil(all.length / 2), all.length - 1, all.length])
        expect(kthDifference(sortedNew, sortedOld, k), `m ${m} n ${n} k ${k}`).toBe(all[k - 1]);
    }
  });

  it("gives the probe's own Hodges-Lehmann shift and interval, to the ms thousandth, for samples too large to sort whole", () => {
    const random = seededRandom(5);
    const olds = loads(random, 700, 3600, 900);
    const news = loads(random, 800, 560, 120);
    const selected = shiftEstimateOfMany(olds, news);
    expect(olds.length * news.length).toBeGreaterThan(250_000);
    expect(selected).toEqual(shiftEstimate(olds, news));
    expect(selected.verdict).toBe('faster');
  });

  it('bounds a quantile by order statistics that hold it at the confidence asked, and refuses what n cannot carry', () => {
    const random = seededRandom(9);
    const values = loads(random, 2000, 500, 200);
    const interval = quantileInterval(values, 0.95, 97.5);
    expect(interval.value).toBe(percentile(values, 95).value);
    expect(interval.low).toBeLessThan(interval.value as number);
    expect(interval.high).toBeGreaterThan(interval.value as number);
    // Coverage: over many draws from a known distribution the true p95 lies above `low` at least 97.5 % of the time.
    let below = 0;
    const trials = 400;
    for (let trial = 0; trial < trials; trial += 1) {
      const sample = Array.from({ length: 60 }, () => random());
      const bound = quantileInterval(sample, 0.95, 97.5);
      if (bound.low !== null && bound.low > 0.95) below += 1;
    }
    expect(below / trials).toBeLessThanOrEqual(0.025 + 0.02);
    // Ten loads cannot bound a p95 from above: the largest of them is below it too often.
    expect(quantileInterval(values.slice(0, 10), 0.95, 95).high).toBeNull();
  });
});
