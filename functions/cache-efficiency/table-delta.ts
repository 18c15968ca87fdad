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

/** A count as PostgreSQL gives a bigint: text from a query's row, a number inside JSON (row_to_json). */
type Count = string | number;

/** The comparison's aggregates (deltaSelect). */
export interface DeltaRow {
  current_rows: Count;
  matched_rows: Count;
  recalculated_rows: Count;
  reset_rows: Count;
  backdated_rows: Count;
  hits: Count;
  hits_since_calculation: Count;
  hits_squared: number | null;
  lookups_squared: number | null;
  hits_times_lookups: number | null;
  hits_fourth: number | null;
  hits_cubed_times_lookups: number | null;
  hits_squared_times_lookups_squared: number | null;
  hits_times_lookups_cubed: number | null;
  lookups_fourth: number | null;
  non_random_keys: Count;
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

/**
 * The 64-bit hash of a UUID key: what a packed snapshot keeps of each key. PostgreSQL's
 * uuid_hash_extended, seed 0: the hash that hash partitioning of a uuid column rests on, so it stays
 * the same from run to run and across an upgrade in place (pg_upgrade keeps a hash-partitioned
 * table's rows where they are). Two of a slice's keys share it with a chance of about n^2 / 2^65 a run: 1 in 10
 * billion at 60,000 keys (the two entries' counts would then be compared with each other's in
 * that one window). A built-in function of the key: next to nothing a run, where lowKey's text
 * steps took about 35 ms at 60,000 entries.
 */
export const keyHash = (column: string) => `uuid_hash_extended(${column}, 0)`;

/**
 * The low 64 bits of a UUID key, as bigint: what the packed snapshots of the version before kept
 * of each key (the column `keys`), read to compare with one still stored; no longer written. Of a
 * random UUID's 122 random bits, 62 are in them.
 */
export const lowKey = (column: string) => `('x' || encode(substring(uuid_send(${column}) FROM 9), 'hex'))::bit(64)::bigint`;

/** Entries per row of a sampled snapshot, about: the arrays of a row are compressed together, its memory bounded. */
const entriesPerRow = 8_000;

/**
 * A sampled run's snapshot, created empty: packed, a row per about 8,000 entries holding three
 * arrays (the keys' hashes, access_count, calculated_at), for the one read of the slice to fill
 * (packedSnapshotInsert). About 16 bytes an entry against the 60 of a row each, so a slice of
 * 60,000 entries writes under a megabyte (docs/benchmarks.md).
 */
export async function createNextSnapshot(client: pg.ClientBase, table: string): Promise<string> {
  const { next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${next}`);
  await client.query(
    `CREATE UNLOGGED TABLE ${next} AS
       SELECT ARRAY[0::bigint] AS key_hashes, ARRAY[access_count::bigint] AS counts, ARRAY[calculated_at] AS calculated
       FROM ${quoteQualifiedName(table)} WITH NO DATA`,
  );
  // Hashes do not compress: PostgreSQL is told not to try.
  await client.query(`ALTER TABLE ${next} ALTER key_hashes SET STORAGE EXTERNAL`);
  return next;
}

/**
 * The statement part that fills a packed snapshot (`into`, createNextSnapshot) from `from` (the
 * slice's rows, a CTE holding each entry's keyHash as `key`) where `where` holds, `entries` of them
 * expected (the planner's estimate). The entries go into rows by their hash (`entries` / 8,000 rows,
 * so about 8,000 entries each), and into each row by calculated_at, so neighbouring timestamps
 * share their high bytes and compress (about 6 bytes an entry instead of 8; unordered, PostgreSQL
 * stores them raw). One sort gives both; the order means nothing else, and the three arrays of a
 * row gather the same rows in the same order, so their elements stay aligned whatever it is.
 * Returns a row per snapshot row, `entries` in it.
 */
export function packedSnapshotInsert(into: string, from: string, where: string, entries: number): string {
  const rows = Math.max(1, Math.ceil(entries / entriesPerRow));
  return `INSERT INTO ${into} (key_hashes, counts, calculated)
    SELECT array_agg(key), array_agg(access_count), array_agg(calculated_at)
    FROM (SELECT key, access_count::bigint AS access_count, calculated_at, abs(key % ${rows}) AS bucket
          FROM ${from} WHERE ${where} ORDER BY bucket, calculated_at) sorted
    GROUP BY bucket
    RETURNING cardinality(key_hashes) AS entries`;
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

/** A stored snapshot as a comparison reads it: a row per entry (a whole table's, a census), or packed (a slice's). */
export interface StoredSnapshot {
  relation: string;
  /** The column of a packed snapshot's keys: `key_hashes` (keyHash), or `keys` (lowKey, as the version before wrote them); false: a row per entry. */
  packed: false | 'key_hashes' | 'keys';
}

/**
 * The stored snapshot's entries as (key, access_count, calculated_at), joined to `cur`'s entry of
 * the same key; `hashOfCurrent`: cur's keyHash, where the relation already holds it.
 */
function joinedSnapshot(previous: StoredSnapshot | null, hashOfCurrent = keyHash('cur.user_id')): string {
  if (!previous) {
    return '(SELECT NULL::uuid AS key, NULL::bigint AS access_count, NULL::timestamptz AS calculated_at) snap ON false';
  }
  if (!previous.packed) {
    return `(SELECT user_id AS key, access_count, calculated_at FROM ${previous.relation}) snap ON snap.key = cur.user_id`;
  }
  const keyOfCurrent = previous.packed === 'keys' ? lowKey('cur.user_id') : hashOfCurrent;
  return `(SELECT p.key, p.access_count, p.calculated_at
           FROM ${previous.relation} s, unnest(s.${previous.packed}, s.counts, s.calculated) AS p(key, access_count, calculated_at)) snap
          ON snap.key = ${keyOfCurrent}`;
}

/**
 * The comparison's aggregates, as one SELECT over `current` (a relation, or the CTE of a slice read
 * in the same statement, which holds each entry's keyHash as `key`): the per-entry hits and lookups
 * of each entry feed the sample's interval. The entries' subquery is kept apart (OFFSET 0): inlined,
 * its CASE expressions would be evaluated again in each of the fifteen aggregates.
 */
export function deltaSelect(
  current: string,
  previous: StoredSnapshot | null,
  overlap: KeySlice | null,
  options: { currentHasKeyHash: boolean } = { currentHasKeyHash: false },
): string {
  return `SELECT
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
              snap.key IS NOT NULL AS matched,
              coalesce(cur.calculated_at > snap.calculated_at, false) AS recalculated,
              coalesce(cur.calculated_at = snap.calculated_at AND cur.access_count < snap.access_count, false) AS reset,
              coalesce(cur.calculated_at < snap.calculated_at, false) AS backdated,
              CASE WHEN snap.key IS NULL OR cur.calculated_at > snap.calculated_at THEN cur.access_count
                   WHEN cur.calculated_at = snap.calculated_at AND cur.access_count >= snap.access_count
                     THEN cur.access_count - snap.access_count
                   ELSE 0 END AS hits,
              CASE WHEN snap.key IS NULL OR cur.calculated_at > snap.calculated_at THEN 1 ELSE 0 END AS misses
       FROM ${current} cur LEFT JOIN ${joinedSnapshot(previous, options.currentHasKeyHash ? 'cur.key' : undefined)}
       WHERE ${sliceCondition('cur.user_id', overlap)}
       OFFSET 0
     ) entry`;
}

async function compareRelations(
  client: pg.ClientBase,
  current: string,
  previous: StoredSnapshot | null,
  overlap: KeySlice | null,
): Promise<DeltaRow> {
  const { rows } = await client.query<DeltaRow>(deltaSelect(current, previous, overlap));
  return rows[0] as DeltaRow;
}

export function deltaOf(row: DeltaRow, previousRows: number | null, snapshotTable: string): SnapshotComparison {
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

/**
 * A stored snapshot, when it is there and holds what it was written with: an unlogged table comes
 * back empty after a server crash, and a snapshot of zero bytes that should hold rows is lost, not
 * a table whose entries were all deleted. Null when lost.
 */
async function intactSnapshot(
  client: pg.ClientBase,
  relation: string,
  rowsWritten: number | null,
): Promise<StoredSnapshot | null> {
  const { rows: found } = await client.query<{ present: boolean; bytes: string | null; packed: 'key_hashes' | 'keys' | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS present, pg_relation_size(to_regclass($1)) AS bytes,
            (SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname IN ('key_hashes', 'keys') AND NOT attisdropped
             ORDER BY attname LIMIT 1) AS packed`,
    [relation],
  );
  const row = found[0];
  const intact = Boolean(row?.present) && (Number(row?.bytes) > 0 || rowsWritten === 0);
  return intact ? { relation, packed: row?.packed ?? false } : null;
}

