import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportConfig } from '../../../functions/report/config';
import { type MadeReport, makeReport } from '../../../functions/report/run';
import type { ScorecardRow } from '../../../functions/report/scorecard';
import { loadConfig } from '../../../lib/config';
import { defaultThresholds } from '../../../lib/thresholds';
import { type LocalAws, startLocalAws } from '../../../local/local-aws';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { recordWeek, type WeekFaults, weekEnd, weekStart } from '../../support/recorded-week';
import { localS3Client } from '../../support/s3';

const bucket = 'vigil-test-reports';

/** A database with a recorded week in it, and the report of that week. */
async function reportOfWeek(s3: S3Client, faults: WeekFaults, bucketName: string) {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await recordWeek(client, faults, { s3, name: bucketName });
  } finally {
    await client.end();
  }
  const config = loadConfig([reportConfig], { REPORT_BUCKET: bucketName }).report;
  const made = await makeReport({ db: database.db, s3, config, thresholds: defaultThresholds, stage: 'test' }, 'week', weekEnd, {
    trigger: 'cli',
    requestedBy: 'test',
    publish: true,
  });
  return { database, made };
}

const healthy: WeekFaults = {};
const faulty: WeekFaults = { newPageMs: 2400, errorPercent: 2, backupGapHours: 60, largeEntries: 12 };

