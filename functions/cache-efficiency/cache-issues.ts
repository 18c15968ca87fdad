import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';
import type { Thresholds } from '../../lib/thresholds';

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

/**
 * One scan of the cache table, or of its sampled slice (`where`, a range the primary key's index
 * answers): entry statistics, stale reads and large payloads.
 */
export async function scanCacheEntries(
  client: pg.ClientBase,
  table: string,
  columns: Set<string>,
  cache: Thresholds['cache'],
  where = 'true',
): Promise<CacheIssues> {
  const has = (column: string) => columns.has(column);
  const missing = ['expires_at', 'last_accessed', 'calculation_time_ms', 'payload_size_kb'].filter((column) => !has(column));
  const quoted = quoteQualifiedName(table);
  const staleCondition = `expires_at < now() - interval '1 hour' AND last_accessed > now() - interval '2 hours'`;
  const largeCondition = `payload_size_kb > ${Number(cache.largePayloadKb)}`;
  // Plain aggregates only, so PostgreSQL can scan in parallel; the top-10 lists are asked apart, and only when not empty.
  const select = [
    has('expires_at') ? 'count(*) FILTER (WHERE expires_at > now()) AS valid_entries' : 'NULL AS valid_entries',
    has('expires_at') ? 'count(*) FILTER (WHERE expires_at <= now()) AS expired_entries' : 'NULL AS expired_entries',
    has('calculation_time_ms')
      ? 'avg(calculation_time_ms)::float8 AS avg_calculation_time_ms'
      : 'NULL AS avg_calculation_time_ms',
    has('payload_size_kb') ? 'avg(payload_size_kb)::float8 AS avg_payload_size_kb' : 'NULL AS avg_payload_size_kb',
    // Source 000: an entry expired over an hour ago that was still read in the last two hours.
    has('expires_at') && has('last_accessed')
      ? `count(*) FILTER (WHERE ${staleCondition}) AS stale_count`
      : 'NULL AS stale_count',
    // The threshold is a validated number (lib/thresholds.ts), written as a literal.
    has('payload_size_kb') ? `count(*) FILTER (WHERE ${largeCondition}) AS large_count` : 'NULL AS large_count',
  ];
  const { rows } = await client.query(`SELECT ${select.join(',\n')} FROM ${quoted} WHERE ${where}`);
  const row = rows[0] as Record<string, unknown>;
  const stale =
    Number(row.stale_count ?? 0) > 0
      ? (
          await client.query<{ userId: string; expiredAt: Date; lastAccessed: Date }>(
            `SELECT user_id::text AS "userId", expires_at AS "expiredAt", last_accessed AS "lastAccessed" FROM ${quoted}
             WHERE ${staleCondition} AND ${where} ORDER BY last_accessed DESC LIMIT ${listLimit}`,
          )
        ).rows
      : [];
  const large =
    Number(row.large_count ?? 0) > 0
      ? (
          await client.query<{ userId: string; payloadSizeKb: number }>(
            `SELECT user_id::text AS "userId", payload_size_kb::float8 AS "payloadSizeKb" FROM ${quoted}
             WHERE ${largeCondition} AND ${where} ORDER BY payload_size_kb DESC LIMIT ${listLimit}`,
          )
        ).rows
      : [];
  const issues: CacheIssue[] = [
    ...stale.map((entry) => ({
      type: 'stale_cache_access' as const,
      severity: 'medium' as const,
      userId: entry.userId,
      detail: { expiredAt: entry.expiredAt, lastAccessed: entry.lastAccessed },
    })),
    ...large.map((entry) => ({
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

/**
 * Users recalculated more than the threshold within the window (source 000), from the
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
