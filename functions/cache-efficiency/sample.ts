import { randomBytes } from 'node:crypto';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/*
 * A consistent sample of a large cache table: a fixed slice of its key range, the same every run.
 *
 * The key is user_id, a UUID. A slice [pivot, pivot + fraction of the key space) is read through
 * the primary key's btree (a range scan, never a full scan) and, run after run, holds the same
 * entries, plus every new entry whose key falls in it, so the hits and misses counted inside it
 * are exact counter deltas. It is a fair sample only because random keys (version 4 UUIDs, or the
 * name hashes of versions 3 and 5) say nothing of an entry's age or hotness: each entry is in the
 * slice with probability `fraction`, independently of how it is used. Time-ordered keys (versions
 * 1, 6, 7, or any other type) would make the slice a sample by age, so such a table is measured
 * whole (measure.ts checks).
 *
 * The estimate is the ratio estimator of cluster sampling: entries are the sampled units, the
 * lookups of one entry a cluster. For entry i of the slice, h_i hits and l_i lookups in the window:
 *   R = sum h / sum l,  z_i = h_i - R l_i,  SE(R) = sqrt((1 - f) n / (n - 1) sum z_i^2) / sum l
 * (f the slice's share of the key space, n its entries). The interval is R +- t SE, t Student's
 * 97.5 % quantile at Satterthwaite's effective degrees of freedom of the spread,
 *   df = (sum z_i^2)^2 / sum z_i^4  (at most n - 1),
 * the number of entries that carry it: thousands of like entries give the normal 1.96; a few hot
 * users whose z_i dominate give few, and a spread estimated from few units is itself uncertain
 * (simulated log-normal activity of sigma 2: median df about 50, a tenth under 7). sum z_i^4
 * expands into sums of h^4, h^3 l, h^2 l^2, h l^3 and l^4, which the comparison adds as plain
 * aggregates. It is never taken narrower than a binomial interval on the slice's lookups
 * (Agresti-Coull, with the same 1 - f, the normal quantile): a slice whose lookups all hit has no
 * spread between entries, but it has not shown a 100 % cache.
 *
 * What no interval from the slice alone can mend: a table whose few hottest users carry a
 * noticeable share of all lookups. A slice without them (most slices) is biased toward the other
 * users' ratio, and its spread does not show what it has not seen; the coverage then depends on the
 * table (docs/benchmarks.md: 83-99 % per simulated table at sigma 2, 96 % pooled).
 */

const keySpace = 1n << 128n;
/** Two-sided 95 %: each side a one-sided 97.5 % bound. */
export const sampleConfidencePercent = 95;
export const z95 = 1.959964;

