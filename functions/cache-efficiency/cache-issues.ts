import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';
import type { Thresholds } from '../../lib/thresholds';
import type { DeltaRow } from './table-delta';

/** Entry statistics and the issues the source documents look for, from one scan of the cache table. */
export interface CacheStatistics {
  validEntries: number | null;
  expiredEntries: number | null;
  avgCalculationTimeMs: number | null;
  avgPayloadSizeKb: number | null;
  /** Why a statistic is null: the column it needs is not in the table. */
  missing: string[];
  /** Set when the table is sampled: the statistics and issues are of its slice, this share of the keys. */
  sliceFraction?: number;
}

export interface CacheIssue {
  type: 'frequent_recalculation' | 'stale_cache_access' | 'large_payload';
  severity: 'low' | 'medium' | 'high';
  userId: string;
  detail: Record<string, unknown>;
}

export interface CacheIssues {
  statistics: CacheStatistics;
  issues: CacheIssue[];
  /** Totals, since the issue lists are capped at the 10 worst of each type. */
  counts: { frequentRecalculation: number; staleCacheAccess: number; largePayload: number };
}

const listLimit = 10;

/** The aggregates of one scan of the entries, over whichever columns the table has. */
function entryScan(columns: Set<string>, cache: Thresholds['cache']) {
  const has = (column: string) => columns.has(column);
  const missing = ['expires_at', 'last_accessed', 'calculation_time_ms', 'payload_size_kb'].filter((column) => !has(column));
  const staleCondition = `expires_at < now() - interval '1 hour' AND last_accessed > now() - interval '2 hours'`;
  const largeCondition = `payload_size_kb > ${Number(cache.largePayloadKb)}`;
  const select = [
    has('expires_at') ? 'count(*) FILTER (WHERE expires_at > now()) AS valid_entries' : 'NULL AS valid_entries',
    has('expires_at') ? 'count(*) FILTER (WHERE expires_at <= now()) AS expired_entries' : 'NULL AS expired_entries',
    has('calculation_time_ms')
      ? 'avg(calculation_time_ms)::float8 AS avg_calculation_time_ms'
      : 'NULL AS avg_calculation_time_ms',
    has('payload_size_kb') ? 'avg(payload_size_kb)::float8 AS avg_payload_size_kb' : 'NULL AS avg_payload_size_kb',
    // The overhaul guide: an entry expired over an hour ago that was still read in the last two hours.
    has('expires_at') && has('last_accessed')
      ? `count(*) FILTER (WHERE ${staleCondition}) AS stale_count`
      : 'NULL AS stale_count',
    // The threshold is a validated number (lib/thresholds.ts), written as a literal.
    has('payload_size_kb') ? `count(*) FILTER (WHERE ${largeCondition}) AS large_count` : 'NULL AS large_count',
  ];
  const staleList = `SELECT user_id::text AS "userId", expires_at AS "expiredAt", last_accessed AS "lastAccessed"`;
  const largeList = `SELECT user_id::text AS "userId", payload_size_kb::float8 AS "payloadSizeKb"`;
  return {
    select,
    missing,
    // The columns the lists and aggregates read, for a scan that keeps the entries (scanSlice).
    read: [
      'user_id',
      'access_count',
      'calculated_at',
      ...['expires_at', 'last_accessed', 'calculation_time_ms', 'payload_size_kb'].filter(has),
    ],
    stale: has('expires_at') && has('last_accessed') ? { condition: staleCondition, list: staleList } : undefined,
    large: has('payload_size_kb') ? { condition: largeCondition, list: largeList } : undefined,
  };
}

type StaleEntry = { userId: string; expiredAt: Date; lastAccessed: Date };
type LargeEntry = { userId: string; payloadSizeKb: number };

