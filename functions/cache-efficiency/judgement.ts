import type { CacheConfig } from './config';
import { type KeySlice, nextSliceFraction, sliceDesign } from './sample';
import type { SlicePlan } from './slice-plan';
import type { SnapshotComparison } from './table-delta';
import {
  type CacheWindow,
  type CounterReading,
  counterReset,
  counterWindow,
  hiddenCounterReset,
  noDataWindow,
  tableRestart,
  tableWindow,
  warmingWindow,
} from './window';

/*
 * What a run's readings mean, as plain functions of plain data: the windows, the warm-up after a
 * restart of the cache, the census check and the slice of the next run. measure.ts reads and stores.
 */

/** The row of vigil.cache_source_state a run starts from. */
export interface SourceState {
  snapshot_taken_at: Date | null;
  snapshot_rows: string | null;
  counters: { hits: number; misses: number; errors: number; startedAt: string | null } | null;
  counters_taken_at: Date | null;
  warming_until: Date | null;
  warming_reason: string | null;
  sample_pivot: string | null;
  snapshot_fraction: number | null;
  next_fraction: number | null;
  sample_refusal: string | null;
  census_taken_at: Date | null;
  census_rows: string | null;
  last_census_at: Date | null;
}

/** The whole table counted over the same window as the slice, and whether the slice's interval held it. */
export interface CensusCheck {
  windowStart: Date | null;
  windowEnd: Date;
  census: CacheWindow;
  /** The slice's 95 % interval of the hit ratio contains the census's; null when either has no ratio. */
  withinInterval: boolean | null;
}

/** A restart of the cache seen by a run: each starts a warm-up. */
export interface Restart {
  at: Date;
  why: string;
}

/** The warm-up in force after a run: until when, and why; both null when none ever started. */
export interface WarmUp {
  until: Date | null;
  reason: string | null;
}

/** How the run's snapshot compares with the stored one, as measure.ts found it. */
export interface Comparison {
  delta: SnapshotComparison;
  /** The slice moved to another pivot: nothing to compare with. */
  moved: boolean;
  /** The keys both snapshots hold; null when moved. */
  overlap: KeySlice | null;
  snapshotLost?: string;
}

/** Whether a census of a sampled table is due: CACHE_CENSUS_EVERY_HOURS after the last one began. */
export function censusDue(everyHours: number, lastCensusAt: Date | null, now: Date): boolean {
  if (everyHours <= 0) return false;
  return lastCensusAt === null || now.getTime() - lastCensusAt.getTime() >= everyHours * 3_600_000;
}

/**
 * The slice the stored snapshot holds; null: the whole table (every snapshot before sampling
 * existed). 'unknown': a share without its pivot (the state was edited): nothing to compare with.
 */
export function storedSlice(state: SourceState | undefined): KeySlice | null | 'unknown' {
  if (!state || state.snapshot_fraction === null || state.snapshot_fraction >= 1) return null;
  if (!state.sample_pivot) return 'unknown';
  return { pivot: state.sample_pivot, fraction: state.snapshot_fraction };
}

/** The app's counters since the stored reading, or why not; and the restart a reset of them shows. */
export function judgeCounters(
  state: SourceState | undefined,
  reading: CounterReading | { error: string } | undefined,
  now: Date,
  minLookups: number,
): { window?: CacheWindow; counters?: CounterReading; restart?: Restart } {
  if (!reading) return {};
  if ('error' in reading) {
    const base = {
      source: 'counters' as const,
      windowStart: state?.counters_taken_at ?? null,
      windowEnd: now,
      cumulativeHitRatioPercent: null,
      details: {},
    };
    return { window: noDataWindow(base, reading.error) };
  }
  const previous =
    state?.counters && state.counters_taken_at ? { ...state.counters, takenAt: state.counters_taken_at } : undefined;
  const reset = previous ? counterReset(previous, reading) : undefined;
  return {
    window: counterWindow(previous, reading, minLookups),
    counters: reading,
    ...(reset ? { restart: { at: reset.at ?? now, why: reset.why } } : {}),
  };
}

