import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdentifier, quoteQualifiedName } from '../../lib/db';
import { type KeySlice, notRandomKey, sliceCondition } from './sample';
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
  hits_squared: number | null;
  lookups_squared: number | null;
  hits_times_lookups: number | null;
  hits_fourth: number | null;
  hits_cubed_times_lookups: number | null;
  hits_squared_times_lookups_squared: number | null;
  hits_times_lookups_cubed: number | null;
  lookups_fourth: number | null;
  non_random_keys: string;
}

export interface SnapshotComparison extends TableDelta {
  /** Rows of the previous snapshot inside the compared keys (null when there is none, or it was lost). */
  previousRows: number | null;
  snapshotTable: string;
  /** Keys of a compared slice that are not random UUIDs (version other than 3, 4, 5): a slice of them is no fair sample. 0 for a whole table (any key type). */
  nonRandomKeys: number;
}

function snapshotTables(table: string) {
  const name = snapshotTableName(table);
  return {
    name,
    previous: `vigil.${quoteIdentifier(name)}`,
    next: `vigil.${quoteIdentifier(`${name}_next`)}`,
    // The whole table at the start of a census window (names stay within 63 bytes: the name is at most 56).
    census: `vigil.${quoteIdentifier(`${name}_census`)}`,
  };
}

/**
 * Stage 1, inside the run's REPEATABLE READ transaction: this run's snapshot of the whole cache
 * table, one bulk write into an unlogged table without index (user_id, access_count, calculated_at).
 */
export async function writeNextSnapshot(client: pg.ClientBase, table: string): Promise<number> {
  const { next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${next}`);
  const written = await client.query(
    `CREATE UNLOGGED TABLE ${next} AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}`,
  );
  return written.rowCount ?? 0;
}

/** A sampled run's snapshot, created empty, for the one read of the slice to fill (cache-issues.ts, scanSlice). */
export async function createNextSnapshot(client: pg.ClientBase, table: string): Promise<string> {
  const { next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${next}`);
  await client.query(
    `CREATE UNLOGGED TABLE ${next} AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}
     WITH NO DATA`,
  );
  return next;
}

/**
 * The start of a census: the whole table, in the same transaction (so the same moment) as the
 * run's slice. The next run compares the whole table with it, over the same window as its slice.
 */
export async function writeCensusBaseline(client: pg.ClientBase, table: string): Promise<number> {
  const { census } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${census}`);
  const written = await client.query(
    `CREATE UNLOGGED TABLE ${census} AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM ${quoteQualifiedName(table)}`,
  );
  return written.rowCount ?? 0;
}

/** The census baseline is measured or abandoned: it goes. */
export async function dropCensusBaseline(client: pg.ClientBase, table: string): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${snapshotTables(table).census}`);
}

/** Reads the comparison's aggregates; the per-entry hits and lookups of each entry feed the sample's interval. */
async function compareRelations(
  client: pg.ClientBase,
  current: string,
  previous: string | null,
  overlap: KeySlice | null,
): Promise<DeltaRow> {
  const source = previous
    ? `${current} cur LEFT JOIN ${previous} snap ON snap.user_id = cur.user_id`
    : `${current} cur LEFT JOIN (SELECT NULL::uuid AS user_id, NULL::bigint AS access_count, NULL::timestamptz AS calculated_at) snap ON false`;
  const { rows } = await client.query<DeltaRow>(
    `SELECT
       count(*) AS current_rows,
       count(*) FILTER (WHERE matched) AS matched_rows,
       count(*) FILTER (WHERE recalculated) AS recalculated_rows,
       count(*) FILTER (WHERE reset) AS reset_rows,
       count(*) FILTER (WHERE backdated) AS backdated_rows,
       coalesce(sum(hits), 0) AS hits,
       coalesce(sum(access_count), 0) AS hits_since_calculation,
       sum(hits::float8 * hits) AS hits_squared,
       sum((hits + misses)::float8 * (hits + misses)) AS lookups_squared,
       sum(hits::float8 * (hits + misses)) AS hits_times_lookups,
       sum(hits::float8 ^ 4) AS hits_fourth,
       sum(hits::float8 ^ 3 * (hits + misses)) AS hits_cubed_times_lookups,
       sum(hits::float8 ^ 2 * (hits + misses)::float8 ^ 2) AS hits_squared_times_lookups_squared,
       sum(hits::float8 * (hits + misses)::float8 ^ 3) AS hits_times_lookups_cubed,
       sum((hits + misses)::float8 ^ 4) AS lookups_fourth,
       ${overlap ? `count(*) FILTER (WHERE ${notRandomKey('user_id')})` : '0'} AS non_random_keys
     FROM (
       SELECT cur.user_id, cur.access_count,
              snap.user_id IS NOT NULL AS matched,
              coalesce(cur.calculated_at > snap.calculated_at, false) AS recalculated,
              coalesce(cur.calculated_at = snap.calculated_at AND cur.access_count < snap.access_count, false) AS reset,
              coalesce(cur.calculated_at < snap.calculated_at, false) AS backdated,
              CASE WHEN snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at THEN cur.access_count
                   WHEN cur.calculated_at = snap.calculated_at AND cur.access_count >= snap.access_count
                     THEN cur.access_count - snap.access_count
                   ELSE 0 END AS hits,
              CASE WHEN snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at THEN 1 ELSE 0 END AS misses
       FROM ${source}
       WHERE ${sliceCondition('cur.user_id', overlap)}
     ) entry`,
  );
  return rows[0] as DeltaRow;
}