function issuesOf(
  table: string,
  row: Record<string, unknown>,
  lists: { stale: StaleEntry[]; large: LargeEntry[] },
  missing: string[],
  cache: Thresholds['cache'],
): CacheIssues {
  const issues: CacheIssue[] = [
    ...lists.stale.map((entry) => ({
      type: 'stale_cache_access' as const,
      severity: 'medium' as const,
      userId: entry.userId,
      detail: { expiredAt: entry.expiredAt, lastAccessed: entry.lastAccessed },
    })),
    ...lists.large.map((entry) => ({
      type: 'large_payload' as const,
      severity: entry.payloadSizeKb >= cache.mediumPayloadKb ? ('medium' as const) : ('low' as const),
      userId: entry.userId,
      detail: { payloadSizeKb: entry.payloadSizeKb },
    })),
  ];
  const number = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    statistics: {
      validEntries: number(row.valid_entries),
      expiredEntries: number(row.expired_entries),
      avgCalculationTimeMs: number(row.avg_calculation_time_ms),
      avgPayloadSizeKb: number(row.avg_payload_size_kb),
      missing: missing.map((column) => `column ${column} is not in ${table}`),
    },
    issues,
    counts: {
      frequentRecalculation: 0,
      staleCacheAccess: Number(row.stale_count ?? 0),
      largePayload: Number(row.large_count ?? 0),
    },
  };
}

/** One scan of the whole cache table: entry statistics, stale reads and large payloads. */
export async function scanCacheEntries(
  client: pg.ClientBase,
  table: string,
  columns: Set<string>,
  cache: Thresholds['cache'],
): Promise<CacheIssues> {
  const scan = entryScan(columns, cache);
  const quoted = quoteQualifiedName(table);
  // Plain aggregates only, so PostgreSQL can scan in parallel; the top-10 lists are asked apart, and only when not empty.
  const { rows } = await client.query(`SELECT ${scan.select.join(',\n')} FROM ${quoted}`);
  const row = rows[0] as Record<string, unknown>;
  const stale =
    scan.stale && Number(row.stale_count ?? 0) > 0
      ? (
          await client.query<StaleEntry>(
            `${scan.stale.list} FROM ${quoted} WHERE ${scan.stale.condition} ORDER BY last_accessed DESC LIMIT ${listLimit}`,
          )
        ).rows
      : [];
  const large =
    scan.large && Number(row.large_count ?? 0) > 0
      ? (
          await client.query<LargeEntry>(
            `${scan.large.list} FROM ${quoted} WHERE ${scan.large.condition} ORDER BY payload_size_kb DESC LIMIT ${listLimit}`,
          )
        ).rows
      : [];
  return issuesOf(table, row, { stale, large }, scan.missing, cache);
}

/** What the one read of a slice also does, each a statement part over the CTE `slice` (table-delta.ts, sliceStatementParts). */
export interface SliceStatementParts {
  /** A column the parts read from the slice besides the scan's, computed once per entry: its key's hash. */
  key: string;
  /** INSERT ... RETURNING entries: the run's snapshot. */
  snapshot: string;
  /** SELECT of the comparison's aggregates: the window. */
  delta: string;
  /** INSERT ... RETURNING, with its parameters: the recalculations seen since the previous run. */
  recalculations?: { sql: string; params: unknown[] };
}

/**
 * A sampled run's one read of its slice (`where`, a range of the primary key's index): its entries
 * kept in memory for the statement, written into the run's snapshot, compared with the previous
 * one, their recalculations recorded, and scanned for statistics, stale reads and large payloads,
 * so the slice's heap pages are visited once. Returns the entries written, the comparison's row,
 * and what the scan found.
 */
