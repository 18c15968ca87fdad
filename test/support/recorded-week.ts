import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { seededRandom } from '../../local/seeded-random';

/*
 * A recorded week of a rollout, as the other functions store it: probe runs every 30 minutes (the
 * old 8-call page and the new 1-call one), cache windows every 15 minutes, scheduled decisions
 * every 10 minutes, the app's request and query logs, a few alerts, and daily backups in the
 * bucket. The week before it is recorded too (for the trends), a little better on the cache. Faults
 * turn it into a bad week: a slow new page, server errors in the log, a stale backup.
 */

export interface WeekFaults {
  /** The new page's loads take this long (ms) instead of about 600 ms. */
  newPageMs?: number;
  /** Share of the app's requests that answer 5xx, in percent (healthy: 0.02). */
  errorPercent?: number;
  /** No backup in the last this many hours of the week. */
  backupGapHours?: number;
  /** Cache entries over 500 KB (healthy: 3). */
  largeEntries?: number;
}

/** Today 06:00 UTC (yesterday's, before 06:00): the app's monthly partitions cover the two weeks before it. */
export const weekEnd = (() => {
  const end = new Date();
  end.setUTCHours(6, 0, 0, 0);
  return end.getTime() > Date.now() ? new Date(end.getTime() - 86_400_000) : end;
})();
export const weekStart = new Date(weekEnd.getTime() - 7 * 86_400_000);
const previousStart = new Date(weekStart.getTime() - 7 * 86_400_000);

export const probeEveryMinutes = 30;
export const loadsPerPage = 20;

const round3 = (value: number) => Math.round(value * 1000) / 1000;

async function insertProbeRuns(client: pg.Client, from: Date, to: Date, faults: WeekFaults, seed: number) {
  const random = seededRandom(seed);
  for (let at = from.getTime() + 60_000; at < to.getTime(); at += probeEveryMinutes * 60_000) {
    const measuredAt = new Date(at);
    const runId = crypto.randomUUID();
    const oldLoads = Array.from({ length: loadsPerPage }, () => round3(3600 + random() * 900));
    const newLoads = Array.from({ length: loadsPerPage }, () => round3((faults.newPageMs ?? 560) + random() * 120));
    for (const [name, calls, loads] of [
      ['dashboard-old', 8, oldLoads],
      ['dashboard-new', 1, newLoads],
    ] as const) {
      await client.query(
        `INSERT INTO vigil.probe_results (run_id, measured_at, kind, name, samples, successes, success_percent, budget_state, details)
         VALUES ($1, $2, 'scenario', $3, $4, $4, 100, 'ok', $5)`,
        [runId, measuredAt, name, loads.length, JSON.stringify({ calls, loadTimesMs: loads })],
      );
    }
    await client.query(
      `INSERT INTO vigil.probe_comparisons (run_id, measured_at, old_scenario, new_scenario, calls_old, calls_new,
                                            api_call_reduction_percent, baseline_ms, details)
       VALUES ($1, $2, 'dashboard-old', 'dashboard-new', 8, 1, 87.5, 4000, '{}')`,
      [runId, measuredAt],
    );
  }
}

/**
 * Records the week (and the one before it) into a database with Vigil's and the app's schema, and
 * the backups into the bucket. Returns how many rows of each it wrote.
 */