function deltaOf(row: DeltaRow, previousRows: number | null, snapshotTable: string): SnapshotComparison {
  const matched = Number(row.matched_rows);
  const currentRows = Number(row.current_rows);
  return {
    currentRows,
    previousRows,
    newRows: currentRows - matched,
    deletedRows: previousRows === null ? 0 : Math.max(0, previousRows - matched),
    recalculatedRows: Number(row.recalculated_rows),
    resetRows: Number(row.reset_rows),
    backdatedRows: Number(row.backdated_rows),
    hits: Number(row.hits),
    hitsSinceCalculation: Number(row.hits_since_calculation),
    sums: {
      entries: currentRows,
      hits: Number(row.hits),
      misses: currentRows - matched + Number(row.recalculated_rows),
      hitsSquared: Number(row.hits_squared ?? 0),
      lookupsSquared: Number(row.lookups_squared ?? 0),
      hitsTimesLookups: Number(row.hits_times_lookups ?? 0),
      hitsFourth: Number(row.hits_fourth ?? 0),
      hitsCubedTimesLookups: Number(row.hits_cubed_times_lookups ?? 0),
      hitsSquaredTimesLookupsSquared: Number(row.hits_squared_times_lookups_squared ?? 0),
      hitsTimesLookupsCubed: Number(row.hits_times_lookups_cubed ?? 0),
      lookupsFourth: Number(row.lookups_fourth ?? 0),
    },
    nonRandomKeys: Number(row.non_random_keys),
    snapshotTable,
  };
}

/** Whether a snapshot table is there and holds what it was written with (an unlogged table comes back empty after a crash). */
async function intactSnapshot(client: pg.ClientBase, relation: string, rowsWritten: number | null): Promise<boolean> {
  const { rows: found } = await client.query<{ present: boolean; bytes: string | null }>(
    'SELECT to_regclass($1) IS NOT NULL AS present, pg_relation_size(to_regclass($1)) AS bytes',
    [relation],
  );
  return Boolean(found[0]?.present) && (Number(found[0]?.bytes) > 0 || rowsWritten === 0);
}

/**
 * Stage 2, once stage 1 is committed (so PostgreSQL may use parallel workers): the window's hits and
 * misses in one set-based statement, a hash join of the new snapshot with the previous one on
 * user_id. Entries only in the previous snapshot are the deleted ones: its rows (known from the
 * run that wrote it) - matched. A sampled table compares the keys both snapshots hold (`overlap`:
 * the smaller of two slices from the same pivot), so a slice that grew or shrank still gives
 * exact deltas.
 */
export async function compareWithPrevious(
  client: pg.ClientBase,
  table: string,
  options: {
    previousTakenAt: Date | null;
    previousRows: number | null;
    /** The keys both snapshots hold; null: both hold the whole table. */
    overlap?: KeySlice | null;
    /** The previous snapshot holds keys outside the overlap (the slice shrank): its rows inside are counted. */
    previousWider?: boolean;
  },
): Promise<SnapshotComparison> {
  const { name, previous, next } = snapshotTables(table);
  const overlap = options.overlap ?? null;
  await client.query("SET work_mem = '128MB'");
  // The snapshots are never analyzed (an unlogged table written each run): without statistics the
  // planner may sort both sides for a merge join. Two tables joined whole on a key: a hash join.
  await client.query('SET enable_mergejoin = off');
  try {
    // An unlogged table comes back empty after a server crash: a previous snapshot of zero bytes
    // that should hold rows is lost, not a table whose entries were all deleted.
    const intact = await intactSnapshot(client, previous, options.previousRows);
    const hasPrevious = options.previousTakenAt !== null && options.previousRows !== null && intact;
    let previousRows = hasPrevious ? (options.previousRows as number) : null;
    if (hasPrevious && options.previousWider) {
      const { rows } = await client.query<{ count: string }>(
        `SELECT count(*) FROM ${previous} snap WHERE ${sliceCondition('snap.user_id', overlap)}`,
      );
      previousRows = Number(rows[0]?.count ?? 0);
    }
    const row = await compareRelations(client, next, hasPrevious ? previous : null, overlap);
    return deltaOf(row, previousRows, `vigil.${name}`);
  } finally {
    await client.query('RESET work_mem');
    await client.query('RESET enable_mergejoin');
  }
}

/**
 * The census: the whole table now against the baseline the previous run wrote, read in the run's
 * transaction (the same moment as its slice) without writing anything. Undefined when the
 * baseline is gone (a crash empties an unlogged table).
 */
export async function compareCensus(
  client: pg.ClientBase,
  table: string,
  baselineRows: number,
): Promise<SnapshotComparison | undefined> {
  const { census } = snapshotTables(table);
  if (!(await intactSnapshot(client, census, baselineRows))) return undefined;
  // Inside the run's transaction: settings for this transaction only (see compareWithPrevious).
  await client.query("SET LOCAL work_mem = '128MB'");
  await client.query('SET LOCAL enable_mergejoin = off');
  const row = await compareRelations(client, quoteQualifiedName(table), census, null);
  return deltaOf(row, baselineRows, census);
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

/** Last stage, in the transaction that stores the window: the new snapshot replaces the previous one. */
export async function promoteNextSnapshot(client: pg.ClientBase, table: string): Promise<void> {
  const { name, previous, next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${previous}`);
  await client.query(`ALTER TABLE ${next} RENAME TO ${quoteIdentifier(name)}`);
}
