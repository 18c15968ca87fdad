/*
 * A window's hit ratio from deltas, never from cumulative totals. Lookups = hits + misses + errors
 * (errors where the source records them); hit ratio = hits / lookups; cache failure rate =
 * (misses + errors) / lookups: a lookup that errored did not serve from the cache; error rate =
 * errors / lookups, apart. A window that cannot be trusted reports no_data with the reason instead
 * of a ratio.
 */

import { type KeySlice, type SliceEstimate, type SliceSums, sliceEstimate } from './sample';

export type CacheSource = 'counters' | 'table';

export interface WindowBase {
  source: CacheSource;
  windowStart: Date | null;
  windowEnd: Date;
  /** Cumulative ratio over the source's whole memory, shown beside the window's for contrast. */
  cumulativeHitRatioPercent: number | null;
  details: Record<string, unknown>;
}

export interface MeasuredWindow extends WindowBase {
  state: 'ok';
  lookups: number;
  hits: number;
  misses: number;
  /** null: this source does not record errors. */
  errors: number | null;
  hitRatioPercent: number;
  cacheFailureRatePercent: number;
  errorRatePercent: number | null;
  /**
   * Set when the counts are of a fixed slice of the table's keys (sample.ts): the hit ratio and the
   * failure rate above are then the slice's, estimates of the table's with this 95 % interval.
   * Absent: the whole table was counted, and the ratios are exact.
   */
  sample?: SliceEstimate;
}

export interface NoDataWindow extends WindowBase {
  state: 'no_data';
  reason: string;
  /** What was counted, when anything was, so the reader sees why it is not enough. */
  lookups: number | null;
  hits: number | null;
  misses: number | null;
  errors: number | null;
}

export type CacheWindow = MeasuredWindow | NoDataWindow;

const baseOf = ({ source, windowStart, windowEnd, cumulativeHitRatioPercent, details }: WindowBase): WindowBase => ({
  source,
  windowStart,
  windowEnd,
  cumulativeHitRatioPercent,
  details,
});

/** A window that could not be measured: nothing counted, and why. */
export function noDataWindow(base: WindowBase, reason: string): NoDataWindow {
  return { ...baseOf(base), state: 'no_data', reason, lookups: null, hits: null, misses: null, errors: null };
}

/** A share in words: "5.3 %", "0.25 %". */
export const describeShare = (fraction: number) =>
  `${Number((fraction * 100).toPrecision(fraction >= 0.1 ? 3 : 2)).toString()} %`;

const percent = (part: number, whole: number) => Math.round((part / whole) * 1_000_000) / 10_000;

export function windowFromCounts(
  base: WindowBase,
  counts: { hits: number; misses: number; errors: number | null },
  minLookups: number,
): CacheWindow {
  const lookups = counts.hits + counts.misses + (counts.errors ?? 0);
  if (lookups < minLookups) {
    return {
      ...base,
      state: 'no_data',
      reason: `only ${lookups} lookup(s) in the window; at least ${minLookups} are needed for a ratio (CACHE_MIN_LOOKUPS)`,
      lookups,
      hits: counts.hits,
      misses: counts.misses,
      errors: counts.errors,
    };
  }
  return {
    ...base,
    state: 'ok',
    lookups,
    hits: counts.hits,
    misses: counts.misses,
    errors: counts.errors,
    hitRatioPercent: percent(counts.hits, lookups),
    cacheFailureRatePercent: percent(counts.misses + (counts.errors ?? 0), lookups),
    errorRatePercent: counts.errors === null ? null : percent(counts.errors, lookups),
  };
}

export interface CounterReading {
  hits: number;
  misses: number;
  errors: number;
  /** The app's reset marker (when the counters started), if it exposes one. */
  startedAt: string | null;
  takenAt: Date;
}

