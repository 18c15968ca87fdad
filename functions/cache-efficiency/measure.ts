import type pg from 'pg';
import { ConfiguredQueryError, runConfiguredQuery } from '../../lib/configured-query';
import { type Database, inTransaction } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import { errorSummary, logger } from '../../lib/logger';
import type { Thresholds } from '../../lib/thresholds';
import { type CacheIssues, frequentRecalculations, pruneRecalculations, scanCacheEntries, scanSlice } from './cache-issues';
import type { CacheConfig } from './config';
import {
  type CensusCheck,
  type Comparison,
  censusDue,
  judgeRun,
  type RunJudgement,
  type SourceState,
  storedSlice,
} from './judgement';
import { type OlapReport, readOlapCache } from './olap';
import { compareScope, type KeySlice, quantile95, type SliceEstimate, sampleConfidencePercent, sliceCondition } from './sample';
import { planSlice, type SlicePlan } from './slice-plan';
import {
  cacheTableColumns,
  compareCensus,
  compareWithPrevious,
  createNextSnapshot,
  deltaOf,
  dropCensusBaseline,
  forgetRecalculationsSince,
  previousRowsIn,
  previousSnapshot,
  promoteNextSnapshot,
  recordRecalculations,
  type StoredSnapshot,
  sliceStatementParts,
  writeCensusBaseline,
  writeNextSnapshot,
} from './table-delta';
import type { CacheWindow, CounterReading } from './window';

export type { CensusCheck } from './judgement';

export interface CacheMeasurement {
  table: string;
  measuredAt: Date;
  /** The source alerts and the rollback decision use: the app's counters when configured, else the table. */
  primarySource: CacheWindow['source'];
  windows: CacheWindow[];
  cache: CacheIssues;
  olap: OlapReport;
  /** Set on the run that completes a census of a sampled table. */
  census?: CensusCheck;
  /** The slice the next run reads (share of the key space); absent: the whole table. */
  nextSliceFraction?: number;
}

/**
 * Reads the app's counters with the configured query, on a connection and in a read-only
 * transaction of its own (lib/configured-query.ts); a broken or refused query is reported, not fatal.
 */
async function readCounters(db: Database, query: string): Promise<CounterReading | { error: string }> {
  try {
    const { rows, readAt } = await runConfiguredQuery<Record<string, unknown>>(db, 'CACHE_COUNTERS_QUERY', query);
    if (rows.length !== 1) return { error: `CACHE_COUNTERS_QUERY: returned ${rows.length} rows; it must return exactly one` };
    const row = rows[0] as Record<string, unknown>;
    const values: Record<string, number> = {};
    for (const column of ['hits', 'misses', 'errors']) {
      const value = Number(row[column]);
      if (row[column] === null || row[column] === undefined || !Number.isFinite(value) || value < 0) {
        return { error: `CACHE_COUNTERS_QUERY: returned no usable ${column} column (got ${String(row[column])})` };
      }
      values[column] = value;
    }
    const startedAt =
      row.started_at instanceof Date
        ? row.started_at.toISOString()
        : row.started_at === undefined || row.started_at === null
          ? null
          : String(row.started_at);
    return {
      hits: values.hits as number,
      misses: values.misses as number,
      errors: values.errors as number,
      startedAt,
      takenAt: readAt,
    };
  } catch (error) {
    logger.error('cache counters query failed', { error: errorSummary(error) });
    return {
      error:
        error instanceof ConfiguredQueryError ? error.message : `CACHE_COUNTERS_QUERY: could not run (${errorMessage(error)})`,
    };
  }
}

