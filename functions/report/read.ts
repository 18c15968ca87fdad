import { type Database, quoteQualifiedName } from '../../lib/db';
import { probeUserAgentPattern } from '../../lib/synthetic';
import type { ReportConfig } from './config';
import type {
  AlertStateRecord,
  CacheWindowRecord,
  DecisionRecord,
  NotificationRecord,
  PartitionedTable,
  Period,
  ProbeRunPair,
  QueryTimes,
  RecordedNow,
  RecordedPeriod,
  RequestCounts,
} from './recorded';

/*
 * The report's reads: Vigil's own rows of a period (probe runs, cache windows, decisions, alert
 * notifications) and, from the app, its request and query logs counted over the period, its
 * partitions and its large cache entries. Reads only; every query bounded by the period.
 */

/**
 * A read of the app's own tables, which the report's login may not be granted: a refusal is a row
 * without data that says what grant it needs, not a report that fails.
 */
async function readOfApp<T>(table: string, read: () => Promise<T>): Promise<T | { table: string; missing: string }> {
  try {
    return await read();
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    return {
      table,
      missing: `the report's database login may not read ${table} (SELECT on it, as the observer role has, would let it measure this)`,
    };
  }
}

async function relationExists(db: Database, name: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    quoteQualifiedName(name),
  ]);
  return Boolean(rows[0]?.present);
}

async function hasColumn(db: Database, table: string, column: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped) AS present',
    [quoteQualifiedName(table), column],
  );
  return Boolean(rows[0]?.present);
}

const numbers = (value: unknown): number[] =>
  Array.isArray(value) ? value.filter((item): item is number => typeof item === 'number') : [];

/** Runs that compared the old page with the new, with each page's successful load times. */
export async function readProbeRuns(db: Database, period: Period): Promise<ProbeRunPair[]> {
  const { rows } = await db.query<{
    run_id: string;
    measured_at: Date;
    old_scenario: string;
    new_scenario: string;
    calls_old: number;
    calls_new: number;
    old_loads: unknown;
    new_loads: unknown;
    old_samples: number;
    new_samples: number;
  }>(
    `SELECT c.run_id, c.measured_at, c.old_scenario, c.new_scenario, c.calls_old, c.calls_new,
            o.details->'loadTimesMs' AS old_loads, o.samples AS old_samples,
            n.details->'loadTimesMs' AS new_loads, n.samples AS new_samples
       FROM vigil.probe_comparisons c
       JOIN vigil.probe_results o ON o.run_id = c.run_id AND o.name = c.old_scenario AND o.measured_at = c.measured_at
       JOIN vigil.probe_results n ON n.run_id = c.run_id AND n.name = c.new_scenario AND n.measured_at = c.measured_at
      WHERE c.measured_at >= $1 AND c.measured_at < $2
      ORDER BY c.measured_at`,
    [period.start, period.end],
  );
  return rows.map((row) => ({
    runId: row.run_id,
    measuredAt: row.measured_at,
    oldScenario: row.old_scenario,
    newScenario: row.new_scenario,
    callsOld: row.calls_old,
    callsNew: row.calls_new,
    oldLoadsMs: numbers(row.old_loads),
    newLoadsMs: numbers(row.new_loads),
    oldSamples: row.old_samples,
    newSamples: row.new_samples,
  }));
}

/** The cache function's windows (its primary source) that ended in the period. */
export async function readCacheWindows(db: Database, period: Period): Promise<CacheWindowRecord[]> {
  const { rows } = await db.query<{
    cache_table: string;
    window_start: Date | null;
    window_end: Date;
    state: 'ok' | 'no_data';
    no_data_reason: string | null;
    lookups: string | null;
    hits: string | null;
  }>(
    `SELECT cache_table, window_start, window_end, state, no_data_reason, lookups, hits FROM vigil.cache_windows
      WHERE primary_source AND window_end > $1 AND window_end <= $2 ORDER BY window_end, id`,
    [period.start, period.end],
  );
  return rows.map((row) => ({
    cacheTable: row.cache_table,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    state: row.state,
    reason: row.no_data_reason,
    lookups: row.lookups === null ? null : Number(row.lookups),
    hits: row.hits === null ? null : Number(row.hits),
  }));
}