/** Whether the counters restarted between two readings, when (if the app says), and how it shows. */
export function counterReset(previous: CounterReading, current: CounterReading): { at: Date | null; why: string } | undefined {
  if (previous.startedAt !== current.startedAt) {
    const at = current.startedAt === null ? null : new Date(current.startedAt);
    return {
      at: at && Number.isFinite(at.getTime()) ? at : null,
      why: `the counters were reset (started_at ${previous.startedAt ?? 'none'} -> ${current.startedAt ?? 'none'})`,
    };
  }
  const negative = (['hits', 'misses', 'errors'] as const).filter((name) => current[name] < previous[name]);
  if (negative.length === 0) return undefined;
  return {
    at: null,
    why: `counter went backwards (${negative.map((name) => `${name} ${current[name] - previous[name]}`).join(', ')}): a reset without a reset marker`,
  };
}

/** The window between two readings of the app's monotonic counters. */
export function counterWindow(previous: CounterReading | undefined, current: CounterReading, minLookups: number): CacheWindow {
  const totalLookups = current.hits + current.misses + current.errors;
  const base: WindowBase = {
    source: 'counters',
    windowStart: previous?.takenAt ?? null,
    windowEnd: current.takenAt,
    cumulativeHitRatioPercent: totalLookups > 0 ? percent(current.hits, totalLookups) : null,
    details: { counters: { hits: current.hits, misses: current.misses, errors: current.errors, startedAt: current.startedAt } },
  };
  const noData = (reason: string) => noDataWindow(base, reason);
  if (!previous) return noData('first reading of the counters: the next run measures the window from here');
  const reset = counterReset(previous, current);
  if (reset) return noData(`${reset.why}; the next run measures from here`);
  const deltas = {
    hits: current.hits - previous.hits,
    misses: current.misses - previous.misses,
    errors: current.errors - previous.errors,
  };
  return windowFromCounts(base, deltas, minLookups);
}

/** Aggregates of the set-based comparison of the cache table with the previous snapshot. */
export interface TableDelta {
  currentRows: number;
  newRows: number;
  deletedRows: number;
  recalculatedRows: number;
  /** Same calculated_at, smaller access_count: the counter was reset. */
  resetRows: number;
  /** calculated_at moved back in time. */
  backdatedRows: number;
  hits: number;
  /** Sum of access_count: hits since each entry's last calculation. */
  hitsSinceCalculation: number;
  /** Per-entry sums of hits and lookups, for the interval of a sampled window. */
  sums?: SliceSums;
}

/** The window between two snapshots of the cache table (source documents' shape alone). */
export function tableWindow(
  snapshotTakenAt: Date | null,
  now: Date,
  delta: TableDelta,
  minLookups: number,
  /** Set when a previous snapshot was expected but is gone or incomplete. */
  snapshotLost?: string,
  /** The slice of the key range both snapshots hold, when the table is sampled; undefined: the whole table. */
  slice?: KeySlice,
): CacheWindow {
  const misses = delta.newRows + delta.recalculatedRows;
  const base: WindowBase = {
    source: 'table',
    windowStart: snapshotTakenAt,
    windowEnd: now,
    cumulativeHitRatioPercent:
      delta.hitsSinceCalculation + delta.currentRows > 0
        ? percent(delta.hitsSinceCalculation, delta.hitsSinceCalculation + delta.currentRows)
        : null,
    details: {
      entries: delta.currentRows,
      newEntries: delta.newRows,
      recalculatedEntries: delta.recalculatedRows,
      deletedEntries: delta.deletedRows,
      resetEntries: delta.resetRows,
      backdatedEntries: delta.backdatedRows,
      ...(delta.deletedRows > 0
        ? {
            deletedNote: `${delta.deletedRows} entr${delta.deletedRows === 1 ? 'y was' : 'ies were'} deleted; hits they took after the previous run are not counted`,
          }
        : {}),
      countingNote:
        'table source: a recalculation counts one miss plus the hits since it; several recalculations of one entry between runs, and hits just before one, are not visible',
      ...(slice && slice.fraction < 1
        ? {
            slice: {
              pivot: slice.pivot,
              share: slice.fraction,
              note: `counts are of a fixed slice of the key range, ${describeShare(slice.fraction)} of the keys, the same every run; the ratios are estimates of the whole table's`,
            },
          }
        : {}),
    },
  };
  const noData = (reason: string) => noDataWindow(base, reason);
  if (snapshotLost) return noData(`${snapshotLost}; a new snapshot was taken, the next run measures the window from here`);
  if (!snapshotTakenAt) return noData('first run on this table: snapshot taken, the next run measures the window from here');
  if (delta.resetRows > 0) {
    return noData(
      `access_count went down without a recalculation for ${delta.resetRows} entr${delta.resetRows === 1 ? 'y' : 'ies'}: counter reset`,
    );
  }
  if (delta.backdatedRows > 0) {
    return noData(
      `calculated_at moved back in time for ${delta.backdatedRows} entr${delta.backdatedRows === 1 ? 'y' : 'ies'}: the table was restored or rewritten`,
    );
  }
  const window = windowFromCounts(base, { hits: delta.hits, misses, errors: null }, minLookups);
  if (!slice || slice.fraction >= 1 || window.state !== 'ok' || !delta.sums) return window;
  const sample = sliceEstimate(delta.sums, slice);
  if (!sample) return window;
  // Stored with the slice: a stored window's half width is its quantile times its standard error.
  const details = {
    ...window.details,
    slice: { ...(window.details.slice as object), degreesOfFreedom: sample.degreesOfFreedom },
  };
  return { ...window, details, sample };
}