async function storeWindows(
  client: pg.ClientBase,
  table: string,
  windows: CacheWindow[],
  primary: CacheWindow['source'],
  retentionDays: number,
) {
  for (const window of windows) {
    const sample = window.state === 'ok' ? window.sample : undefined;
    await client.query(
      `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, no_data_reason, lookups, hits,
                                        misses, errors, hit_ratio, cache_failure_rate, error_rate, cumulative_hit_ratio, details,
                                        sample_fraction, sample_entries, hit_ratio_low, hit_ratio_high, standard_error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
      [
        table,
        window.source,
        window.source === primary,
        window.windowStart,
        window.windowEnd,
        window.state,
        window.state === 'no_data' ? window.reason : null,
        window.lookups,
        window.hits,
        window.misses,
        window.errors,
        window.state === 'ok' ? window.hitRatioPercent : null,
        window.state === 'ok' ? window.cacheFailureRatePercent : null,
        window.state === 'ok' ? window.errorRatePercent : null,
        window.cumulativeHitRatioPercent,
        JSON.stringify(window.details),
        sample?.fraction ?? null,
        sample?.entries ?? null,
        sample?.hitRatio.low ?? null,
        sample?.hitRatio.high ?? null,
        sample && Number.isFinite(sample.standardErrorPoints) ? sample.standardErrorPoints : null,
      ],
    );
  }
  await client.query(
    'DELETE FROM vigil.cache_windows WHERE cache_table = $1 AND window_end < now() - make_interval(days => $2)',
    [table, retentionDays],
  );
}

async function readSourceState(client: pg.ClientBase, table: string): Promise<SourceState | undefined> {
  const { rows } = await client.query<SourceState>(
    `SELECT snapshot_taken_at, snapshot_rows, counters, counters_taken_at, warming_until, warming_reason,
            sample_pivot::text AS sample_pivot, snapshot_fraction, next_fraction, sample_refusal,
            census_taken_at, census_rows, last_census_at
     FROM vigil.cache_source_state WHERE cache_table = $1`,
    [table],
  );
  return rows[0];
}

interface RunContext {
  db: Database;
  /** The connection that holds the table's lock; every write of the run goes through it. */
  client: pg.ClientBase;
  config: CacheConfig;
  thresholds: Thresholds;
  options: { concurrentScan: boolean };
}

/**
 * What the run compares with and reads (sample.ts, compareScope): the stored snapshot (null: none,
 * lost, or of another pivot) and its entries inside the compared keys, the keys the window counts,
 * and the slice the run reads (null: the whole table).
 */
interface Scope {
  previous: StoredSnapshot | null;
  previousRows: number | null;
  overlap: KeySlice | null;
  read: KeySlice | null;
  moved: boolean;
  snapshotLost?: string;
}

async function scopeOf(client: pg.ClientBase, table: string, state: SourceState | undefined, plan: SlicePlan): Promise<Scope> {
  const previousRows = state?.snapshot_rows === null || state?.snapshot_rows === undefined ? null : Number(state.snapshot_rows);
  const stored = storedSlice(state);
  const previous = state?.snapshot_taken_at && previousRows !== null ? await previousSnapshot(client, table, previousRows) : null;
  const scope = stored === 'unknown' ? 'moved' : compareScope(stored, plan.slice, { previousCut: !previous?.packed });
  if (scope === 'moved') {
    const snapshotLost = 'the slice of the key range moved to another pivot';
    return { previous: null, previousRows: null, overlap: plan.slice, read: plan.slice, moved: true, snapshotLost };
  }
  const { overlap, read } = scope;
  if (previous?.packed && stored === null) {
    // A slice's snapshot while the state says the whole table (an edited or half-restored state):
    // it cannot be cut to this run's keys, so it is not compared with.
    const snapshotLost = 'the stored snapshot holds a slice, but the state says the whole table';
    return { previous: null, previousRows: null, overlap, read, moved: false, snapshotLost };
  }
  if (!previous) {
    const snapshotLost = state?.snapshot_taken_at
      ? `the previous snapshot (${previousRows} rows) is gone or empty: an unlogged table is emptied by a server crash`
      : undefined;
    return { previous: null, previousRows: null, overlap, read, moved: false, snapshotLost };
  }
  const inside = scope.previousWider ? await previousRowsIn(client, previous, overlap) : previousRows;
  return { previous, previousRows: inside, overlap, read, moved: false };
}

/**
 * Stage 1, in one REPEATABLE READ transaction: what the run reads (the whole table, or its slice),
 * the new snapshot of it written, the same entries scanned for statistics and issues, the OLAP
 * cache read, and a census compared or begun: every figure of the same moment. A slice is also
 * compared with the previous snapshot here, in the same read.
 */
async function observe(run: RunContext, state: SourceState | undefined) {
  const { client, config } = run;
  return inTransaction(
    client,
    async () => {
      const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
      const now = (clock[0] as { now: Date }).now;
      const columns = await cacheTableColumns(client, config.table);
      const plan = await planSlice(client, config, {
        pivot: state?.sample_pivot ?? null,
        nextFraction: state?.next_fraction ?? null,
        refusal: state?.sample_refusal ?? null,
      });
      const scope = await scopeOf(client, config.table, state, plan);
      const censusRows = state?.census_taken_at && state.census_rows !== null ? Number(state.census_rows) : null;
      // A census compares the whole table with its baseline: moot when the run counts the whole table anyway.
      const measureCensus = censusRows !== null && plan.slice !== null;
      const startCensus =
        plan.slice !== null && censusRows === null && censusDue(config.censusEveryHours, state?.last_census_at ?? null, now);
      const census = { pending: censusRows !== null, measured: measureCensus };
      const baseline = async () => (startCensus ? await writeCensusBaseline(client, config.table) : undefined);
      const read =
        plan.slice !== null && scope.read !== null
          ? await observeSlice(
              run,
              columns,
              { write: plan.slice, writeEntries: (plan.tableEntries ?? 0) * plan.slice.fraction, read: scope.read, scope, state },
              measureCensus ? (censusRows as number) : null,
            )
          : { ...(await observeWhole(run, columns)), delta: undefined };
      return { now, plan, scope, ...census, ...read, baselineRows: await baseline() };
    },
    { isolation: 'repeatable read' },
  );
}

/**
 * A slice: read once, on the run's connection, after what only reads (the census may use parallel
 * workers). The read fills the snapshot with the keys of `write`, compares the keys of the scope's
 * overlap with the previous snapshot, and records the recalculations it shows.
 */
async function observeSlice(
  run: RunContext,
  columns: Set<string>,
  slices: { write: KeySlice; writeEntries: number; read: KeySlice; scope: Scope; state: SourceState | undefined },
  censusRows: number | null,
) {
  const { client, config, thresholds } = run;
  const { write, writeEntries, read, scope } = slices;
  const wholeCensus = censusRows !== null ? await compareCensus(client, config.table, censusRows) : undefined;
  const olap = await readOlapCache(client, config.olapTable);
  await createNextSnapshot(client, config.table);
  const previousTakenAt = slices.state?.snapshot_taken_at ?? null;
  if (previousTakenAt) await forgetRecalculationsSince(client, config.table, previousTakenAt);
  const parts = sliceStatementParts(config.table, {
    write,
    writeEntries,
    previous: scope.previous,
    overlap: scope.overlap,
    previousTakenAt,
  });
  const scanned = await scanSlice(client, config.table, columns, thresholds.cache, sliceCondition('user_id', read), parts);
  const delta = deltaOf(scanned.delta, scope.previous ? scope.previousRows : null, parts.snapshotTable);
  return { snapshotRows: scanned.snapshotRows, cache: scanned.cache, olap, census: wholeCensus, delta };
}

/** The whole table: its snapshot written and its entries scanned, one after the other or at once on two connections. */
async function observeWhole(run: RunContext, columns: Set<string>) {
  const { db, client, config, thresholds, options } = run;
  const scan = async (reader: pg.ClientBase) => ({
    cache: await scanCacheEntries(reader, config.table, columns, thresholds.cache),
    olap: await readOlapCache(reader, config.olapTable),
    census: undefined,
  });
  const writeSnapshot = async () => ({ snapshotRows: await writeNextSnapshot(client, config.table) });
  if (!options.concurrentScan) {
    // The read-only scan first: PostgreSQL runs it with parallel workers only before the transaction writes.
    const scanned = await scan(client);
    return { ...(await writeSnapshot()), ...scanned };
  }
  // The snapshot write (one core) and the statistics scan (the other) at once, on the same
  // exported snapshot of the data, so both describe the same moment.
  const { rows: exported } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
  const snapshotId = exported[0]?.id ?? '';
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(snapshotId)) throw new Error(`unexpected snapshot id ${snapshotId}`);
  const [scanned, written] = await Promise.all([
    db.withTransaction(
      async (reader) => {
        await reader.query(`SET TRANSACTION SNAPSHOT '${snapshotId}'`);
        // One core for the scan, the other for the snapshot write.
        await reader.query('SET LOCAL max_parallel_workers_per_gather = 0');
        return scan(reader);
      },
      { isolation: 'repeatable read', readOnly: true },
    ),
    writeSnapshot(),
  ]);
  return { ...written, ...scanned };
}

type Observation = Awaited<ReturnType<typeof observe>>;

/**
 * Stage 2: a whole table's new snapshot against the previous one over the keys both hold (committed
 * tables, so PostgreSQL may use parallel workers) while the recalculations it shows are recorded on
 * a second connection; a slice was compared, and its recalculations recorded, in stage 1.
 */
async function compareSnapshots(run: RunContext, state: SourceState | undefined, observed: Observation) {
  const { db, client, config, thresholds, options } = run;
  const { scope } = observed;
  const previousTakenAt = state?.snapshot_taken_at ?? null;
  const sliced = observed.delta !== undefined;
  const compare = async () =>
    observed.delta ??
    compareWithPrevious(client, config.table, {
      previous: scope.previous,
      previousRows: scope.previousRows,
      overlap: scope.overlap,
    });
  const recalculationIssues = async (writer: pg.ClientBase) => {
    if (!sliced) await recordRecalculations(writer, config.table, previousTakenAt);
    await pruneRecalculations(writer, config.table, thresholds.cache.recalculationWindowMinutes);
    return frequentRecalculations(writer, config.table, thresholds.cache);
  };
  const [delta, recalculations] = options.concurrentScan
    ? await Promise.all([compare(), db.withTransaction(recalculationIssues)])
    : [await compare(), await inTransaction(client, recalculationIssues)];
  const comparison: Comparison = {
    delta,
    moved: scope.moved,
    overlap: scope.moved ? null : scope.overlap,
    snapshotLost: scope.snapshotLost,
  };
  return { comparison, recalculations };
}

/** Stage 3, in one transaction: the snapshot replaced, the state (with the next run's slice) and the windows stored. */
async function storeRun(
  run: RunContext,
  state: SourceState | undefined,
  observed: Observation,
  comparison: Comparison,
  judged: RunJudgement,
  primarySource: CacheWindow['source'],
) {
  const { client, config } = run;
  const { now, plan } = observed;
  const { counters } = judged;
  await inTransaction(client, async () => {
    await promoteNextSnapshot(client, config.table);
    // A census baseline is used once: measured by this run, or moot when the run counted the whole table.
    if (observed.pending) await dropCensusBaseline(client, config.table);
    const censusStarted = observed.baselineRows !== undefined;
    await client.query(
      `INSERT INTO vigil.cache_source_state (cache_table, snapshot_table, snapshot_taken_at, snapshot_rows, counters, counters_taken_at,
                                             warming_until, warming_reason, sample_pivot, snapshot_fraction, next_fraction, sample_refusal,
                                             census_taken_at, census_rows, last_census_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (cache_table) DO UPDATE SET snapshot_table = EXCLUDED.snapshot_table, snapshot_taken_at = EXCLUDED.snapshot_taken_at,
         snapshot_rows = EXCLUDED.snapshot_rows, warming_until = EXCLUDED.warming_until, warming_reason = EXCLUDED.warming_reason,
         counters = coalesce(EXCLUDED.counters, vigil.cache_source_state.counters),
         counters_taken_at = coalesce(EXCLUDED.counters_taken_at, vigil.cache_source_state.counters_taken_at),
         sample_pivot = EXCLUDED.sample_pivot, snapshot_fraction = EXCLUDED.snapshot_fraction, next_fraction = EXCLUDED.next_fraction,
         sample_refusal = EXCLUDED.sample_refusal, census_taken_at = EXCLUDED.census_taken_at, census_rows = EXCLUDED.census_rows,
         last_census_at = EXCLUDED.last_census_at`,
      [
        config.table,
        comparison.delta.snapshotTable,
        now,
        // All the snapshot holds, not only the keys compared: a slice that grew holds more.
        observed.snapshotRows,
        counters
          ? JSON.stringify({
              hits: counters.hits,
              misses: counters.misses,
              errors: counters.errors,
              startedAt: counters.startedAt,
            })
          : null,
        counters ? now : null,
        judged.warmUp.until,
        judged.warmUp.reason,
        plan.pivot,
        plan.slice?.fraction ?? null,
        judged.nextFraction,
        judged.refusal,
        censusStarted ? now : null,
        censusStarted ? observed.baselineRows : null,
        censusStarted ? now : (state?.last_census_at ?? null),
      ],
    );
    await storeWindows(client, config.table, judged.windows, primarySource, config.windowRetentionDays);
  });
}

/**
 * One run, under the table's advisory lock, in three stages:
 * 0. the app's counters, through the configured query, read-only on a connection of its own;
 * 1. one REPEATABLE READ transaction decides what the run reads (the whole table, or the table's
 *    fixed slice of keys, read through the primary key's index: slice-plan.ts), writes the new
 *    snapshot of it, scans the same entries for statistics and issues, and reads the OLAP cache:
 *    every figure of the same moment. On a census's second run it also compares the whole table
 *    with the census baseline; on its first, it writes that baseline;
 * 2. the new snapshot is compared with the previous one over the keys both hold (committed
 *    tables, so PostgreSQL may use parallel workers) while the recalculations it shows are
 *    recorded on a second connection;
 * 3. one transaction stores the windows, the state (with the slice of the next run) and replaces
 *    the snapshot.
 * What the readings mean is judged between 2 and 3 (judgement.ts), without I/O.
 * With a pool of two (the default) stages 1 and 2 each use both connections, so both cores.
 * A run that dies between the stages leaves the previous snapshot and state untouched: the next run
 * measures from there. Returns undefined when another run holds the lock.
 */
export async function measureCacheEfficiency(
  db: Database,
  config: CacheConfig,
  thresholds: Thresholds,
  /** Scan on a second pooled connection while the snapshot is written; needs a pool of two. */
  options: { concurrentScan: boolean } = { concurrentScan: false },
): Promise<CacheMeasurement | undefined> {
  const locked = await db.withAdvisoryLock(`cache-efficiency:${config.table}`, async (client) => {
    const run: RunContext = { db, client, config, thresholds, options };
    const state = await readSourceState(client, config.table);
    // Before the run's transaction, which writes: the configured query only ever runs read-only.
    const reading = config.countersQuery ? await readCounters(db, config.countersQuery) : undefined;
    const observed = await observe(run, state);
    const { comparison, recalculations } = await compareSnapshots(run, state, observed);
    const { now, plan, olap } = observed;
    const judged = judgeRun({
      config,
      state,
      reading,
      now,
      plan,
      comparison,
      ...(observed.measured ? { census: { whole: observed.census } } : {}),
    });
    const primarySource: CacheWindow['source'] = config.countersQuery ? 'counters' : 'table';
    await storeRun(run, state, observed, comparison, judged, primarySource);
    const cache: CacheIssues = {
      ...observed.cache,
      statistics: observed.delta
        ? { ...observed.cache.statistics, sliceFraction: observed.scope.read?.fraction ?? 1 }
        : observed.cache.statistics,
      issues: [...recalculations.issues, ...observed.cache.issues],
      counts: { ...observed.cache.counts, frequentRecalculation: recalculations.count },
    };
    return {
      table: config.table,
      measuredAt: now,
      primarySource,
      windows: judged.windows,
      cache,
      olap,
      ...(judged.census ? { census: judged.census } : {}),
      ...(judged.nextFraction !== null && judged.nextFraction < 1 ? { nextSliceFraction: judged.nextFraction } : {}),
    } satisfies CacheMeasurement;
  });
  return locked.acquired ? locked.value : undefined;
}

interface WindowRow {
  source: CacheWindow['source'];
  window_start: Date | null;
  window_end: Date;
  state: CacheWindow['state'];
  no_data_reason: string | null;
  lookups: string | null;
  hits: string | null;
  misses: string | null;
  errors: string | null;
  hit_ratio: string | null;
  cache_failure_rate: string | null;
  error_rate: string | null;
  cumulative_hit_ratio: string | null;
  details: Record<string, unknown>;
  sample_fraction: number | null;
  sample_entries: string | null;
  hit_ratio_low: string | null;
  hit_ratio_high: string | null;
  standard_error: number | null;
}

/** A stored window's slice estimate, as sliceEstimate made it. */
function storedSample(row: WindowRow): SliceEstimate | undefined {
  if (row.sample_fraction === null || row.sample_entries === null || row.hit_ratio_low === null || row.hit_ratio_high === null)
    return undefined;
  const hitRatio = { low: Number(row.hit_ratio_low), high: Number(row.hit_ratio_high) };
  const standardErrorPoints = row.standard_error ?? Number.POSITIVE_INFINITY;
  // Windows stored before the t quantile have no degrees of freedom: their half width was the normal one.
  const slice = row.details.slice as { pivot?: string; degreesOfFreedom?: number | null } | undefined;
  const degreesOfFreedom = slice?.degreesOfFreedom ?? null;
  return {
    fraction: row.sample_fraction,
    pivot: slice?.pivot ?? '',
    entries: Number(row.sample_entries),
    lookups: Number(row.lookups),
    tableEntriesEstimate: Math.round(Number(row.sample_entries) / row.sample_fraction),
    confidencePercent: sampleConfidencePercent,
    standardErrorPoints,
    degreesOfFreedom,
    halfWidthPoints: Math.round(quantile95(degreesOfFreedom) * standardErrorPoints * 10_000) / 10_000,
    hitRatio,
    failureRate: {
      low: Math.round((100 - hitRatio.high) * 10_000) / 10_000,
      high: Math.round((100 - hitRatio.low) * 10_000) / 10_000,
    },
  };
}

const numberOrNull = (value: string | null) => (value === null ? null : Number(value));

/** The primary source's latest windows, newest first: what M-of-N alerting and the rollback decision read. */
export async function recentWindows(db: Database, table: string, count: number): Promise<CacheWindow[]> {
  const { rows } = await db.query<WindowRow>(
    'SELECT * FROM vigil.cache_windows WHERE cache_table = $1 AND primary_source ORDER BY window_end DESC, id DESC LIMIT $2',
    [table, count],
  );
  return rows.map((row): CacheWindow => {
    const base = {
      source: row.source,
      windowStart: row.window_start,
      windowEnd: row.window_end,
      cumulativeHitRatioPercent: numberOrNull(row.cumulative_hit_ratio),
      details: row.details,
      lookups: numberOrNull(row.lookups),
      hits: numberOrNull(row.hits),
      misses: numberOrNull(row.misses),
      errors: numberOrNull(row.errors),
    };
    return row.state === 'ok'
      ? {
          ...base,
          state: 'ok',
          lookups: Number(row.lookups),
          hits: Number(row.hits),
          misses: Number(row.misses),
          hitRatioPercent: Number(row.hit_ratio),
          cacheFailureRatePercent: Number(row.cache_failure_rate),
          errorRatePercent: numberOrNull(row.error_rate),
          ...(storedSample(row) ? { sample: storedSample(row) } : {}),
        }
      : { ...base, state: 'no_data', reason: row.no_data_reason ?? 'no data' };
  });
}