/** The previous run's snapshot of `table`, packed or a row per entry; null when there is none or it was lost. */
export function previousSnapshot(client: pg.ClientBase, table: string, rowsWritten: number): Promise<StoredSnapshot | null> {
  return intactSnapshot(client, snapshotTables(table).previous, rowsWritten);
}

/**
 * The previous snapshot's entries inside `overlap`, when it holds keys outside it (a slice that
 * shrank, or a whole table now sliced). Only a snapshot with whole keys can say: a packed one is
 * never compared over less than its own slice (compareScope reads the larger slice instead).
 */
export async function previousRowsIn(client: pg.ClientBase, previous: StoredSnapshot, overlap: KeySlice | null): Promise<number> {
  if (previous.packed) throw new Error('a packed snapshot holds no whole keys: it cannot be counted over part of its slice');
  const { rows } = await client.query<{ count: string }>(
    `SELECT count(*) FROM ${previous.relation} snap WHERE ${sliceCondition('snap.user_id', overlap)}`,
  );
  return Number(rows[0]?.count ?? 0);
}

/**
 * Stage 2 of a whole table, once stage 1 is committed (so PostgreSQL may use parallel workers): the
 * window's hits and misses in one set-based statement, a hash join of the new snapshot with the
 * previous one on the key. Entries only in the previous snapshot are the deleted ones: its rows
 * inside the compared keys (`previousRows`) - matched. A previous slice's snapshot is compared
 * over its keys (`overlap`). A sampled table compares in stage 1 (sliceStatementParts).
 */
