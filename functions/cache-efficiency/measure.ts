import type pg from 'pg';
import type { Config } from '../../lib/config';
import { type Database, inTransaction } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import type { Thresholds } from '../../lib/thresholds';
import { type CacheIssues, findCacheIssues, pruneRecalculations } from './cache-issues';
import { type OlapReport, readOlapCache } from './olap';
import { cacheTableColumns, compareWithSnapshot } from './table-delta';
import { type CacheWindow, type CounterReading, counterWindow, tableWindow } from './window';

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
}

/** Reads the app's counters with the configured query; a broken query is reported, not fatal. */
async function readCounters(client: pg.ClientBase, query: string, takenAt: Date): Promise<CounterReading | { error: string }> {
  await client.query('SAVEPOINT counters');
  try {
    const { rows } = await client.query<Record<string, unknown>>(query);
    await client.query('RELEASE SAVEPOINT counters');
    if (rows.length !== 1) return { error: `the counters query returned ${rows.length} rows; it must return exactly one` };
    const row = rows[0] as Record<string, unknown>;
    const values: Record<string, number> = {};
    for (const column of ['hits', 'misses', 'errors']) {
      const value = Number(row[column]);
      if (row[column] === null || row[column] === undefined || !Number.isFinite(value) || value < 0) {
        return { error: `the counters query returned no usable ${column} column (got ${String(row[column])})` };
      }
      values[column] = value;
    }
    const startedAt =
      row.started_at instanceof Date
        ? row.started_at.toISOString()
        : row.started_at === undefined || row.started_at === null
          ? null
          : String(row.started_at);
    return { hits: values.hits as number, misses: values.misses as number, errors: values.errors as number, startedAt, takenAt };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT counters');
    logger.error('cache counters query failed', { error: errorSummary(error) });
    return { error: `the counters query failed: ${(error as Error).message}` };
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
 * One run: the window since the previous run from both sources, the cache's statistics and issues,
 * and the OLAP cache, in one REPEATABLE READ transaction so every figure describes the same moment.
 * Returns undefined when another run holds the table's lock.
 */
export async function measureCacheEfficiency(
  db: Database,
  config: Config['cache'],
  thresholds: Thresholds,
): Promise<CacheMeasurement | undefined> {
  const locked = await db.withAdvisoryLock(`cache-efficiency:${config.table}`, (lockedClient) =>
    inTransaction(
      lockedClient,
      async (client) => {
        const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
        const now = (clock[0] as { now: Date }).now;
        const columns = await cacheTableColumns(client, config.table);
        const { rows: stateRows } = await client.query<SourceState>(
          'SELECT snapshot_taken_at, snapshot_rows, counters, counters_taken_at FROM vigil.cache_source_state WHERE cache_table = $1 FOR UPDATE',
          [config.table],
        );
        const state = stateRows[0];
        const windows: CacheWindow[] = [];
        let counters: CounterReading | undefined;
        if (config.countersQuery) {
          const reading = await readCounters(client, config.countersQuery, now);
          if ('error' in reading) {
            windows.push({
              source: 'counters',
              windowStart: state?.counters_taken_at ?? null,
              windowEnd: now,
              cumulativeHitRatioPercent: null,
              details: {},
              state: 'no_data',
              reason: reading.error,
              lookups: null,
              hits: null,
              misses: null,
              errors: null,
            });
          } else {
            counters = reading;
            const previous =
              state?.counters && state.counters_taken_at ? { ...state.counters, takenAt: state.counters_taken_at } : undefined;
            windows.push(counterWindow(previous, reading, config.minLookups));
          }
        }
        const recalculationsSince = new Date(now.getTime() - thresholds.cache.recalculationWindowMinutes * 60_000);
        const delta = await compareWithSnapshot(client, config.table, {
          previousExists: Boolean(state?.snapshot_taken_at),
          recalculationsSince,
        });
        let snapshotLost: string | undefined;
        if (state?.snapshot_taken_at && delta.previousRows === null) snapshotLost = 'the previous snapshot table is gone';
        else if (state?.snapshot_taken_at && delta.previousRows !== Number(state.snapshot_rows)) {
          snapshotLost = `the previous snapshot has ${delta.previousRows} of its ${state.snapshot_rows} rows (an unlogged table emptied by a server crash)`;
        }
        windows.push(tableWindow(state?.snapshot_taken_at ?? null, now, delta, config.minLookups, snapshotLost));
        await pruneRecalculations(client, config.table, thresholds.cache.recalculationWindowMinutes);
        const cache = await findCacheIssues(client, config.table, columns, thresholds.cache);
        const olap = await readOlapCache(client, config.olapTable);
        await client.query(
          `INSERT INTO vigil.cache_source_state (cache_table, snapshot_table, snapshot_taken_at, snapshot_rows, counters, counters_taken_at)
           VALUES ($1, $5, $2, $6, $3, $4)
           ON CONFLICT (cache_table) DO UPDATE SET snapshot_table = EXCLUDED.snapshot_table, snapshot_taken_at = EXCLUDED.snapshot_taken_at,
             snapshot_rows = EXCLUDED.snapshot_rows,
             counters = coalesce(EXCLUDED.counters, vigil.cache_source_state.counters),
             counters_taken_at = coalesce(EXCLUDED.counters_taken_at, vigil.cache_source_state.counters_taken_at)`,
          [
            config.table,
            now,
            counters
              ? JSON.stringify({
                  hits: counters.hits,
                  misses: counters.misses,
                  errors: counters.errors,
                  startedAt: counters.startedAt,
                })
              : null,
            counters ? now : null,
            delta.snapshotTable,
            delta.currentRows,
          ],
        );
        const primarySource: CacheWindow['source'] = config.countersQuery ? 'counters' : 'table';
        await storeWindows(client, config.table, windows, primarySource, config.windowRetentionDays);
        return { table: config.table, measuredAt: now, primarySource, windows, cache, olap } satisfies CacheMeasurement;
      },
      { isolation: 'repeatable read' },
    ),
  );
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
