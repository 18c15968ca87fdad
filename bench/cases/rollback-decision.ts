import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { percentile } from '../../lib/stats';
import { seedDemoData } from '../../local/demo-app/seed';
import { startLocalAws } from '../../local/local-aws';
import { applyAppSchema, migrate } from '../../local/migrate';
import { projectRoot } from '../../local/paths';
import { startEmbeddedPostgres } from '../../local/postgres';
import type { BenchCase, BenchRow } from '../table';

const calls = 300;

/** GET /rollback/decision through the handler (middy, auth, every signal read), against SELECT 1. */
export const rollbackDecisionLatency: BenchCase = {
  name: 'rollback-decision',
  async run(): Promise<BenchRow[]> {
    const server = await startEmbeddedPostgres({ fast: true });
    const sns = await startLocalAws({ topics: ['bench-alerts'] });
    const client = new pg.Client({ connectionString: server.adminUrl });
    try {
      await migrate(server.adminUrl);
      await applyAppSchema(server.adminUrl);
      await client.connect();
      await seedDemoData(client, { users: 200, transactionsPerUser: 5, adoptionPercent: 80 });
      // A busy quarter hour of the request log: 20,000 requests, 1 % of them 5xx.
      await client.query(
        `INSERT INTO api_performance_log ("timestamp", endpoint, method, status_code, response_time_ms)
         SELECT now() - random() * interval '14 minutes', '/api/portfolio/complete', 'GET', CASE WHEN random() < 0.01 THEN 500 ELSE 200 END, 20 + random() * 200
         FROM generate_series(1, 20000)`,
      );
      await client.query(
        `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, lookups, hits, misses, errors, hit_ratio, cache_failure_rate, error_rate, details)
         VALUES ('user_performance', 'counters', true, now() - interval '15 minutes', now(), 'ok', 400, 360, 40, 0, 90, 10, 0, '{}')`,
      );
      await client.query('ANALYZE');
      Object.assign(process.env, {
        DATABASE_URL: server.adminUrl,
        AWS_ENDPOINT_URL_SNS: sns.endpoint,
        VIGIL_ALERT_TOPIC_ARN: sns.topics['bench-alerts']?.topicArn,
        VIGIL_API_TOKEN: 'vigil-local-token',
        ROLLBACK_ADOPTION_QUERY:
          'SELECT 100.0 * count(*) FILTER (WHERE uses_new_dashboard) / nullif(count(*), 0) AS value, count(*) AS sample_count FROM users',
        ROLLBACK_COMPLAINTS_QUERY:
          "SELECT count(*) AS value FROM support_tickets WHERE category = 'performance' AND created_at > now() - interval '1 hour'",
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      });
      const { handler } = await import('../../functions/rollback-decision/handler');
      const event = JSON.parse(readFileSync(join(projectRoot, 'events', 'rollbackDecision.http-get.json'), 'utf8'));
      const context = {
        getRemainingTimeInMillis: () => 25_000,
        functionName: 'bench',
        awsRequestId: 'bench',
      } as unknown as Context;
      const times: number[] = [];
      const roundTrips: number[] = [];
      for (let index = 0; index < calls + 10; index += 1) {
        const started = performance.now();
        const response = (await handler(event, context)) as { statusCode: number };
        const elapsed = performance.now() - started;
        if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
        const roundTrip = performance.now();
        await client.query('SELECT 1');
        const roundTripMs = performance.now() - roundTrip;
        // The first calls warm the pool and the code, as a warm Lambda container is.
        if (index >= 10) {
          times.push(elapsed);
          roundTrips.push(roundTripMs);
        }
      }
      const p99 = percentile(times, 99).value as number;
      const p50 = percentile(times, 50).value as number;
      return [
        {
          case: 'GET /rollback/decision through the handler, p99',
          figure: p99,
          unit: 'ms',
          n: calls,
          reference: `p50 ${p50.toFixed(1)} ms; SELECT 1 round trip p99 ${(percentile(roundTrips, 99).value as number).toFixed(2)} ms; target p99 < 100 ms`,
        },
      ];
    } finally {
      await client.end().catch(() => {});
      await sns.stop();
      await server.stop();
    }
  },
};
