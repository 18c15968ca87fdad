import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/*
 * What a measured signal can show, not only what it reads. Each evidence carries two one-sided
 * bounds at a stated confidence: the true value is above `low` (and, apart, below `high`) with that
 * confidence. A bound of null means the data put no limit on that side. The matrix breaches a level
 * only when a bound is past the level's threshold, and passes only when the other bound is inside.
 *
 * Rates use the exact Clopper-Pearson bound (never narrower than the data carry, unlike Wilson's at
 * small n); means Student's t; a probe's shift the Hodges-Lehmann interval the probe computes; a
 * median alone its order statistics (distribution-free). A census (every user counted) is exact.
 */

export type EvidenceKind = 'rate' | 'mean' | 'shift' | 'median' | 'census';

export interface Evidence {
  kind: EvidenceKind;
  /** In words, for the answer: "Clopper-Pearson exact binomial bound". */
  method: string;
  /** What the bounds stand on: n, and what n counts ("requests", "lookups", "loads", "minutes"). */
  n: number;
  counted?: string;
  /** For a rate: the events counted among n (errors, failures, successes). */
  events?: number;
  /** For a mean: the sample standard deviation. For a shift or median: half the interval's width. */
  spread?: number;
  /**
   * For a mean whose spread is estimated with fewer degrees of freedom than n - 1 (a cluster
   * sample's, where a few hot units carry it): Student's t takes these. Absent: n - 1.
   */
  degreesOfFreedom?: number;
  /** Each bound is one-sided at this confidence. */
  confidencePercent: number;
  low: number | null;
  high: number | null;
}

const methods: Record<EvidenceKind, string> = {
  rate: 'Clopper-Pearson exact binomial bound',
  mean: "Student's t bound on the mean",
  shift: "Hodges-Lehmann interval of the shift (the probe's, each side one-sided)",
  median: 'order-statistic bound on the median (distribution-free)',
  census: 'a census: every case counted, exact',
};

const alphaOf = (confidencePercent: number) => (100 - confidencePercent) / 100;

/** Bounds of a rate, in percent, from `events` of `trials`; real-valued events are allowed (for projections). */
function rateBounds(events: number, trials: number, confidencePercent: number): { low: number; high: number } {
  const alpha = alphaOf(confidencePercent);
  const low = events <= 0 ? 0 : betaQuantile(alpha, events, trials - events + 1) * 100;
  const high = events >= trials ? 100 : betaQuantile(1 - alpha, events + 1, trials - events) * 100;
  return { low, high };
}

export function rateEvidence(events: number, trials: number, confidencePercent: number, counted: string): Evidence {
  const bounds = rateBounds(events, trials, confidencePercent);
  return { kind: 'rate', method: methods.rate, n: trials, counted, events, confidencePercent, ...bounds };
}

/** Student's t degrees of freedom of a mean's evidence at `n` samples: its own share of them when it states fewer than n - 1. */
function meanDegreesOfFreedom(evidence: Pick<Evidence, 'n' | 'degreesOfFreedom'>, n: number): number {
  if (evidence.degreesOfFreedom === undefined) return n - 1;
  return Math.min(n - 1, Math.max(1, (evidence.degreesOfFreedom * n) / evidence.n));
}

export function meanEvidence(
  mean: number,
  sd: number | null,
  n: number,
  confidencePercent: number,
  counted: string,
  /** The spread's effective degrees of freedom, when fewer than n - 1 (at least 1). */
  degreesOfFreedom?: number,
): Evidence {
  const base = {
    kind: 'mean' as const,
    method: methods.mean,
    n,
    counted,
    confidencePercent,
    ...(degreesOfFreedom !== undefined ? { degreesOfFreedom: Math.min(Math.max(1, degreesOfFreedom), Math.max(1, n - 1)) } : {}),
  };
  if (sd === null || !Number.isFinite(sd)) return { ...base, low: null, high: null };
  // One sample has no bound, but a spread the source gives still says how many would decide it.
  if (n < 2) return { ...base, spread: sd, low: null, high: null };
  const half = (tQuantile(1 - alphaOf(confidencePercent), meanDegreesOfFreedom(base, n)) * sd) / Math.sqrt(n);
  return { ...base, spread: sd, low: mean - half, high: mean + half };
}

/** The probe's Hodges-Lehmann interval (two-sided 95 %): each side is a one-sided 97.5 % bound. */
export function shiftEvidence(low: number | null, high: number | null, n: number, twoSidedPercent: number): Evidence {
  return {
    kind: 'shift',
    method: methods.shift,
    n,
    counted: 'loads of each page',
    confidencePercent: 100 - (100 - twoSidedPercent) / 2,
    low,
    high,
    ...(low !== null && high !== null ? { spread: (high - low) / 2 } : {}),
  };
}