export async function recordWeek(client: pg.Client, faults: WeekFaults = {}, bucket?: { s3: S3Client; name: string }) {
  await insertProbeRuns(client, weekStart, weekEnd, faults, 7);
  await insertProbeRuns(client, previousStart, weekStart, {}, 11);
  // Cache windows of 15 minutes: 2,000 lookups each, about 91 % hits this week and 93 % the week before.
  for (const [from, to, hitShare] of [
    [weekStart, weekEnd, 0.91],
    [previousStart, weekStart, 0.93],
  ] as const) {
    await client.query(
      `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, lookups, hits, misses, errors,
                                        hit_ratio, cache_failure_rate, error_rate)
       SELECT 'public.user_performance', 'counters', true, t - interval '15 minutes', t, 'ok', 2000, h, 2000 - h, 0,
              h / 20.0, (2000 - h) / 20.0, 0
         FROM generate_series($1::timestamptz + interval '15 minutes', $2::timestamptz, interval '15 minutes') AS t,
              LATERAL (SELECT round($3::numeric * 2000 + (extract(minute FROM t) - 22) * 0.4)::int AS h) AS hits`,
      [from, to, hitShare],
    );
  }
  // One warming window without data, as after a restart of the cache.
  await client.query(
    `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, no_data_reason)
     VALUES ('public.user_performance', 'counters', true, $1::timestamptz - interval '15 minutes', $1, 'no_data', 'warming after a restart of the cache')`,
    [new Date(weekStart.getTime() + 3 * 86_400_000 + 7 * 60_000)],
  );
  // The app's request log: 24,000 requests in the week, every 25 s; 5xx on every n-th.
  const errorEvery = Math.round(100 / (faults.errorPercent ?? 0.02));
  for (const [from, to] of [
    [weekStart, weekEnd],
    [previousStart, weekStart],
  ] as const) {
    await client.query(
      `INSERT INTO api_performance_log ("timestamp", endpoint, method, status_code, response_time_ms, user_agent)
       SELECT t, '/api/portfolio/complete', 'GET', CASE WHEN n % $3 = 0 THEN 503 ELSE 200 END, 180 + (n % 97) * 2, 'Mozilla/5.0'
         FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 second', interval '25 seconds') WITH ORDINALITY AS g(t, n)`,
      [from, to, from === weekStart ? errorEvery : 5000],
    );
  }
  // The probe's own requests, which the error rate leaves out: all of them failing.
  await client.query(
    `INSERT INTO api_performance_log ("timestamp", endpoint, method, status_code, response_time_ms, user_agent)
     SELECT t, '/api/portfolio/complete', 'GET', 500, 20, 'vigil-probe/1'
       FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 second', interval '10 minutes') AS t`,
    [weekStart, weekEnd],
  );
  await client.query(
    `INSERT INTO query_performance_log ("timestamp", query_hash, query_preview, execution_time_ms)
     SELECT t, 'q1', 'SELECT payload FROM user_performance WHERE user_id = $1', 60 + (extract(second FROM t)::int % 50)
       FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 second', interval '2 minutes') AS t`,
    [weekStart, weekEnd],
  );
  // Scheduled decisions every 10 minutes; with errors in the log, the last day advises a staged rollback.
  await client.query(
    `INSERT INTO vigil.rollback_decisions (decided_at, trigger, requested_by, instantaneous_action, effective_action, severity, signals, answer)
     SELECT t, 'schedule', 'schedule', a, a, 'info', '[]', '{}'
       FROM generate_series($1::timestamptz + interval '5 minutes', $2::timestamptz, interval '10 minutes') AS t,
            LATERAL (SELECT CASE WHEN $3::boolean AND t > $2::timestamptz - interval '1 day' THEN 'staged_rollback' ELSE 'continue_deployment' END AS a) AS action`,
    [weekStart, weekEnd, (faults.errorPercent ?? 0) >= 1],
  );
  await client.query(
    `INSERT INTO vigil.rollback_decisions (decided_at, trigger, requested_by, instantaneous_action, effective_action, severity, signals, answer)
     VALUES ($1, 'http', 'arn:aws:iam::123456789012:user/ops', 'continue_deployment', 'continue_deployment', 'info', '[]', '{}')`,
    [new Date(weekStart.getTime() + 86_400_000)],
  );
  // Alerts: the new page over budget for 40 minutes on day 2; the hit ratio firing since day 6.
  const day = (n: number, hour: number) => new Date(weekStart.getTime() + n * 86_400_000 + hour * 3_600_000);
  const notification = (key: string, kind: string, severity: string, at: Date, title: string) =>
    client.query(
      `INSERT INTO vigil.alert_notifications (alert_key, kind, severity, subject, size_bytes, truncated, sent_at)
       VALUES ($1, $2, $3, $4, 100, false, $5)`,
      [key, kind, severity, `Vigil test ${kind}: ${title}`, at],
    );
  await notification('probe:dashboard-new:budget', 'firing', 'major', day(2, 3), 'Load time of page dashboard-new over budget');
  await notification(
    'probe:dashboard-new:budget',
    'resolved',
    'major',
    day(2, 3 + 40 / 60),
    'Load time of page dashboard-new over budget',
  );
  await notification('cache:public.user_performance:hit-ratio', 'firing', 'minor', day(6, 1), 'Cache hit ratio below 85 %');
  await client.query(
    `INSERT INTO vigil.alert_state (alert_key, severity, status, incident_started_at, last_fired_at, last_notified_at, last_alert)
     VALUES ('cache:public.user_performance:hit-ratio', 'minor', 'firing', $1, $1, $1, $2)`,
    [day(6, 1), JSON.stringify({ title: 'Cache hit ratio below 85 %' })],
  );
  // The cache table: entries, a few of them large.
  await client.query(
    `INSERT INTO users (email, display_name) SELECT 'user' || n || '@example.org', 'User ' || n FROM generate_series(1, 20) AS n`,
  );
  await client.query(
    `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at)
     SELECT id, '{}', CASE WHEN row_number() OVER (ORDER BY email) <= $1 THEN 640 ELSE 120 END, 40, now(), now() + interval '1 hour' FROM users`,
    [faults.largeEntries ?? 3],
  );
  if (bucket) {
    // Daily backups at 02:00 for 12 days; one before the week never completed.
    const gapStart = weekEnd.getTime() - (faults.backupGapHours ?? 0) * 3_600_000;
    for (let dayIndex = 11; dayIndex >= 0; dayIndex -= 1) {
      const startedAt = new Date(weekEnd.getTime() - 4 * 3_600_000 - dayIndex * 86_400_000);
      if (startedAt.getTime() > gapStart) continue;
      const iso = startedAt.toISOString();
      const key = `backups/portfolio/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/portfolio-${iso}.dump`;
      await bucket.s3.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: 'x'.repeat(1000 + dayIndex * 10) }));
      if (dayIndex === 9) continue;
      await bucket.s3.send(
        new PutObjectCommand({
          Bucket: bucket.name,
          Key: key.replace(/\.dump$/, '.manifest.json'),
          Body: '{"format":"vigil-backup-manifest/1"}',
        }),
      );
    }
  }
}
