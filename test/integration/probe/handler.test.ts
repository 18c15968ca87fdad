import type { Context } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { completePath, legacyPaths } from '../../../local/demo-app/dashboard-queries';
import { demoToken, seedDemoData } from '../../../local/demo-app/seed';
import { type DemoApp, startDemoApp } from '../../../local/demo-app/server';
import { type RunningSns, startSnsServer } from '../../../local/sns-server';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { drainDelivered } from '../../support/sns-readback';

const topic = 'vigil-probe-alerts';
const context = {
  getRemainingTimeInMillis: () => 60_000,
  functionName: 'vigil-test-probe',
  awsRequestId: 'r-1',
} as unknown as Context;

describe('probe handler against the demo app', () => {
  let sns: RunningSns;
  let database: TestDatabase;
  let app: DemoApp;
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;
  const delivered = async () =>
    (await drainDelivered(sns, topic)).map((message) => `${message.attributes.notification} ${message.attributes.alert_key}`);

  beforeAll(async () => {
    sns = await startSnsServer({ topics: [topic] });
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await seedDemoData(client, { users: 5, transactionsPerUser: 10, adoptionPercent: 100 });
    await client.end();
    app = await startDemoApp({ databaseUrl: database.url, adminToken: 'demo-admin' });
    const name = (path: string) => path.replace(/^\/api\//, '').replace(/[^a-z0-9]+/gi, '-');
    const targets = [...legacyPaths, completePath].map((path) => ({
      name: name(path),
      url: `${app.url}${path}`,
      token: demoToken(1),
      assert: { path: 'success', equals: true },
      samples: 2,
    }));
    vi.stubEnv('DATABASE_URL', database.url);
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', sns.endpoint);
    vi.stubEnv('VIGIL_ALERT_TOPIC_ARN', sns.topics[topic]?.topicArn ?? '');
    vi.stubEnv('PROBE_TARGETS', JSON.stringify(targets));
    vi.stubEnv(
      'PROBE_SCENARIOS',
      JSON.stringify([
        { name: 'dashboard-old', role: 'old', requests: legacyPaths.map(name), samples: 2 },
        { name: 'dashboard-new', role: 'new', requests: [name(completePath)], samples: 2 },
      ]),
    );
    ({ handler } = await import('../../../functions/probe/handler'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await app?.stop();
    await sns?.stop();
    await database?.drop();
  });

  it('measures the old page against the new and stores the run', async () => {
    const result = (await handler({}, context)) as {
      comparison: Record<string, unknown>;
      summaries: Array<{ name: string; successPercent: number }>;
    };
    expect(result.comparison).toMatchObject({ callsOld: 8, callsNew: 1, apiCallReductionPercent: 87.5, baselineMs: 4000 });
    expect((result.comparison as { reductionVsBaselinePercent: { p50: number } }).reductionVsBaselinePercent.p50).toBeGreaterThan(
      80,
    );
    expect(result.summaries.every((summary) => summary.successPercent === 100)).toBe(true);
    const { rows } = await database.db.query<{ n: number; partition: string }>(
      'SELECT count(*)::int AS n, min(tableoid::regclass::text) AS partition FROM vigil.probe_results',
    );
    expect(rows[0]?.n).toBe(11);
    expect(rows[0]?.partition).toMatch(/^vigil\.probe_results_\d{4}_\d{2}$/);
    expect(await delivered()).toEqual([]);
  });

  it('raises exactly one alert after the second slow run and resolves once the page is fast again', async () => {
    app.setFaults({ latencyMs: 1100, paths: [completePath] });
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await handler({}, context);
    expect((await delivered()).sort()).toEqual(['firing probe:dashboard-new:budget', 'firing probe:portfolio-complete:budget']);
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    app.setFaults({ latencyMs: 0, paths: [] });
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await handler({}, context);
    expect((await delivered()).sort()).toEqual([
      'resolved probe:dashboard-new:budget',
      'resolved probe:portfolio-complete:budget',
    ]);
  }, 60_000);

  it('raises a critical alert when an endpoint is down', async () => {
    app.setFaults({ errorRatePercent: 100, paths: [completePath] });
    await handler({}, context);
    const down = await drainDelivered(sns, topic);
    expect(down.map((message) => `${message.attributes.notification} ${message.attributes.alert_key}`).sort()).toEqual([
      'firing probe:dashboard-new:down',
      'firing probe:portfolio-complete:down',
    ]);
    expect(down.map((message) => message.subject).sort()).toEqual([
      'Vigil local CRITICAL: Endpoint portfolio-complete is down',
      'Vigil local CRITICAL: Page dashboard-new is down',
    ]);
    app.setFaults({ errorRatePercent: 0, paths: [] });
    await handler({}, context);
    expect((await delivered()).sort()).toEqual(['resolved probe:dashboard-new:down', 'resolved probe:portfolio-complete:down']);
  }, 30_000);
});