/**
 * The table's window from the snapshots' comparison. Keys that are not random make the slice a
 * sample by age: that window is not an estimate, and the table is counted whole from then on (the refusal).
 */
export function judgeTable(
  state: SourceState | undefined,
  now: Date,
  plan: SlicePlan,
  comparison: Comparison,
  minLookups: number,
): { table: CacheWindow; refusal: string | null } {
  const { delta, overlap, snapshotLost } = comparison;
  const measured = tableWindow(state?.snapshot_taken_at ?? null, now, delta, minLookups, snapshotLost, overlap ?? undefined);
  const refused =
    overlap !== null && delta.nonRandomKeys > 0
      ? `${delta.nonRandomKeys} of the ${delta.currentRows} keys in the slice are not random UUIDs (version 3, 4 or 5)`
      : undefined;
  const judged = refused
    ? noDataWindow(measured, `${refused}: the slice is no fair sample; the table is measured whole from the next run`)
    : measured;
  const whole = plan.wholeBecause ? { ...judged, details: { ...judged.details, wholeTableBecause: plan.wholeBecause } } : judged;
  const table =
    overlap !== null && plan.notes.length > 0 ? { ...whole, details: { ...whole.details, sliceChecks: plan.notes } } : whole;
  return { table, refusal: refused ?? state?.sample_refusal ?? null };
}

/** The warm-up: from the latest restart, one TTL (CACHE_WARMUP_MINUTES); the stored one until a later restart. */
export function warmUpAfter(state: SourceState | undefined, restarts: readonly Restart[], warmupMinutes: number): WarmUp {
  return restarts.reduce<WarmUp>(
    (current, restart) => {
      const until = new Date(restart.at.getTime() + warmupMinutes * 60_000);
      if (warmupMinutes > 0 && (!current.until || until > current.until)) {
        return { until, reason: `${restart.why} at ${restart.at.toISOString()}` };
      }
      return current;
    },
    { until: state?.warming_until ?? null, reason: state?.warming_reason ?? null },
  );
}

/** Every window that overlaps the warm-up is not judged: no_data, warming. */
export function withWarmUp(windows: readonly CacheWindow[], warmUp: WarmUp): CacheWindow[] {
  const { until, reason } = warmUp;
  if (!until || !reason) return [...windows];
  return windows.map((window) =>
    window.windowStart === null || window.windowStart < until ? warmingWindow(window, until, reason) : window,
  );
}

/** The census: the whole table over the same window as the slice, and whether the slice's interval held it. */
export function censusCheck(
  state: SourceState | undefined,
  now: Date,
  whole: SnapshotComparison | undefined,
  windows: readonly CacheWindow[],
  minLookups: number,
): { census: CensusCheck; windows: CacheWindow[] } {
  const sampled = windows.find((window) => window.source === 'table') as CacheWindow;
  const counted = whole
    ? tableWindow(state?.census_taken_at ?? null, now, whole, minLookups, undefined)
    : noDataWindow(
        {
          source: 'table',
          windowStart: state?.census_taken_at ?? null,
          windowEnd: now,
          cumulativeHitRatioPercent: null,
          details: {},
        },
        'the census baseline is gone or empty: an unlogged table is emptied by a server crash',
      );
  const within =
    counted.state === 'ok' && sampled.state === 'ok' && sampled.sample
      ? sampled.sample.hitRatio.low <= counted.hitRatioPercent && counted.hitRatioPercent <= sampled.sample.hitRatio.high
      : null;
  const summary =
    counted.state === 'ok'
      ? {
          entries: counted.details.entries,
          lookups: counted.lookups,
          hits: counted.hits,
          misses: counted.misses,
          hitRatioPercent: counted.hitRatioPercent,
          cacheFailureRatePercent: counted.cacheFailureRatePercent,
          withinInterval: within,
        }
      : { noData: counted.reason };
  return {
    census: { windowStart: counted.windowStart, windowEnd: now, census: counted, withinInterval: within },
    windows: windows.map((window) =>
      window === sampled
        ? { ...window, details: { ...window.details, census: { windowStart: counted.windowStart, ...summary } } }
        : window,
    ),
  };
}