export async function compareWithPrevious(
  client: pg.ClientBase,
  table: string,
  options: {
    /** Null: none, lost, or of another slice. */
    previous: StoredSnapshot | null;
    /** Its rows inside the compared keys. */
    previousRows: number | null;
    /** The keys both snapshots hold; null: both hold the whole table. */
    overlap: KeySlice | null;
  },
): Promise<SnapshotComparison> {
  const { name, next } = snapshotTables(table);
  await client.query("SET work_mem = '128MB'");
  // The snapshots are never analyzed (an unlogged table written each run): without statistics the
  // planner may sort both sides for a merge join. Two tables joined whole on a key: a hash join.
  await client.query('SET enable_mergejoin = off');
  try {
    const row = await compareRelations(client, next, options.previous, options.overlap);
    return deltaOf(row, options.previous ? options.previousRows : null, `vigil.${name}`);
  } finally {
    await client.query('RESET work_mem');
    await client.query('RESET enable_mergejoin');
  }
}

/**
 * What a sampled run's one read of its slice (scanSlice, the CTE `slice`) also does: fill the
 * packed snapshot with the keys of `write`, compare the keys of `overlap` with the previous
 * snapshot, and record the recalculations it shows since `previousTakenAt`.
 */
export function sliceStatementParts(
  table: string,
  options: {
    write: KeySlice;
    /** The entries of `write`, as the planner estimates them. */
    writeEntries: number;
    previous: StoredSnapshot | null;
    overlap: KeySlice | null;
    previousTakenAt: Date | null;
  },
) {
  const { name, next } = snapshotTables(table);
  return {
    /** What the window names as its snapshot, as compareWithPrevious does. */
    snapshotTable: `vigil.${name}`,
    snapshot: packedSnapshotInsert(next, 'slice', sliceCondition('user_id', options.write), options.writeEntries),
    key: `${keyHash('user_id')} AS key`,
    delta: deltaSelect('slice', options.previous, options.overlap, { currentHasKeyHash: true }),
    recalculations: options.previousTakenAt
      ? { sql: recalculationsInsert('slice'), params: [table, options.previousTakenAt] }
      : undefined,
  };
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
  const baseline = await intactSnapshot(client, census, baselineRows);
  if (!baseline) return undefined;
  // Inside the run's transaction: settings for this transaction only (see compareWithPrevious).
  await client.query("SET LOCAL work_mem = '128MB'");
  await client.query('SET LOCAL enable_mergejoin = off');
  const row = await compareRelations(client, quoteQualifiedName(table), baseline, null);
  return deltaOf(row, baselineRows, census);
}

/** What an earlier, failed attempt at the same window recorded goes first: recording is idempotent. */
export async function forgetRecalculationsSince(client: pg.ClientBase, table: string, previousTakenAt: Date): Promise<void> {
  await client.query('DELETE FROM vigil.cache_recalculations WHERE cache_table = $1 AND calculated_at > $2', [
    table,
    previousTakenAt,
  ]);
}

/** The recalculations `from` shows since the previous run ($2), recorded for the table ($1). */
const recalculationsInsert = (from: string) =>
  `INSERT INTO vigil.cache_recalculations (cache_table, user_id, calculated_at)
   SELECT $1, user_id::text, calculated_at FROM ${from} WHERE calculated_at > $2 RETURNING 1`;

/**
 * The recalculations a whole table's new snapshot shows since the previous run (new entries and
 * moved calculated_at), kept for "recalculated more than 3 times in 2 hours". Idempotent.
 */
export async function recordRecalculations(client: pg.ClientBase, table: string, previousTakenAt: Date | null): Promise<number> {
  if (!previousTakenAt) return 0;
  await forgetRecalculationsSince(client, table, previousTakenAt);
  const recorded = await client.query(recalculationsInsert(snapshotTables(table).next), [table, previousTakenAt]);
  return recorded.rowCount ?? 0;
}

/** Last stage, in the transaction that stores the window: the new snapshot replaces the previous one. */
export async function promoteNextSnapshot(client: pg.ClientBase, table: string): Promise<void> {
  const { name, previous, next } = snapshotTables(table);
  await client.query(`DROP TABLE IF EXISTS ${previous}`);
  await client.query(`ALTER TABLE ${next} RENAME TO ${quoteIdentifier(name)}`);
}