/** Requests, server errors and response times of the app's log over the period, per UTC day and in all, without the probe's. */
export async function readRequests(db: Database, config: ReportConfig, period: Period): Promise<RequestCounts> {
  return readOfApp(config.logTable, () => countRequests(db, config, period));
}

async function countRequests(db: Database, config: ReportConfig, period: Period): Promise<RequestCounts> {
  const table = config.logTable;
  if (!(await relationExists(db, table))) return { table, missing: `table ${table} not found (REPORT_LOG_TABLE)` };
  const probeLeftOut = await hasColumn(db, table, config.logUserAgentColumn);
  const synthetic = probeLeftOut ? `coalesce(${quoteQualifiedName(config.logUserAgentColumn)} LIKE $3, false)` : 'false';
  const { rows } = await db.query<{
    day: string | null;
    requests: string;
    errors: string;
    mean_ms: number | null;
    sd_ms: number | null;
  }>(
    `WITH logged AS (
       SELECT to_char(("timestamp" AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, status_code, response_time_ms
         FROM ${quoteQualifiedName(table)}
        WHERE "timestamp" >= $1 AND "timestamp" < $2 AND NOT ${synthetic})
     SELECT day, count(*) AS requests, count(*) FILTER (WHERE status_code >= 500) AS errors,
            avg(response_time_ms)::float8 AS mean_ms, stddev_samp(response_time_ms)::float8 AS sd_ms
       FROM logged GROUP BY GROUPING SETS ((day), ()) ORDER BY day NULLS FIRST`,
    probeLeftOut ? [period.start, period.end, probeUserAgentPattern] : [period.start, period.end],
  );
  const total = rows.find((row) => row.day === null);
  return {
    table,
    requests: Number(total?.requests ?? 0),
    errors: Number(total?.errors ?? 0),
    probeLeftOut,
    meanResponseMs: total?.mean_ms ?? null,
    sdResponseMs: total?.sd_ms ?? null,
    byDay: rows
      .filter((row) => row.day !== null)
      .map((row) => ({ day: row.day as string, requests: Number(row.requests), errors: Number(row.errors) })),
  };
}

/** The app's logged query times over the period. */
export async function readQueryTimes(db: Database, config: ReportConfig, period: Period): Promise<QueryTimes> {
  return readOfApp(config.queryLogTable, () => averageQueryTimes(db, config, period));
}

async function averageQueryTimes(db: Database, config: ReportConfig, period: Period): Promise<QueryTimes> {
  const table = config.queryLogTable;
  if (!(await relationExists(db, table))) return { table, missing: `table ${table} not found (REPORT_QUERY_LOG_TABLE)` };
  const { rows } = await db.query<{ queries: string; mean_ms: number | null; sd_ms: number | null }>(
    `SELECT count(*) AS queries, avg(execution_time_ms)::float8 AS mean_ms, stddev_samp(execution_time_ms)::float8 AS sd_ms
       FROM ${quoteQualifiedName(table)} WHERE "timestamp" >= $1 AND "timestamp" < $2`,
    [period.start, period.end],
  );
  const row = rows[0];
  return { table, queries: Number(row?.queries ?? 0), meanMs: row?.mean_ms ?? null, sdMs: row?.sd_ms ?? null };
}

export async function readDecisions(db: Database, period: Period): Promise<DecisionRecord[]> {
  const { rows } = await db.query<{
    decided_at: Date;
    trigger: DecisionRecord['trigger'];
    instantaneous_action: string;
    effective_action: string | null;
  }>(
    `SELECT decided_at, trigger, instantaneous_action, effective_action FROM vigil.rollback_decisions
      WHERE decided_at >= $1 AND decided_at < $2 ORDER BY decided_at`,
    [period.start, period.end],
  );
  return rows.map((row) => ({
    decidedAt: row.decided_at,
    trigger: row.trigger,
    action: row.instantaneous_action,
    effectiveAction: row.effective_action,
  }));
}

