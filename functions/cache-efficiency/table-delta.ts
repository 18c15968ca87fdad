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
  matched_rows: string;
  recalculated_rows: string;
  reset_rows: string;
  backdated_rows: string;
  hits: string;
  hits_since_calculation: string;
}

export interface SnapshotComparison extends TableDelta {
  /** Rows of the previous snapshot (null when there is none, or it was lost). */
  previousRows: number | null;
  snapshotTable: string;
}

function snapshotTables(table: string) {
  const name = snapshotTableName(table);
  return { name, previous: `vigil.${quoteIdentifier(name)}`, next: `vigil.${quoteIdentifier(`${name}_next`)}` };
}

/**
 * Step 1, inside the run's REPEATABLE READ transaction: this run's snapshot of the cache table,
 * one bulk write into an unlogged table without index (user_id, access_count, calculated_at).
 */
export async function writeNextSnapshot(client: pg.ClientBase, table: string): Promise<void> {
  const { next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${next}`);
  await client.query(
    `CREATE UNLOGGED TABLE ${next} AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}`,
  );
}

/**
 * Step 2, once step 1 is committed (so PostgreSQL may use parallel workers): the window's hits and
 * misses in one set-based statement, a hash join of the new snapshot with the previous one on
 * user_id. Entries only in the previous snapshot are the deleted ones: its rows (known from the
 * run that wrote it) - matched.
 */
export async function compareWithPrevious(
  client: pg.ClientBase,
  table: string,
  options: { previousTakenAt: Date | null; previousRows: number | null },
): Promise<SnapshotComparison> {
  const { name, previous, next } = snapshotTables(table);
  await client.query("SET work_mem = '128MB'");
  try {
    // An unlogged table comes back empty after a server crash: a previous snapshot of zero bytes
    // that should hold rows is lost, not a table whose entries were all deleted.
    const { rows: found } = await client.query<{ present: boolean; bytes: string | null }>(
      'SELECT to_regclass($1) IS NOT NULL AS present, pg_relation_size(to_regclass($1)) AS bytes',
      [previous],
    );
    const intact = Boolean(found[0]?.present) && (Number(found[0]?.bytes) > 0 || options.previousRows === 0);
    const hasPrevious = options.previousTakenAt !== null && options.previousRows !== null && intact;
    const previousRows = hasPrevious ? (options.previousRows as number) : null;
    const source = hasPrevious
      ? `${next} cur LEFT JOIN ${previous} snap ON snap.user_id = cur.user_id`
      : `${next} cur LEFT JOIN ${next} snap ON false`;
    const { rows } = await client.query<DeltaRow>(
      `SELECT
         count(*) AS current_rows,
         count(snap.user_id) AS matched_rows,
         count(*) FILTER (WHERE cur.calculated_at > snap.calculated_at) AS recalculated_rows,
         count(*) FILTER (WHERE cur.calculated_at = snap.calculated_at AND cur.access_count < snap.access_count) AS reset_rows,
         count(*) FILTER (WHERE cur.calculated_at < snap.calculated_at) AS backdated_rows,
         coalesce(sum(CASE WHEN snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at THEN cur.access_count
                           WHEN cur.calculated_at = snap.calculated_at AND cur.access_count >= snap.access_count
                             THEN cur.access_count - snap.access_count
                           ELSE 0 END), 0) AS hits,
         coalesce(sum(cur.access_count), 0) AS hits_since_calculation
       FROM ${source}`,
    );
    const row = rows[0] as DeltaRow;
    const matched = Number(row.matched_rows);
    return {
      currentRows: Number(row.current_rows),
      previousRows,
      newRows: Number(row.current_rows) - matched,
      deletedRows: previousRows === null ? 0 : Math.max(0, previousRows - matched),
      recalculatedRows: Number(row.recalculated_rows),
      resetRows: Number(row.reset_rows),
      backdatedRows: Number(row.backdated_rows),
      hits: Number(row.hits),
      hitsSinceCalculation: Number(row.hits_since_calculation),
      snapshotTable: `vigil.${name}`,
    };
  } finally {
    await client.query('RESET work_mem');
  }
}

/**
 * The recalculations the new snapshot shows since the previous run (new entries and moved
 * calculated_at), kept for "recalculated more than 3 times in 2 hours". Idempotent: what an earlier,
 * failed attempt at the same window recorded is replaced.
 */
export async function recordRecalculations(client: pg.ClientBase, table: string, previousTakenAt: Date | null): Promise<number> {
  if (!previousTakenAt) return 0;
  const { next } = snapshotTables(table);
  await client.query('DELETE FROM vigil.cache_recalculations WHERE cache_table = $1 AND calculated_at > $2', [
    table,
    previousTakenAt,
  ]);
  const recorded = await client.query(
    `INSERT INTO vigil.cache_recalculations (cache_table, user_id, calculated_at)
     SELECT $1, user_id::text, calculated_at FROM ${next} WHERE calculated_at > $2`,
    [table, previousTakenAt],
  );
  return recorded.rowCount ?? 0;
}

/** Last step, in the transaction that stores the window: the new snapshot replaces the previous one. */
export async function promoteNextSnapshot(client: pg.ClientBase, table: string): Promise<void> {
  const { name, previous, next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${previous}`);
  await client.query(`ALTER TABLE ${next} RENAME TO ${quoteIdentifier(name)}`);
}
