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