export async function scanSlice(
  client: pg.ClientBase,
  table: string,
  columns: Set<string>,
  cache: Thresholds['cache'],
  where: string,
  parts: SliceStatementParts,
): Promise<{ snapshotRows: number; delta: DeltaRow; cache: CacheIssues }> {
  const scan = entryScan(columns, cache);
  const list = (part: { condition: string; list: string } | undefined, order: string) =>
    part
      ? `(SELECT coalesce(json_agg(listed), '[]') FROM (${part.list} FROM slice WHERE ${part.condition} ORDER BY ${order} LIMIT ${listLimit}) listed)`
      : "'[]'::json";
  // The slice's entries, a few bytes each, kept in memory rather than spilled to disk; the snapshots
  // are never analyzed, so the join with the previous one is told to hash, never to loop (for the
  // rest of the run's transaction, which joins nothing else). The packed snapshot's rows are
  // gathered one after the other from the sorted entries, never all at once in a hash table.
  await client.query("SET LOCAL work_mem = '128MB'");
  await client.query('SET LOCAL enable_mergejoin = off');
  await client.query('SET LOCAL enable_nestloop = off');
  await client.query('SET LOCAL enable_hashagg = off');
  const { rows } = await client.query(
    `WITH slice AS MATERIALIZED (SELECT ${[...scan.read, parts.key].join(', ')} FROM ${quoteQualifiedName(table)} WHERE ${where}),
          written AS (${parts.snapshot}),
          recorded AS (${parts.recalculations?.sql ?? 'SELECT 1 WHERE false'}),
          delta AS (${parts.delta})
     SELECT (SELECT coalesce(sum(entries), 0) FROM written) AS snapshot_rows,
            (SELECT row_to_json(delta) FROM delta) AS delta, ${scan.select.join(',\n')},
            ${list(scan.stale, 'last_accessed DESC')} AS stale_list, ${list(scan.large, 'payload_size_kb DESC')} AS large_list
     FROM slice`,
    parts.recalculations?.params ?? [],
  );
  const row = rows[0] as Record<string, unknown> & {
    stale_list: StaleEntry[];
    large_list: LargeEntry[];
    delta: DeltaRow;
  };
  const stale = row.stale_list.map((entry) => ({
    ...entry,
    expiredAt: new Date(entry.expiredAt),
    lastAccessed: new Date(entry.lastAccessed),
  }));
  return {
    snapshotRows: Number(row.snapshot_rows),
    delta: row.delta,
    cache: issuesOf(table, row, { stale, large: row.large_list }, scan.missing, cache),
  };
}

/**
 * Users recalculated more than the threshold within the window (the overhaul guide), from the
 * recalculations Vigil saw between runs; several between two runs look like one, so a lower bound.
 */
export async function frequentRecalculations(
  client: pg.ClientBase,
  table: string,
  cache: Thresholds['cache'],
): Promise<{ issues: CacheIssue[]; count: number }> {
  const { rows } = await client.query<{ user_id: string; recalculations: number }>(
    `SELECT user_id, count(*)::int AS recalculations FROM vigil.cache_recalculations
     WHERE cache_table = $1 AND calculated_at >= now() - make_interval(mins => $2)
     GROUP BY user_id HAVING count(*) > $3 ORDER BY count(*) DESC, user_id`,
    [table, cache.recalculationWindowMinutes, cache.frequentRecalculations],
  );
  return {
    count: rows.length,
    issues: rows.slice(0, listLimit).map((entry) => ({
      type: 'frequent_recalculation' as const,
      severity: entry.recalculations > cache.highRecalculations ? ('high' as const) : ('medium' as const),
      userId: entry.user_id,
      detail: {
        recalculations: entry.recalculations,
        windowMinutes: cache.recalculationWindowMinutes,
        note: 'recalculations seen by Vigil: a lower bound',
      },
    })),
  };
}

/** Recalculations older than the window are of no use; keep the table small. */
export async function pruneRecalculations(client: pg.ClientBase, table: string, windowMinutes: number): Promise<void> {
  await client.query(
    'DELETE FROM vigil.cache_recalculations WHERE cache_table = $1 AND calculated_at < now() - make_interval(mins => $2)',
    [table, windowMinutes],
  );
}
