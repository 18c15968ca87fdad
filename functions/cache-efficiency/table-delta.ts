import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdentifier, quoteQualifiedName } from '../../lib/db';
import type { TableDelta } from './window';

export const requiredColumns = ['user_id', 'access_count', 'calculated_at'] as const;

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

/** vigil.cache_snapshot_<name>_<hash>: one snapshot table per cache table, within PostgreSQL's 63-byte names. */
export function snapshotTableName(table: string): string {
  const readable = table
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 32);
  return `cache_snapshot_${readable}_${createHash('sha256').update(table).digest('hex').slice(0, 8)}`;
}

interface DeltaRow {
  current_rows: string;
  previous_rows: string;
  new_rows: string;
  deleted_rows: string;
  recalculated_rows: string;
  reset_rows: string;
  backdated_rows: string;
  hits: string;
  hits_since_calculation: string;
}

export interface SnapshotComparison extends TableDelta {
  /** Rows the previous snapshot had when read (null when there was none). */
  previousRows: number | null;
  recalculationsRecorded: number;
  snapshotTable: string;
}

/**
 * Writes this run's snapshot of the cache table (one bulk write into an unlogged table, no index),
 * counts the window's hits and misses in one set-based statement (a hash full join of the two
 * snapshots on user_id), records the recalculations it sees, then replaces the previous snapshot. Run it in a REPEATABLE READ transaction: the snapshot and every count
 * then describe the same state of the table.
 */
export async function compareWithSnapshot(
  client: pg.ClientBase,
  table: string,
  options: { previousExists: boolean; recalculationsSince: Date },
): Promise<SnapshotComparison> {
  const name = snapshotTableName(table);
  const previous = `vigil.${quoteIdentifier(name)}`;
  const next = `vigil.${quoteIdentifier(`${name}_next`)}`;
  // A 1,000,000-entry hash join fits in memory with this; the setting ends with the transaction.
  await client.query("SET LOCAL work_mem = '128MB'");
  await client.query(`DROP TABLE IF EXISTS ${next}`);
  await client.query(
    `CREATE UNLOGGED TABLE ${next} AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}`,
  );
  // Statistics for the planner: without them it sorts both million-row sides for a merge join.
  await client.query(`ANALYZE ${next}`);
  const { rows: found } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [previous]);
  const hasPrevious = options.previousExists && Boolean(found[0]?.present);
  // The counts: one pass over a hash full join of the two snapshots, native key types, nothing materialized.
  const { rows } = hasPrevious
    ? await client.query<DeltaRow>(
        `SELECT
           count(cur.user_id) AS current_rows,
           count(snap.user_id) AS previous_rows,
           count(*) FILTER (WHERE snap.user_id IS NULL) AS new_rows,
           count(*) FILTER (WHERE cur.user_id IS NULL) AS deleted_rows,
           count(*) FILTER (WHERE cur.calculated_at > snap.calculated_at) AS recalculated_rows,
           count(*) FILTER (WHERE cur.calculated_at = snap.calculated_at AND cur.access_count < snap.access_count) AS reset_rows,
           count(*) FILTER (WHERE cur.calculated_at < snap.calculated_at) AS backdated_rows,
           coalesce(sum(CASE WHEN snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at THEN cur.access_count
                             WHEN cur.calculated_at = snap.calculated_at AND cur.access_count >= snap.access_count
                               THEN cur.access_count - snap.access_count
                             ELSE 0 END), 0) AS hits,
           coalesce(sum(cur.access_count), 0) AS hits_since_calculation
         FROM ${next} cur FULL JOIN ${previous} snap ON snap.user_id = cur.user_id`,
      )
    : await client.query<DeltaRow>(
        `SELECT count(*) AS current_rows, 0 AS previous_rows, count(*) AS new_rows, 0 AS deleted_rows, 0 AS recalculated_rows,
                0 AS reset_rows, 0 AS backdated_rows, coalesce(sum(access_count), 0) AS hits,
                coalesce(sum(access_count), 0) AS hits_since_calculation
         FROM ${next}`,
      );
  // Recalculations seen in this window (new entries and moved calculated_at), for "recalculated > 3 times in 2 hours".
  const recorded = hasPrevious
    ? await client.query(
        `INSERT INTO vigil.cache_recalculations (cache_table, user_id, calculated_at)
         SELECT $1, cur.user_id::text, cur.calculated_at
         FROM ${next} cur LEFT JOIN ${previous} snap ON snap.user_id = cur.user_id
         WHERE cur.calculated_at >= $2 AND (snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at)
         ON CONFLICT DO NOTHING`,
        [table, options.recalculationsSince],
      )
    : { rowCount: 0 };
  await client.query(`DROP TABLE IF EXISTS ${previous}`);
  await client.query(`ALTER TABLE ${next} RENAME TO ${quoteIdentifier(name)}`);
  const row = rows[0] as DeltaRow;
  return {
    currentRows: Number(row.current_rows),
    previousRows: hasPrevious ? Number(row.previous_rows) : null,
    newRows: Number(row.new_rows),
    deletedRows: Number(row.deleted_rows),
    recalculatedRows: Number(row.recalculated_rows),
    resetRows: Number(row.reset_rows),
    backdatedRows: Number(row.backdated_rows),
    hits: Number(row.hits),
    hitsSinceCalculation: Number(row.hits_since_calculation),
    recalculationsRecorded: recorded.rowCount ?? 0,
    snapshotTable: `vigil.${name}`,
  };
}
