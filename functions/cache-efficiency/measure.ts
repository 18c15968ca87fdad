import type pg from 'pg';
import { ConfiguredQueryError, runConfiguredQuery } from '../../lib/configured-query';
import { type Database, inTransaction } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import type { Thresholds } from '../../lib/thresholds';
import { type CacheIssues, frequentRecalculations, pruneRecalculations, scanCacheEntries } from './cache-issues';
import type { CacheConfig } from './config';
import { type OlapReport, readOlapCache } from './olap';
import {
  cacheTableColumns,
  compareWithPrevious,
  promoteNextSnapshot,
  recordRecalculations,
  writeNextSnapshot,
} from './table-delta';
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

export interface CacheMeasurement {
  table: string;
  measuredAt: Date;
  /** The source alerts and the rollback decision use: the app's counters when configured, else the table. */
  primarySource: CacheWindow['source'];
  windows: CacheWindow[];
  cache: CacheIssues;
  olap: OlapReport;
}

interface SourceState {
  snapshot_taken_at: Date | null;
  snapshot_rows: string | null;
  counters: { hits: number; misses: number; errors: number; startedAt: string | null } | null;
  counters_taken_at: Date | null;
  warming_until: Date | null;
  warming_reason: string | null;
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
        error instanceof ConfiguredQueryError
          ? error.message
          : `CACHE_COUNTERS_QUERY: could not run (${(error as Error).message})`,
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
    await client.query(
      `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, no_data_reason, lookups, hits,
                                        misses, errors, hit_ratio, cache_failure_rate, error_rate, cumulative_hit_ratio, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
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
      ],
    );
  }
  await client.query(
    'DELETE FROM vigil.cache_windows WHERE cache_table = $1 AND window_end < now() - make_interval(days => $2)',
    [table, retentionDays],
  );
}

/**
 * One run, under the table's advisory lock, in three steps:
 * 0. the app's counters, through the configured query, read-only on a connection of its own;
 * 1. one REPEATABLE READ transaction writes the new snapshot, scans the entries for statistics and
 *    issues, and reads the OLAP cache: every figure of the same moment;
 * 2. the new snapshot is compared with the previous one (committed tables, so PostgreSQL may use
 *    parallel workers) while the recalculations it shows are recorded on a second connection;
 * 3. one transaction stores the windows, the state and replaces the snapshot.
 * With a pool of two (the default) steps 1 and 2 each use both connections, so both cores.
 * A run that dies between the steps leaves the previous snapshot and state untouched: the next run
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
    const { rows: stateRows } = await client.query<SourceState>(
      `SELECT snapshot_taken_at, snapshot_rows, counters, counters_taken_at, warming_until, warming_reason
       FROM vigil.cache_source_state WHERE cache_table = $1`,
      [config.table],
    );
    const state = stateRows[0];
    // Before the run's transaction, which writes: the configured query only ever runs read-only.
    const reading = config.countersQuery ? await readCounters(db, config.countersQuery) : undefined;
    const observed = await inTransaction(
      client,
      async () => {
        const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
        const now = (clock[0] as { now: Date }).now;
        const columns = await cacheTableColumns(client, config.table);
        const scan = async (reader: pg.ClientBase) => ({
          cache: await scanCacheEntries(reader, config.table, columns, thresholds.cache),
          olap: await readOlapCache(reader, config.olapTable),
        });
        if (!options.concurrentScan) {
          // The read-only scan first: PostgreSQL runs it with parallel workers only before the transaction writes.
          const scanned = await scan(client);
          await writeNextSnapshot(client, config.table);
          return { now, ...scanned };
        }
        // The snapshot write (one core) and the statistics scan (the other) at once, on the same
        // exported snapshot of the data, so both describe the same moment.
        const { rows: exported } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
        const snapshotId = exported[0]?.id ?? '';
        if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(snapshotId)) throw new Error(`unexpected snapshot id ${snapshotId}`);
        const [scanned] = await Promise.all([
          db.withTransaction(
            async (reader) => {
              await reader.query(`SET TRANSACTION SNAPSHOT '${snapshotId}'`);
              // One core for the scan, the other for the snapshot write.
              await reader.query('SET LOCAL max_parallel_workers_per_gather = 0');
              return scan(reader);
            },
            { isolation: 'repeatable read', readOnly: true },
          ),
          writeNextSnapshot(client, config.table),
        ]);
        return { now, ...scanned };
      },
      { isolation: 'repeatable read' },
    );
    const { now, olap } = observed;

    const previousRows = state?.snapshot_rows === null || state?.snapshot_rows === undefined ? null : Number(state.snapshot_rows);
    const previousTakenAt = state?.snapshot_taken_at ?? null;
    const compare = () => compareWithPrevious(client, config.table, { previousTakenAt, previousRows });
    const recalculationIssues = async (writer: pg.ClientBase) => {
      await recordRecalculations(writer, config.table, previousTakenAt);
      await pruneRecalculations(writer, config.table, thresholds.cache.recalculationWindowMinutes);
      return frequentRecalculations(writer, config.table, thresholds.cache);
    };
    // The comparison and the bookkeeping of recalculations read only the two snapshots: at once
    // on two connections when the pool has two.
    const [delta, recalculations] = options.concurrentScan
      ? await Promise.all([compare(), db.withTransaction(recalculationIssues)])
      : [await compare(), await inTransaction(client, recalculationIssues)];
    const snapshotLost =
      state?.snapshot_taken_at && delta.previousRows === null
        ? `the previous snapshot (${previousRows} rows) is gone or empty: an unlogged table is emptied by a server crash`
        : undefined;

    let windows: CacheWindow[] = [];
    let counters: CounterReading | undefined;
    /** Restarts of the cache seen in this run: each starts a warm-up. */
    const restarts: Array<{ at: Date; why: string }> = [];
    if (reading && 'error' in reading) {
      windows.push(
        noDataWindow(
          {
            source: 'counters',
            windowStart: state?.counters_taken_at ?? null,
            windowEnd: now,
            cumulativeHitRatioPercent: null,
            details: {},
          },
          reading.error,
        ),
      );
    } else if (reading) {
      counters = reading;
      const previous =
        state?.counters && state.counters_taken_at ? { ...state.counters, takenAt: state.counters_taken_at } : undefined;
      windows.push(counterWindow(previous, reading, config.minLookups));
      const reset = previous ? counterReset(previous, reading) : undefined;
      if (reset) restarts.push({ at: reset.at ?? now, why: reset.why });
    }
    const table = tableWindow(state?.snapshot_taken_at ?? null, now, delta, config.minLookups, snapshotLost);
    windows.push(table);
    const restartOfTable = snapshotLost ? undefined : tableRestart(delta, previousRows);
    if (restartOfTable && state?.snapshot_taken_at) restarts.push({ at: now, why: restartOfTable });
    const counterWindowOf = windows.find((window) => window.source === 'counters');
    const hidden = counterWindowOf ? hiddenCounterReset(counterWindowOf, table) : undefined;
    if (counterWindowOf && hidden) {
      windows = windows.map((window) => (window === counterWindowOf ? noDataWindow(window, hidden) : window));
      restarts.push({ at: now, why: hidden });
    }
    // The warm-up: from the latest restart, one TTL; every window that overlaps it is not judged.
    let warmingUntil = state?.warming_until ?? null;
    let warmingReason = state?.warming_reason ?? null;
    for (const restart of restarts) {
      const until = new Date(restart.at.getTime() + config.warmupMinutes * 60_000);
      if (config.warmupMinutes > 0 && (!warmingUntil || until > warmingUntil)) {
        warmingUntil = until;
        warmingReason = `${restart.why} at ${restart.at.toISOString()}`;
      }
    }
    if (warmingUntil && warmingReason) {
      const until = warmingUntil;
      const why = warmingReason;
      windows = windows.map((window) =>
        window.windowStart === null || window.windowStart < until ? warmingWindow(window, until, why) : window,
      );
    }
    const primarySource: CacheWindow['source'] = config.countersQuery ? 'counters' : 'table';

    await inTransaction(client, async () => {
      await promoteNextSnapshot(client, config.table);
      await client.query(
        `INSERT INTO vigil.cache_source_state (cache_table, snapshot_table, snapshot_taken_at, snapshot_rows, counters, counters_taken_at,
                                               warming_until, warming_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (cache_table) DO UPDATE SET snapshot_table = EXCLUDED.snapshot_table, snapshot_taken_at = EXCLUDED.snapshot_taken_at,
           snapshot_rows = EXCLUDED.snapshot_rows, warming_until = EXCLUDED.warming_until, warming_reason = EXCLUDED.warming_reason,
           counters = coalesce(EXCLUDED.counters, vigil.cache_source_state.counters),
           counters_taken_at = coalesce(EXCLUDED.counters_taken_at, vigil.cache_source_state.counters_taken_at)`,
        [
          config.table,
          delta.snapshotTable,
          now,
          delta.currentRows,
          counters
            ? JSON.stringify({
                hits: counters.hits,
                misses: counters.misses,
                errors: counters.errors,
                startedAt: counters.startedAt,
              })
            : null,
          counters ? now : null,
          warmingUntil,
          warmingReason,
        ],
      );
      await storeWindows(client, config.table, windows, primarySource, config.windowRetentionDays);
    });
    const cache: CacheIssues = {
      ...observed.cache,
      issues: [...recalculations.issues, ...observed.cache.issues],
      counts: { ...observed.cache.counts, frequentRecalculation: recalculations.count },
    };
    return { table: config.table, measuredAt: now, primarySource, windows, cache, olap } satisfies CacheMeasurement;
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
        }
      : { ...base, state: 'no_data', reason: row.no_data_reason ?? 'no data' };
  });
}
