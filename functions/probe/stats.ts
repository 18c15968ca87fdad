/*
 * Percentiles that say how many samples they stand on, and refuse what the samples cannot carry:
 * a pXX needs at least 1 / (1 - XX/100) samples (p50: 2, p95: 20, p99: 100), else it is not
 * reported, with why. Nearest-rank method, so every reported value is a measured one.
 */

export type Percentile = { value: number; n: number } | { value: null; n: number; reason: string };

export function minimumSamples(percentile: number): number {
  return Math.ceil(1 / (1 - percentile / 100) - 1e-9);
}

export function percentile(values: number[], p: number): Percentile {
  const n = values.length;
  const needed = minimumSamples(p);
  if (n < needed) return { value: null, n, reason: `p${p} needs at least ${needed} samples, ${n} succeeded` };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * n);
  return { value: sorted[Math.max(0, rank - 1)] as number, n };
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** 1 - new/old, in percent; null when either side is missing. */
export function reductionPercent(newValue: number | null, oldValue: number | null): number | null {
  if (newValue === null || oldValue === null || oldValue === 0) return null;
  return Math.round((1 - newValue / oldValue) * 10_000) / 100;
}

export type Verdict = 'faster' | 'slower' | 'not_distinguishable';

export interface ShiftEstimate {
  /** Hodges-Lehmann: the median of every difference new - old, in ms (negative: the new page is faster). */
  estimateMs: number | null;
  /** 95 % interval of the shift, from the Mann-Whitney distribution (normal approximation). */
  low: number | null;
  high: number | null;
  confidencePercent: 95;
  nOld: number;
  nNew: number;
  verdict: Verdict;
  /** Why the verdict is what it is, in words. */
  reason: string;
}

/**
 * The difference between the new and the old page's load times that a statistician would sign:
 * the Hodges-Lehmann shift (robust to a few slow loads, the estimator that goes with the
 * Mann-Whitney test Kayenta judges canaries with) and its 95 % interval. Faster or slower only
 * when the interval excludes 0; otherwise not distinguishable at this n.
 */
export function shiftEstimate(oldValues: number[], newValues: number[]): ShiftEstimate {
  const nOld = oldValues.length;
  const nNew = newValues.length;
  const base = { confidencePercent: 95 as const, nOld, nNew };
  if (nOld === 0 || nNew === 0) {
    return {
      ...base,
      estimateMs: null,
      low: null,
      high: null,
      verdict: 'not_distinguishable',
      reason: `no successful load of the ${nOld === 0 ? 'old' : 'new'} page to compare`,
    };
  }
  const differences: number[] = [];
  for (const n of newValues) for (const o of oldValues) differences.push(n - o);
  differences.sort((a, b) => a - b);
  const estimate = median(differences) as number;
  const pairs = differences.length;
  // Hollander and Wolfe: C = mn/2 - z * sqrt(mn(m+n+1)/12), rounded; the interval is [D(C), D(mn+1-C)] (1-based).
  const c = Math.round(pairs / 2 - 1.959964 * Math.sqrt((pairs * (nOld + nNew + 1)) / 12));
  const rounded = (value: number) => Math.round(value * 1000) / 1000;
  if (c < 1) {
    return {
      ...base,
      estimateMs: rounded(estimate),
      low: null,
      high: null,
      verdict: 'not_distinguishable',
      reason: `${nOld} old and ${nNew} new loads are too few for a 95 % interval`,
    };
  }
  const low = differences[c - 1] as number;
  const high = differences[pairs - c] as number;
  const verdict: Verdict = high < 0 ? 'faster' : low > 0 ? 'slower' : 'not_distinguishable';
  const interval = `${rounded(low)} to ${rounded(high)} ms`;
  return {
    ...base,
    estimateMs: rounded(estimate),
    low: rounded(low),
    high: rounded(high),
    verdict,
    reason:
      verdict === 'not_distinguishable'
        ? `the 95 % interval of the difference (${interval}) includes 0 at n = ${nOld} old, ${nNew} new`
        : `the 95 % interval of the difference (${interval}) excludes 0`,
  };
}
