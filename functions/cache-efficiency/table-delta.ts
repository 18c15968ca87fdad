import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';
import type { TableDelta } from './window';

export const requiredColumns = ['user_id', 'access_count', 'calculated_at'] as const;
export const statisticsColumns = ['expires_at', 'last_accessed', 'calculation_time_ms', 'payload_size_kb'] as const;

/** The cache table's columns that Vigil reads; throws naming the missing required ones. */
export async function cacheTableColumns(client: pg.ClientBase, table: string): Promise<Set<string>> {
  const { rows } = await client.query<{ column_name: string }>(
    `SELECT a.attname AS column_name FROM pg_attribute a
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteQualifiedName(table)],
  );
  const columns = new Set(rows.map((row) => row.column_name));
  if (columns.size === 0) throw new Error(`cache table ${table} does not exist (CACHE_TABLE)`);
  const missing = requiredColumns.filter((column) => !columns.has(column));
  if (missing.length > 0) throw new Error(`cache table ${table} lacks column(s) ${missing.join(', ')}`);
  return columns;
}

interface DeltaRow {
  current_rows: string;
  new_rows: string;
  deleted_rows: string;
  recalculated_rows: string;
  reset_rows: string;
  backdated_rows: string;
  hits: string;
  hits_since_calculation: string;
  snapshot_written: string;
  snapshot_removed: string;
  recalculations_recorded: string;
}

/**
 * One set-based statement: compares the cache table with Vigil's snapshot of it (a full join on
 * user_id), counts the window's hits and misses, and rewrites only the snapshot rows that changed.
 * Run it in a REPEATABLE READ transaction so the count and the new snapshot see the same table.
 */
export async function compareWithSnapshot(
  client: pg.ClientBase,
  table: string,
  options: { hasSnapshot: boolean; recalculationsSince: Date },
): Promise<TableDelta & { snapshotWritten: number; snapshotRemoved: number; recalculationsRecorded: number }> {
  const { rows } = await client.query<DeltaRow>(
    `WITH cur AS MATERIALIZED (
       SELECT user_id::text AS user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}
     ),
     snap AS (SELECT user_id, access_count, calculated_at FROM vigil.cache_snapshot WHERE cache_table = $1),
     joined AS MATERIALIZED (
       SELECT cur.user_id AS cur_user, snap.user_id AS snap_user, cur.access_count AS cur_count, snap.access_count AS snap_count,
              cur.calculated_at AS cur_calc, snap.calculated_at AS snap_calc
       FROM cur FULL JOIN snap ON snap.user_id = cur.user_id
     ),
     upserted AS (
       INSERT INTO vigil.cache_snapshot (cache_table, user_id, access_count, calculated_at)
       SELECT $1, cur_user, cur_count, cur_calc FROM joined
       WHERE cur_user IS NOT NULL
         AND (snap_user IS NULL OR cur_count IS DISTINCT FROM snap_count OR cur_calc IS DISTINCT FROM snap_calc)
       ON CONFLICT (cache_table, user_id) DO UPDATE SET access_count = EXCLUDED.access_count, calculated_at = EXCLUDED.calculated_at
       RETURNING 1
     ),
     removed AS (
       DELETE FROM vigil.cache_snapshot s USING joined j
       WHERE s.cache_table = $1 AND j.cur_user IS NULL AND s.user_id = j.snap_user
       RETURNING 1
     ),
     recalculations AS (
       INSERT INTO vigil.cache_recalculations (cache_table, user_id, calculated_at)
       SELECT $1, cur_user, cur_calc FROM joined
       WHERE $2::boolean AND cur_user IS NOT NULL AND (snap_user IS NULL OR cur_calc > snap_calc) AND cur_calc >= $3
       ON CONFLICT DO NOTHING
       RETURNING 1
     )
     SELECT
       count(cur_user) AS current_rows,
       count(*) FILTER (WHERE snap_user IS NULL) AS new_rows,
       count(*) FILTER (WHERE cur_user IS NULL) AS deleted_rows,
       count(*) FILTER (WHERE cur_calc > snap_calc) AS recalculated_rows,
       count(*) FILTER (WHERE cur_calc = snap_calc AND cur_count < snap_count) AS reset_rows,
       count(*) FILTER (WHERE cur_calc < snap_calc) AS backdated_rows,
       coalesce(sum(CASE WHEN snap_user IS NULL OR cur_calc > snap_calc THEN cur_count
                         WHEN cur_calc = snap_calc AND cur_count >= snap_count THEN cur_count - snap_count
                         ELSE 0 END), 0) AS hits,
       coalesce(sum(cur_count), 0) AS hits_since_calculation,
       (SELECT count(*) FROM upserted) AS snapshot_written,
       (SELECT count(*) FROM removed) AS snapshot_removed,
       (SELECT count(*) FROM recalculations) AS recalculations_recorded
     FROM joined`,
    [table, options.hasSnapshot, options.recalculationsSince],
  );
  const row = rows[0] as DeltaRow;
  return {
    currentRows: Number(row.current_rows),
    newRows: Number(row.new_rows),
    deletedRows: Number(row.deleted_rows),
    recalculatedRows: Number(row.recalculated_rows),
    resetRows: Number(row.reset_rows),
    backdatedRows: Number(row.backdated_rows),
    hits: Number(row.hits),
    hitsSinceCalculation: Number(row.hits_since_calculation),
    snapshotWritten: Number(row.snapshot_written),
    snapshotRemoved: Number(row.snapshot_removed),
    recalculationsRecorded: Number(row.recalculations_recorded),
  };
}