/**
 * The slice of the next run, from this window's spread (sample.ts); `table` is the table window
 * before any warm-up. Kept while the table is counted whole for a reason of the moment (keys of
 * another kind among the newest); null: the whole table.
 */
export function nextFractionOf(
  config: Pick<CacheConfig, 'minLookups' | 'sampleFromEntries' | 'sampleHalfWidthPoints'>,
  state: SourceState | undefined,
  plan: SlicePlan,
  comparison: Comparison,
  table: CacheWindow,
  refusal: string | null,
): number | null {
  if (
    plan.tableEntries === null ||
    plan.wholeBecause ||
    refusal !== null ||
    plan.pivot === null ||
    plan.tableEntries < config.sampleFromEntries
  ) {
    return plan.wholeBecause ? (state?.next_fraction ?? null) : null;
  }
  const { delta, moved, overlap } = comparison;
  const counted = moved ? (plan.slice?.fraction ?? 1) : (overlap?.fraction ?? 1);
  const design = table.state === 'ok' && delta.sums ? (sliceDesign(delta.sums, counted) ?? null) : null;
  const tooFewLookups = table.state === 'no_data' && table.lookups !== null && table.lookups < config.minLookups;
  return nextSliceFraction({
    fraction: counted,
    held: plan.slice?.fraction ?? 1,
    design,
    tooFewLookups,
    targetHalfWidthPoints: config.sampleHalfWidthPoints,
    tableEntries: plan.tableEntries,
  });
}

export interface RunJudgement {
  windows: CacheWindow[];
  counters?: CounterReading;
  warmUp: WarmUp;
  refusal: string | null;
  census?: CensusCheck;
  nextFraction: number | null;
}

/**
 * Everything a run concludes from what it read: the counters' and the table's windows, a counter
 * reset the table shows, the warm-up after any restart, the census check (when one was measured),
 * the slice of the next run.
 */
export function judgeRun(input: {
  config: Pick<CacheConfig, 'minLookups' | 'warmupMinutes' | 'sampleFromEntries' | 'sampleHalfWidthPoints'>;
  state: SourceState | undefined;
  reading: CounterReading | { error: string } | undefined;
  now: Date;
  plan: SlicePlan;
  comparison: Comparison;
  /** Set when the run measured a census: the whole table against its baseline (undefined: the baseline is gone). */
  census?: { whole: SnapshotComparison | undefined };
}): RunJudgement {
  const { config, state, now, plan, comparison } = input;
  const counters = judgeCounters(state, input.reading, now, config.minLookups);
  const { table, refusal } = judgeTable(state, now, plan, comparison, config.minLookups);
  const restartOfTable = comparison.snapshotLost ? undefined : tableRestart(comparison.delta, comparison.delta.previousRows);
  const hidden = counters.window ? hiddenCounterReset(counters.window, table) : undefined;
  const countersWindow = counters.window && hidden ? noDataWindow(counters.window, hidden) : counters.window;
  const restarts: Restart[] = [
    ...(counters.restart ? [counters.restart] : []),
    ...(restartOfTable && state?.snapshot_taken_at ? [{ at: now, why: restartOfTable }] : []),
    ...(counters.window && hidden ? [{ at: now, why: hidden }] : []),
  ];
  const warmUp = warmUpAfter(state, restarts, config.warmupMinutes);
  const windows = withWarmUp([...(countersWindow ? [countersWindow] : []), table], warmUp);
  const checked = input.census ? censusCheck(state, now, input.census.whole, windows, config.minLookups) : undefined;
  return {
    windows: checked?.windows ?? windows,
    ...(counters.counters ? { counters: counters.counters } : {}),
    warmUp,
    refusal,
    ...(checked ? { census: checked.census } : {}),
    nextFraction: nextFractionOf(config, state, plan, comparison, table, refusal),
  };
}