/** A slice of the key space: from `pivot`, `fraction` of all keys (1: the whole table). */
export interface KeySlice {
  pivot: string;
  fraction: number;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidToBigInt(uuid: string): bigint {
  if (!uuidPattern.test(uuid)) throw new Error(`not a UUID: ${uuid}`);
  return BigInt(`0x${uuid.replace(/-/g, '')}`);
}

function bigIntToUuid(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A pivot anywhere in the key space, chosen once per table and kept. */
export function randomPivot(): string {
  return bigIntToUuid(BigInt(`0x${randomBytes(16).toString('hex')}`));
}

/** The slice's width in keys: the fraction at 2^-53 resolution. */
function widthOf(fraction: number): bigint {
  return (BigInt(Math.round(fraction * 2 ** 53)) * keySpace) / 2n ** 53n;
}

/**
 * The SQL condition that keeps the slice's keys, as a range the btree answers: literals only,
 * built from validated UUIDs. A slice past the end of the key space wraps to its start.
 */
export function sliceCondition(column: string, slice: KeySlice | null): string {
  if (slice === null || slice.fraction >= 1) return 'true';
  const from = uuidToBigInt(slice.pivot);
  const end = from + widthOf(slice.fraction);
  const lower = `${column} >= '${bigIntToUuid(from)}'::uuid`;
  if (end === keySpace) return lower;
  if (end < keySpace) return `(${lower} AND ${column} < '${bigIntToUuid(end)}'::uuid)`;
  return `(${lower} OR ${column} < '${bigIntToUuid(end - keySpace)}'::uuid)`;
}

/**
 * What a run compares and reads, from the previous snapshot's slice and this run's (null: the whole
 * table). `overlap`: the keys the window counts, which both snapshots hold, so a slice that grew or
 * shrank still gives exact deltas; `previousWider`: the previous snapshot holds keys outside them,
 * and its entries inside are counted apart; `read`: the slice the run reads. A slice that grew is
 * compared over the earlier, smaller one. A slice that shrank is compared over the smaller one
 * when the previous snapshot can be cut to it (`previousCut`: it holds whole keys); a packed one
 * (keys' hashes only) cannot, so that run reads and compares the previous, larger slice and
 * keeps only the smaller one. 'moved': two slices from different pivots share nothing to compare.
 */
export function compareScope(
  previous: KeySlice | null,
  current: KeySlice | null,
  options: { previousCut: boolean },
): { overlap: KeySlice | null; previousWider: boolean; read: KeySlice | null } | 'moved' {
  if (previous === null) return { overlap: current, previousWider: current !== null, read: current };
  if (current === null) return { overlap: previous, previousWider: false, read: null };
  if (previous.pivot !== current.pivot) return 'moved';
  if (previous.fraction <= current.fraction) return { overlap: previous, previousWider: false, read: current };
  return options.previousCut
    ? { overlap: current, previousWider: true, read: current }
    : { overlap: previous, previousWider: false, read: previous };
}

/** UUID versions whose keys are random: 4 (random), 3 and 5 (name hashes). */
export const randomKeyVersions = [3, 4, 5];

/** A UUID column's version, in SQL: the high nibble of its seventh byte (cheaper than its text). */
export const keyVersion = (column: string) => `(get_byte(uuid_send(${column}), 6) >> 4)`;

/** The SQL condition that a key is not a random UUID. */
export const notRandomKey = (column: string) => `${keyVersion(column)} NOT IN (${randomKeyVersions.join(', ')})`;

/**
 * Per-entry sums of one window inside the slice, from the snapshot comparison: enough to expand
 * sum z_i^2 and sum z_i^4 (z_i = h_i - R l_i) once R is known, in one pass over the entries.
 */
export interface SliceSums {
  /** Entries of the slice now (each a sampled unit, with or without lookups). */
  entries: number;
  hits: number;
  misses: number;
  hitsSquared: number;
  lookupsSquared: number;
  hitsTimesLookups: number;
  /** sum h^4, h^3 l, h^2 l^2, h l^3, l^4: the fourth powers of z_i, for the interval's degrees of freedom. */
  hitsFourth: number;
  hitsCubedTimesLookups: number;
  hitsSquaredTimesLookupsSquared: number;
  hitsTimesLookupsCubed: number;
  lookupsFourth: number;
}

export interface SliceEstimate {
  /** The slice's share of the key space the window counted: its expected share of the entries. */
  fraction: number;
  pivot: string;
  entries: number;
  lookups: number;
  /** Entries of the whole table, estimated: entries / fraction. */
  tableEntriesEstimate: number;
  confidencePercent: number;
  /** Of the hit ratio, in percentage points; the cache failure rate (1 - hit ratio here) has the same. */
  standardErrorPoints: number;
  /** Of the Student t quantile the half width is taken with; null: the normal one (the binomial floor, or too many to matter). */
  degreesOfFreedom: number | null;
  halfWidthPoints: number;
  hitRatio: { low: number; high: number };
  failureRate: { low: number; high: number };
}

const clampPercent = (value: number) => Math.min(100, Math.max(0, value));
const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

/** Past this many degrees of freedom the t quantile is the normal one to 4 digits. */
const normalFrom = 100_000;

/** The two-sided 95 % quantile: Student's t with `degreesOfFreedom`, the normal one when null. */
export function quantile95(degreesOfFreedom: number | null): number {
  return degreesOfFreedom === null ? z95 : tQuantile(0.975, degreesOfFreedom);
}

/**
 * The effective degrees of freedom of sum z_i^2 (Satterthwaite): (sum z_i^2)^2 / sum z_i^4, the
 * number of entries that carry the spread. Many entries of like weight: many; a few hot entries
 * whose z_i dominate: few, and the spread itself is then as uncertain as a variance from few units.
 * Null when there are too many to matter, or no spread at all.
 */
export function effectiveDegreesOfFreedom(sums: SliceSums): number | null {
  const lookups = sums.hits + sums.misses;
  if (lookups <= 0) return null;
  const ratio = sums.hits / lookups;
  const squares = sums.hitsSquared - 2 * ratio * sums.hitsTimesLookups + ratio * ratio * sums.lookupsSquared;
  // Raw moments expanded about R: the cancellation loses digits only when every z_i is tiny beside
  // its l_i, and then the binomial floor sets the interval.
  const fourths =
    sums.hitsFourth -
    4 * ratio * sums.hitsCubedTimesLookups +
    6 * ratio ** 2 * sums.hitsSquaredTimesLookupsSquared -
    4 * ratio ** 3 * sums.hitsTimesLookupsCubed +
    ratio ** 4 * sums.lookupsFourth;
  if (!(squares > 0) || !(fourths > 0)) return null;
  // Never more than the entries can give (n - 1), never under one.
  const degrees = Math.max(1, Math.min((squares * squares) / fourths, sums.entries - 1));
  return degrees >= normalFrom ? null : degrees;
}

/**
 * What the window says of any slice's precision: a slice of share g would have a hit ratio whose
 * variance is (1 - g) / g * `variance` (ratio units), the spread between entries estimated from the
 * counted ones (a whole table's, when fraction is 1), and whose 95 % half width is `quantile`
 * times its square root. The spread's interval takes the t quantile of its effective degrees of
 * freedom; the binomial floor the normal one; whichever is wider is the interval. Undefined without
 * lookups.
 */
export interface SliceDesign {
  variance: number;
  degreesOfFreedom: number | null;
  quantile: number;
}

export function sliceDesign(sums: SliceSums, fraction: number): SliceDesign | undefined {
  const lookups = sums.hits + sums.misses;
  const n = sums.entries;
  if (lookups <= 0 || n <= 0) return undefined;
  const ratio = sums.hits / lookups;
  const spread = Math.max(0, sums.hitsSquared - 2 * ratio * sums.hitsTimesLookups + ratio * ratio * sums.lookupsSquared);
  const adjusted = (sums.hits + 2) / (lookups + 4);
  const binomial = (fraction * adjusted * (1 - adjusted)) / (lookups + 4);
  if (n <= 1) return { variance: Number.POSITIVE_INFINITY, degreesOfFreedom: null, quantile: z95 };
  const cluster = (fraction * n * spread) / ((n - 1) * lookups * lookups);
  const degreesOfFreedom = effectiveDegreesOfFreedom(sums);
  const quantile = quantile95(degreesOfFreedom);
  return quantile * quantile * cluster >= z95 * z95 * binomial
    ? { variance: cluster, degreesOfFreedom, quantile }
    : { variance: binomial, degreesOfFreedom: null, quantile: z95 };
}

/** The 95 % interval of the hit ratio and the cache failure rate from the slice's sums; undefined without lookups. */
export function sliceEstimate(sums: SliceSums, slice: KeySlice): SliceEstimate | undefined {
  const design = sliceDesign(sums, slice.fraction);
  if (design === undefined) return undefined;
  const fraction = Math.min(1, slice.fraction);
  const lookups = sums.hits + sums.misses;
  const standardError = Math.sqrt(((1 - fraction) / fraction) * design.variance) * 100;
  const halfWidth = design.quantile * standardError;
  const hitPercent = (sums.hits / lookups) * 100;
  const hitRatio = { low: round4(clampPercent(hitPercent - halfWidth)), high: round4(clampPercent(hitPercent + halfWidth)) };
  return {
    fraction,
    pivot: slice.pivot,
    entries: sums.entries,
    lookups,
    tableEntriesEstimate: Math.round(sums.entries / fraction),
    confidencePercent: sampleConfidencePercent,
    standardErrorPoints: standardError,
    degreesOfFreedom: design.degreesOfFreedom,
    halfWidthPoints: Number.isFinite(halfWidth) ? round4(halfWidth) : Number.POSITIVE_INFINITY,
    hitRatio,
    failureRate: { low: round4(100 - hitRatio.high), high: round4(100 - hitRatio.low) },
  };
}

/** The slice of a table first sampled: 2 % of its entries, at least 10,000 of them. */
const firstShare = 0.02;
const fewestEntries = 10_000;
/** Per run the slice grows at most 4-fold (one quiet window does not take the whole table) and at least by a quarter. */
const largestGrowth = 4;
const smallestGrowth = 1.25;
/** Aim under the target: the next window's interval will not be exactly this one's. */
const aimShare = 0.9;
/** Shrink only when the interval is under this share of the target, so the slice does not flap. */
const shrinkBelow = 0.6;
/** A slice past this share of the keys saves too little to be worth an interval: the table is measured whole. */
const wholeFrom = 0.8;

export function firstSliceFraction(tableEntries: number): number {
  return Math.min(1, Math.max(firstShare, fewestEntries / Math.max(1, tableEntries)));
}

/**
 * The share whose interval would be `halfWidthPoints` wide if this window's spread held, on a
 * slice of share `fraction` now. The degrees of freedom grow with the entries, so with the share:
 * the quantile is that of the share aimed at (a few steps to its fixed point; the quantile falls as
 * the share grows, so the steps close in on it from both sides).
 */
export function neededFraction(design: SliceDesign, halfWidthPoints: number, fraction: number): number {
  const shareFor = (quantile: number) => {
    const target = halfWidthPoints / 100 / quantile;
    return design.variance / (design.variance + target * target);
  };
  let share = shareFor(design.quantile);
  if (design.degreesOfFreedom === null) return share;
  for (let step = 0; step < 4; step += 1) {
    const degrees = Math.max(1, (design.degreesOfFreedom * share) / Math.min(1, fraction));
    share = shareFor(quantile95(degrees >= normalFrom ? null : degrees));
  }
  return share;
}

/**
 * The slice of the next run, from this window: grown toward the share that would bring the
 * interval under the target (or the whole table); shrunk when it is far narrower than needed (a
 * busy hour after a quiet night, or a table measured whole whose spread a slice would do with);
 * otherwise the slice the snapshot holds now is kept, so it stays the same run after run. The
 * window may have counted another share than the snapshot holds (a slice that grew is counted over
 * the earlier, smaller one; one that shrank, over the earlier, larger one): a window that meets
 * the width keeps what is held, and a slice already wider than the window's is not taken back on
 * its word while it is too wide.
 */
export function nextSliceFraction(input: {
  /** The share this window counted (1: the whole table). */
  fraction: number;
  /** The share the run's snapshot holds, for the next run to compare with (default: `fraction`). */
  held?: number;
  /** sliceDesign of this window; null when it had no lookups to estimate from. */
  design: SliceDesign | null;
  /** The window had too few lookups in the slice for a ratio. */
  tooFewLookups: boolean;
  targetHalfWidthPoints: number;
  tableEntries: number;
}): number {
  const { fraction, design, targetHalfWidthPoints } = input;
  const held = input.held ?? fraction;
  const smallest = Math.min(1, fewestEntries / Math.max(1, input.tableEntries));
  let next = held;
  if (design === null) {
    if (input.tooFewLookups) next = Math.max(held, fraction * largestGrowth);
  } else {
    const halfWidth = fraction >= 1 ? 0 : design.quantile * Math.sqrt(((1 - fraction) / fraction) * design.variance) * 100;
    const needed = neededFraction(design, targetHalfWidthPoints * aimShare, fraction);
    if (halfWidth > targetHalfWidthPoints) {
      next = Math.max(held, Math.min(fraction * largestGrowth, Math.max(needed, fraction * smallestGrowth)));
    } else if (halfWidth < targetHalfWidthPoints * shrinkBelow) {
      next = Math.max(smallest, Math.min(held, needed));
    }
  }
  return next >= wholeFrom ? 1 : next;
}