const row = (made: MadeReport, id: string) => {
  const found = made.report.rows.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no row ${id} in ${made.report.rows.map((candidate) => candidate.id).join(', ')}`);
  return found;
};
const verdicts = (made: MadeReport) => Object.fromEntries(made.report.rows.map((candidate) => [candidate.id, candidate.verdict]));

describe('the rollout scorecard of a recorded week', () => {
  let sns: LocalAws;
  let s3: S3Client;
  let good: { database: TestDatabase; made: MadeReport };
  let bad: { database: TestDatabase; made: MadeReport };

  beforeAll(async () => {
    sns = await startLocalAws({ topics: [], buckets: [bucket, `${bucket}-faults`] });
    s3 = localS3Client(sns);
    good = await reportOfWeek(s3, healthy, bucket);
    bad = await reportOfWeek(s3, faulty, `${bucket}-faults`);
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    await Promise.all([good?.database.drop(), bad?.database.drop(), sns?.stop()]);
  });

  it('judges every promise of a healthy week met, and says which it cannot measure or show yet', () => {
    expect(verdicts(good.made)).toEqual({
      'load-reduction-p50': 'met',
      'load-reduction-p95': 'met',
      'dashboard-load-p95': 'met',
      'api-calls': 'met',
      'cache-hit-ratio:public.user_performance': 'met',
      'error-rate': 'met',
      'api-response-time': 'met',
      'query-time': 'met',
      decisions: 'met',
      'backup-age:portfolio': 'met',
      'backup-complete:portfolio': 'met',
      // Twelve days of backups cannot show four weekly and twelve monthly ones yet.
      'backup-retention:portfolio': 'not_shown',
      'partitions:api_performance_log': 'met',
      'partitions:query_performance_log': 'met',
      'partitions:system_resource_metrics': 'met',
      'partitions:vigil.probe_results': 'met',
      'large-cache-entries': 'met',
      'restore-check': 'not_measured',
      'page-navigation': 'not_measured',
      'code-lines': 'not_measured',
      'user-satisfaction': 'not_measured',
      'bundle-size': 'not_measured',
      'cache-adoption': 'not_measured',
      'host-resources': 'not_measured',
    });
    expect(good.made.report.missed).toEqual([]);
    expect(good.made.report.recommendations).toEqual([]);
    // Every measured row carries its n, window and the figures it stands on.
    for (const measured of good.made.report.rows.filter((candidate) => candidate.value !== null)) {
      expect(measured.window, measured.id).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}Z/);
      expect(measured.why, measured.id).not.toBe('');
    }
    expect(row(good.made, 'backup-retention:portfolio').why).toMatch(/weekly 2 of 4.*too short yet for the weekly tier/);
    expect(row(good.made, 'api-calls').display).toBe('87.5 % (8 calls to 1)');
  });

  it('carries n, bounds and the previous week as a trend in plain words', () => {
    const hitRatio = row(good.made, 'cache-hit-ratio:public.user_performance');
    expect(hitRatio.n).toBe(7 * 96);
    expect(hitRatio.trend).toMatch(/^91\.\d % \(n = 672 windows\), down from 93\.\d %$/);
    expect(hitRatio.why).toContain('1 window without data (most: warming after a restart of the cache)');
    const errors = row(good.made, 'error-rate');
    // The probe's own (failing) requests are left out: only the app's users count.
    expect(errors.n).toBe((7 * 86_400) / 25);
    expect(errors.interval?.high).toBeLessThan(0.1);
    const p50 = row(good.made, 'load-reduction-p50');
    expect(p50.n).toBe(7 * 48 * 20);
    expect(p50.interval?.low).toBeLessThanOrEqual(p50.value as number);
    expect(p50.interval?.high).toBeGreaterThanOrEqual(p50.value as number);
  });

  it('turns the rows the faults touch to missed, with their figures, and fires the rules of the sources', () => {
    const made = bad.made;
    expect(made.report.missed.sort()).toEqual(
      [
        'load-reduction-p50',
        'load-reduction-p95',
        'dashboard-load-p95',
        'error-rate',
        'decisions',
        'backup-age:portfolio',
        'large-cache-entries',
      ].sort(),
    );
    expect(row(made, 'dashboard-load-p95').value).toBeGreaterThan(2400);
    expect(row(made, 'load-reduction-p50').value).toBeLessThan(50);
    const errors = row(made, 'error-rate') as ScorecardRow;
    expect(errors.value).toBeCloseTo(2, 1);
    expect(errors.interval?.low).toBeGreaterThan(0.1);
    expect(errors.why).toMatch(/^4\d\d server errors \(5xx\) in 24,192 requests/);
    expect(row(made, 'decisions').display).toBe('144 rollbacks advised');
    expect(row(made, 'backup-age:portfolio').value).toBeGreaterThan(48);
    expect(made.report.recommendations.map((item) => item.rule)).toEqual([
      'backup older than 48 h',
      'more than 10 cache entries over 500 KB',
    ]);
    // Untouched promises keep their verdicts.
    expect(row(made, 'api-calls').verdict).toBe('met');
    expect(row(made, 'cache-hit-ratio:public.user_performance').verdict).toBe('met');
  });

  it('agrees with the stored rows it comes from, recomputed apart in SQL', async () => {
    const { rows } = await good.database.db.query<{ hit_ratio: number; error_rate: number; old_p50: number; new_p50: number }>(
      `SELECT (SELECT 100.0 * sum(hits) / sum(lookups) FROM vigil.cache_windows
                WHERE primary_source AND state = 'ok' AND window_end > $1 AND window_end <= $2)::float8 AS hit_ratio,
              (SELECT 100.0 * count(*) FILTER (WHERE status_code >= 500) / count(*) FROM api_performance_log
                WHERE "timestamp" >= $1 AND "timestamp" < $2 AND user_agent NOT LIKE 'vigil-probe/%')::float8 AS error_rate,
              (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY value::float8) FROM vigil.probe_results r,
                      jsonb_array_elements_text(r.details->'loadTimesMs') AS value
                WHERE r.name = 'dashboard-old' AND r.measured_at >= $1 AND r.measured_at < $2) AS old_p50,
              (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY value::float8) FROM vigil.probe_results r,
                      jsonb_array_elements_text(r.details->'loadTimesMs') AS value
                WHERE r.name = 'dashboard-new' AND r.measured_at >= $1 AND r.measured_at < $2) AS new_p50`,
      [weekStart, weekEnd],
    );
    const stored = rows[0] as NonNullable<(typeof rows)[0]>;
    expect(row(good.made, 'cache-hit-ratio:public.user_performance').value).toBeCloseTo(stored.hit_ratio, 10);
    expect(row(good.made, 'error-rate').value).toBeCloseTo(stored.error_rate, 10);
    expect(row(good.made, 'load-reduction-p50').value).toBeCloseTo(
      Math.round((1 - stored.new_p50 / stored.old_p50) * 10_000) / 100,
      10,
    );
  });

  it('stores the report in schema vigil and puts its page into the bucket under reports/', async () => {
    const { rows } = await good.database.db.query<{
      period: string;
      missed: string[];
      scorecard: { rows: unknown[] };
      page_key: string;
    }>('SELECT period, missed, scorecard, page_key FROM vigil.reports WHERE id = $1', [good.made.id]);
    expect(rows[0]?.period).toBe('week');
    expect(rows[0]?.missed).toEqual([]);
    expect(rows[0]?.scorecard.rows).toHaveLength(good.made.report.rows.length);
    expect(rows[0]?.page_key).toMatch(/^reports\/week\/\d{4}-\d{2}-\d{2}T06-00-00Z\.html$/);
    const page = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: rows[0]?.page_key }));
    expect(page.ContentType).toBe('text/html; charset=utf-8');
    expect(await page.Body?.transformToString()).toBe(good.made.html);
    expect(good.made.page?.url).toMatch(/X-Amz-Expires=604800/);
    const fetched = await fetch(good.made.page?.url as string);
    expect(fetched.status).toBe(200);
  });
});
