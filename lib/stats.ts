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

/** How many differences x - y (x of `sortedNew`, y of `sortedOld`, both ascending) are at most `limit`. */
function differencesAtMost(sortedNew: number[], sortedOld: number[], limit: number): number {
  let count = 0;
  // For ascending x, the old values with x - y <= limit (y >= x - limit) begin ever later.
  let index = 0;
  for (const x of sortedNew) {
    while (index < sortedOld.length && x - (sortedOld[index] as number) > limit) index += 1;
    count += sortedOld.length - index;
  }
  return count;
}

/** The differences x - y in (low, high], ascending. */
function differencesBetween(sortedNew: number[], sortedOld: number[], low: number, high: number): number[] {
  const found: number[] = [];
  let start = 0;
  let end = 0;
  for (const x of sortedNew) {
    while (start < sortedOld.length && x - (sortedOld[start] as number) > high) start += 1;
    while (end < sortedOld.length && x - (sortedOld[end] as number) > low) end += 1;
    for (let index = start; index < end; index += 1) found.push(x - (sortedOld[index] as number));
  }
  return found.sort((a, b) => a - b);
}

/**
 * The k-th smallest (1-based) of every difference new - old, without listing the m x n of them:
 * bisection on the value, counting the differences below it in one pass, until few enough lie in
 * the interval to list and sort. What shiftEstimate sorts whole, for samples too large for that.
 */
export function kthDifference(sortedNew: number[], sortedOld: number[], k: number): number {
  let low = (sortedNew[0] as number) - (sortedOld[sortedOld.length - 1] as number) - 1;
  let high = (sortedNew[sortedNew.length - 1] as number) - (sortedOld[0] as number);
  let below = 0;
  for (;;) {
    const inside = differencesAtMost(sortedNew, sortedOld, high) - below;
    if (inside <= 4096 || high - low <= 1e-9 * Math.max(1, Math.abs(high))) {
      const listed = inside <= 4096 ? differencesBetween(sortedNew, sortedOld, low, high) : [];
      return listed[k - below - 1] ?? high;
    }
    const middle = low + (high - low) / 2;
    const atMost = differencesAtMost(sortedNew, sortedOld, middle);
    if (atMost >= k) high = middle;
    else {
      low = middle;
      below = atMost;
    }
  }
}

/**
 * shiftEstimate for samples of any size (a week of probe runs: tens of thousands of loads a page):
 * the same Hodges-Lehmann shift and interval, its order statistics selected rather than sorted.
 */
export function shiftEstimateOfMany(oldValues: number[], newValues: number[]): ShiftEstimate {
  const nOld = oldValues.length;
  const nNew = newValues.length;
  if (nOld * nNew <= 250_000) return shiftEstimate(oldValues, newValues);
  const sortedOld = [...oldValues].sort((a, b) => a - b);
  const sortedNew = [...newValues].sort((a, b) => a - b);
  const pairs = nOld * nNew;
  const select = (k: number) => kthDifference(sortedNew, sortedOld, k);
  const estimate = pairs % 2 ? select((pairs + 1) / 2) : (select(pairs / 2) + select(pairs / 2 + 1)) / 2;
  const c = Math.round(pairs / 2 - 1.959964 * Math.sqrt((pairs * (nOld + nNew + 1)) / 12));
  const rounded = (value: number) => Math.round(value * 1000) / 1000;
  const low = select(c);
  const high = select(pairs + 1 - c);
  const verdict: Verdict = high < 0 ? 'faster' : low > 0 ? 'slower' : 'not_distinguishable';
  const interval = `${rounded(low)} to ${rounded(high)} ms`;
  return {
    confidencePercent: 95,
    nOld,
    nNew,
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

export interface QuantileInterval {
  /** The nearest-rank quantile itself. */
  value: number | null;
  n: number;
  /** One-sided bounds at the confidence: the true quantile is above `low` (and, apart, below `high`). */
  low: number | null;
  high: number | null;
  confidencePercent: number;
}

/**
 * Distribution-free bounds of a quantile from its order statistics: the l-th smallest value is at
 * or below the q-quantile with probability P(Bin(n, q) >= l); the bounds are the order statistics
 * that keep that at the confidence. The binomial is summed once, in logs, so n may be large.
 */
export function quantileInterval(values: number[], q: number, confidencePercent: number): QuantileInterval {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  const value = percentile(values, q * 100).value;
  const none = { value, n, low: null, high: null, confidencePercent };
  if (n === 0) return none;
  const logOdds = Math.log(q / (1 - q));
  const logPmf: number[] = [n * Math.log(1 - q)];
  for (let x = 0; x < n; x += 1) logPmf.push((logPmf[x] as number) + Math.log((n - x) / (x + 1)) + logOdds);
  const top = Math.max(...logPmf);
  const pmf = logPmf.map((logP) => Math.exp(logP - top));
  const total = pmf.reduce((sum, p) => sum + p, 0);
  const confidence = confidencePercent / 100;
  // P(Bin >= l) for l = n down to 1: the largest l whose tail still reaches the confidence.
  let tail = 0;
  let lowRank = 0;
  for (let l = n; l >= 1; l -= 1) {
    tail += (pmf[l] as number) / total;
    if (tail >= confidence) {
      lowRank = l;
      break;
    }
  }
  // P(Bin <= u - 1) for u = 1 up: the smallest u whose head reaches the confidence.
  let head = 0;
  let highRank = 0;
  for (let u = 1; u <= n; u += 1) {
    head += (pmf[u - 1] as number) / total;
    if (head >= confidence) {
      highRank = u;
      break;
    }
  }
  return {
    value,
    n,
    low: lowRank >= 1 ? (sorted[lowRank - 1] as number) : null,
    high: highRank >= 1 ? (sorted[highRank - 1] as number) : null,
    confidencePercent,
  };
}