/** Alert messages of the period (tests and digests aside), titled as their key's alert is. */
export async function readNotifications(db: Database, period: Period): Promise<NotificationRecord[]> {
  const { rows } = await db.query<{ alert_key: string; kind: string; severity: string; sent_at: Date; title: string }>(
    `SELECT n.alert_key, n.kind, n.severity, n.sent_at, coalesce(s.last_alert->>'title', n.subject) AS title
       FROM vigil.alert_notifications n LEFT JOIN vigil.alert_state s USING (alert_key)
      WHERE n.sent_at >= $1 AND n.sent_at < $2 AND n.kind NOT IN ('test', 'digest')
      ORDER BY n.sent_at, n.id`,
    [period.start, period.end],
  );
  return rows.map((row) => ({
    key: row.alert_key,
    kind: row.kind,
    severity: row.severity,
    sentAt: row.sent_at,
    title: row.title,
  }));
}

/** Keys firing now that began before the period ended: firing at its end. */
export async function readFiringAlerts(db: Database, period: Period): Promise<AlertStateRecord[]> {
  const { rows } = await db.query<{
    alert_key: string;
    status: 'firing' | 'resolved';
    incident_started_at: Date;
    resolved_at: Date | null;
    title: string;
  }>(
    `SELECT alert_key, status, incident_started_at, resolved_at, coalesce(last_alert->>'title', alert_key) AS title
       FROM vigil.alert_state WHERE status = 'firing' AND incident_started_at < $1 AND alert_key NOT LIKE 'report:%'`,
    [period.end],
  );
  return rows.map((row) => ({
    key: row.alert_key,
    status: row.status,
    incidentStartedAt: row.incident_started_at,
    resolvedAt: row.resolved_at,
    title: row.title,
  }));
}

export async function readPeriod(db: Database, config: ReportConfig, period: Period): Promise<RecordedPeriod> {
  return {
    period,
    probe: await readProbeRuns(db, period),
    cacheWindows: await readCacheWindows(db, period),
    requests: await readRequests(db, config, period),
    queries: await readQueryTimes(db, config, period),
    decisions: await readDecisions(db, period),
    notifications: await readNotifications(db, period),
    alertStates: await readFiringAlerts(db, period),
  };
}

/** Range-partitioned tables with monthly partitions (<table>_YYYY_MM), as the catalog has them now. */
export async function readPartitions(db: Database): Promise<PartitionedTable[]> {
  const { rows } = await db.query<{ table_name: string; partitions: string; monthly: string; future: string }>(
    `SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS table_name,
            count(p.oid) AS partitions,
            count(p.oid) FILTER (WHERE p.relname ~ ('^' || c.relname || '_[0-9]{4}_[0-9]{2}$')) AS monthly,
            count(p.oid) FILTER (WHERE p.relname ~ ('^' || c.relname || '_[0-9]{4}_[0-9]{2}$')
                                   AND (CASE WHEN p.relname ~ '_[0-9]{4}_[0-9]{2}$' THEN to_date(right(p.relname, 7), 'YYYY_MM') END)
                                       > date_trunc('month', now() AT TIME ZONE 'UTC')) AS future
       FROM pg_partitioned_table pt
       JOIN pg_class c ON c.oid = pt.partrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_inherits i ON i.inhparent = c.oid
       LEFT JOIN pg_class p ON p.oid = i.inhrelid
      WHERE pt.partstrat = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      GROUP BY n.nspname, c.relname ORDER BY 1`,
  );
  return rows
    .filter((row) => Number(row.monthly) > 0)
    .map((row) => ({ table: row.table_name, partitions: Number(row.partitions), futureMonths: Number(row.future) }));
}

export async function readLargeCacheEntries(
  db: Database,
  config: ReportConfig,
  overKb: number,
): Promise<RecordedNow['largeCacheEntries']> {
  return readOfApp(config.cacheTable, () => countLargeCacheEntries(db, config, overKb));
}

async function countLargeCacheEntries(
  db: Database,
  config: ReportConfig,
  overKb: number,
): Promise<RecordedNow['largeCacheEntries']> {
  const table = config.cacheTable;
  if (!(await relationExists(db, table))) return { table, missing: `table ${table} not found (REPORT_CACHE_TABLE)` };
  if (!(await hasColumn(db, table, 'payload_size_kb'))) return { table, missing: `${table} has no payload_size_kb column` };
  const { rows } = await db.query<{ large: string }>(
    `SELECT count(*) AS large FROM ${quoteQualifiedName(table)} WHERE payload_size_kb > $1`,
    [overKb],
  );
  return { table, count: Number(rows[0]?.large ?? 0), overKb };
}
