import type { Context } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { metrics } from '../../../lib/metrics';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoToken, seedDemoData } from '../../../local/demo-app/seed';
import { type DemoApp, startDemoApp } from '../../../local/demo-app/server';
import { type RunningSns, startSnsServer } from '../../../local/sns-server';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { drainDelivered } from '../../support/sns-readback';

const topic = 'vigil-cache-alerts';
const context = {
  getRemainingTimeInMillis: () => 60_000,
  functionName: 'vigil-test-cacheEfficiency',
  awsRequestId: 'r-1',
} as unknown as Context;

describe('cacheEfficiency handler', () => {
  let sns: RunningSns;
  let database: TestDatabase;
  let app: DemoApp;
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;

  const load = async (users: number[], times = 1) => {
    for (const user of users) {
      for (let index = 0; index < times; index += 1) {
        const response = await fetch(`${app.url}${completePath}`, { headers: { authorization: `Bearer ${demoToken(user)}` } });
        await response.arrayBuffer();
      }
    }
  };
  const delivered = async () =>
    (await drainDelivered(sns, topic)).map((message) => `${message.attributes.notification} ${message.attributes.alert_key}`);

  beforeAll(async () => {
    sns = await startSnsServer({ topics: [topic] });
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await seedDemoData(client, { users: 30, transactionsPerUser: 10, adoptionPercent: 100 });
    await client.end();
    app = await startDemoApp({ databaseUrl: database.url, adminToken: 'demo-admin', cacheTtlSeconds: 3600 });
    vi.stubEnv('DATABASE_URL', database.url);
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', sns.endpoint);
    vi.stubEnv('VIGIL_ALERT_TOPIC_ARN', sns.topics[topic]?.topicArn ?? '');
    vi.stubEnv(
      'CACHE_COUNTERS_QUERY',
      "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'",
    );
    vi.stubEnv('CACHE_MIN_LOOKUPS', '5');
    ({ handler } = await import('../../../functions/cache-efficiency/handler'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await app?.stop();
    await sns?.stop();
    await database?.drop();
  });

  it('alerts once after 2 of 3 windows under target, and resolves once the ratio holds again', async () => {
    const first = await handler({}, context);
    expect(first.windows).toEqual(expect.arrayContaining([expect.objectContaining({ source: 'counters', state: 'no_data' })]));
    expect(await delivered()).toEqual([]);

    await load([1, 2, 3, 4, 5]);
    await handler({}, context);
    expect(await delivered()).toEqual([]);

    await load([6, 7, 8, 9, 10]);
    const third = await handler({}, context);
    expect(third.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'cache:user_performance:hit-ratio', action: 'sent', kind: 'firing' }),
      ]),
    );
    const [firing] = await drainDelivered(sns, topic);
    expect(firing?.subject).toBe('Vigil local MAJOR: Cache hit ratio of user_performance under 85 %');
    expect(firing?.email).toContain('threshold < 85%');

    await load([1, 2, 3, 4, 5], 4);
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await load([6, 7, 8, 9, 10], 4);
    await handler({}, context);
    expect(await delivered()).toEqual(['resolved cache:user_performance:hit-ratio']);
  });

  it('emits only measured values as metrics', async () => {
    const added = vi.spyOn(metrics, 'addMetric');
    await load([11, 12, 13], 3);
    await handler({}, context);
    const names = added.mock.calls.map(([name]) => name);
    expect(names).toEqual(expect.arrayContaining(['CacheHitRatio', 'CacheFailureRate', 'CacheLookups', 'CacheErrorRate']));
    const ratio = added.mock.calls.find(([name]) => name === 'CacheHitRatio')?.[2];
    expect(ratio).toBeCloseTo((6 / 9) * 100, 3);
    added.mockClear();
    await handler({}, context);
    expect(added.mock.calls.map(([name]) => name)).not.toContain('CacheHitRatio');
    added.mockRestore();
  });
});