/** log P(Bin(n, 1/2) >= k), summed from the top; n is a probe's loads (a few hundred at most). */
function halfBinomialUpperTail(n: number, k: number): number {
  let logTerm = -n * Math.LN2; // P(X = n)
  let total = 0;
  for (let x = n; x >= k; x -= 1) {
    total += Math.exp(logTerm);
    logTerm += Math.log(x / (n - x + 1)); // P(X = x - 1) from P(X = x)
  }
  return total;
}

/**
 * Distribution-free bounds of the median: the k-th smallest value is below the median with
 * probability P(Bin(n, 1/2) >= k); the largest k that keeps it at the confidence is the bound.
 */
export function medianEvidence(values: number[], confidencePercent: number): Evidence {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  const confidence = confidencePercent / 100;
  let k = 0;
  while (k + 1 <= n && halfBinomialUpperTail(n, k + 1) >= confidence) k += 1;
  const low = k >= 1 ? (sorted[k - 1] as number) : null;
  const high = k >= 1 ? (sorted[n - k] as number) : null;
  return {
    kind: 'median',
    method: methods.median,
    n,
    counted: 'loads',
    confidencePercent,
    low,
    high,
    ...(low !== null && high !== null ? { spread: (high - low) / 2 } : {}),
  };
}

/** The fewest loads whose extremes bound the median at this confidence (5 at 95 %: 1 - 2^-5 >= 0.95). */
export function fewestLoadsForMedianBound(confidencePercent: number): number {
  return Math.ceil(Math.log2(1 / alphaOf(confidencePercent)) - 1e-9);
}

/**
 * The fewest loads of each page for which the probe's 95 % Hodges-Lehmann interval exists (its
 * C = mn/2 - 1.96 sqrt(mn(m+n+1)/12), rounded, must reach 1): 4 of each.
 */
export function fewestLoadsForShiftInterval(): number {
  let n = 1;
  while (Math.round((n * n) / 2 - 1.959964 * Math.sqrt((n * n * (2 * n + 1)) / 12)) < 1) n += 1;
  return n;
}

export function censusEvidence(value: number, n: number, counted: string): Evidence {
  return { kind: 'census', method: methods.census, n, counted, confidencePercent: 100, low: value, high: value };
}

/** The same evidence in another unit: a shift in ms as percent of a baseline, say. */
export function scaleEvidence(evidence: Evidence, map: (value: number) => number, spreadFactor: number): Evidence {
  return {
    ...evidence,
    low: evidence.low === null ? null : map(evidence.low),
    high: evidence.high === null ? null : map(evidence.high),
    ...(evidence.spread !== undefined ? { spread: evidence.spread * spreadFactor } : {}),
  };
}

const limitOfSearch = 1e9;

/** The smallest n in (from, limitOfSearch] for which `decides(n)` holds, when it is monotone; null if none. */
function smallestDeciding(from: number, decides: (n: number) => boolean): number | null {
  let high = Math.max(2, from * 2);
  while (!decides(high)) {
    if (high >= limitOfSearch) return null;
    high = Math.min(limitOfSearch, high * 2);
  }
  let low = from;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (decides(middle)) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * How many samples (requests, lookups, loads) it would take for the bounds to fall on one side of
 * `limit`, if what was seen held: the answer to "not shown yet: what would show it?". Null when
 * nothing would (the estimate sits on the limit, or the evidence has no estimate to project).
 */
export function samplesToDecide(evidence: Evidence, estimate: number, limit: number): number | null {
  if (estimate === limit) return null;
  switch (evidence.kind) {
    case 'rate': {
      const share = (evidence.events ?? 0) / evidence.n;
      return smallestDeciding(evidence.n, (n) => {
        const { low, high } = rateBounds(share * n, n, evidence.confidencePercent);
        return low > limit || high <= limit;
      });
    }
    case 'mean': {
      const sd = evidence.spread;
      if (sd === undefined) return null;
      const gap = Math.abs(estimate - limit);
      return smallestDeciding(
        Math.max(2, evidence.n),
        (n) => (tQuantile(evidence.confidencePercent / 100, meanDegreesOfFreedom(evidence, n)) * sd) / Math.sqrt(n) < gap,
      );
    }
    case 'median':
    case 'shift': {
      if (evidence.spread === undefined)
        return evidence.kind === 'median' ? fewestLoadsForMedianBound(evidence.confidencePercent) : fewestLoadsForShiftInterval();
      // An interval's half width shrinks as 1 / sqrt(n): about this many loads would put it clear.
      return Math.ceil(evidence.n * (evidence.spread / Math.abs(estimate - limit)) ** 2) + 1;
    }
    case 'census':
      return null;
  }
}