/** The counts of a window, when it has them (a measured window, or one with too few lookups). */
const countsOf = (window: CacheWindow) =>
  window.hits === null || window.misses === null ? undefined : { hits: window.hits, misses: window.misses };

/**
 * A counter reset the counters cannot show: without `started_at`, counters that passed their old
 * values again look like a small window. Every hit the cache table shows is a hit the counters
 * must have counted, and every new or recalculated entry a miss, so counter deltas below the
 * table's own (by more than the few lookups between the two readings of a run) prove a reset.
 */
export function hiddenCounterReset(counters: CacheWindow, table: CacheWindow): string | undefined {
  if (counters.source !== 'counters' || table.source !== 'table') return undefined;
  const fromCounters = countsOf(counters);
  const fromTable = countsOf(table);
  if (!fromCounters || !fromTable) return undefined;
  const short = (['hits', 'misses'] as const).filter((name) => {
    const deficit = fromTable[name] - fromCounters[name];
    return deficit > Math.max(2, 0.05 * fromTable[name]);
  });
  if (short.length === 0) return undefined;
  return `the counters were reset without a reset marker: they count ${short
    .map((name) => `${fromCounters[name]} ${name}`)
    .join(
      ' and ',
    )} in the window, the cache table shows at least ${short.map((name) => `${fromTable[name]} ${name}`).join(' and ')}`;
}

/** A window that overlaps the cache's warm-up after a restart: its counts are kept, its ratio is not judged. */
export function warmingWindow(window: CacheWindow, warmingUntil: Date, why: string): CacheWindow {
  const reason = `warming: ${why}; the cache refills until ${warmingUntil.toISOString()} (CACHE_WARMUP_MINUTES), so this window's ratio is not judged`;
  return {
    ...baseOf(window),
    state: 'no_data',
    reason: window.state === 'no_data' ? `${window.reason}; ${reason}` : reason,
    lookups: window.lookups,
    hits: window.hits,
    misses: window.misses,
    errors: window.errors,
    details: { ...window.details, warming: { until: warmingUntil.toISOString(), why } },
  };
}

/** A restart of the cache the table shows: its access counts reset, or most of its entries gone at once. */
export function tableRestart(delta: TableDelta, previousRows: number | null): string | undefined {
  if (delta.resetRows > 0)
    return `access_count went down for ${delta.resetRows} entr${delta.resetRows === 1 ? 'y' : 'ies'} (the app restarted its counts)`;
  if (previousRows && delta.deletedRows * 2 >= previousRows)
    return `the cache was flushed (${delta.deletedRows} of ${previousRows} entries gone since the previous run)`;
  return undefined;
}
