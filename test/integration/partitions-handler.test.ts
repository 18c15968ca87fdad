import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningSns, startSnsServer } from '../../local/sns-server';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { drainDelivered } from '../support/sns-readback';

const topic = 'vigil-partition-alerts';
const context = {
  getRemainingTimeInMillis: () => 300_000,
  functionName: 'vigil-test-partitionMaintenance',
  awsRequestId: 'r-1',
} as unknown as Context;

describe('partitionMaintenance handler', () => {
  let sns: RunningSns;
  let database: TestDatabase;
  let handler: (event: unknown, context: Context) => Promise<unknown>;

  beforeAll(async () => {
    sns = await startSnsServer({ topics: [topic] });
    database = await createTestDatabase();
    await database.db.query(`
      CREATE TABLE clicks (at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;
      INSERT INTO clicks VALUES (now() + interval '5 years');`);
    vi.stubEnv('DATABASE_URL', database.url);
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', sns.endpoint);
    vi.stubEnv('VIGIL_ALERT_TOPIC_ARN', sns.topics[topic]?.topicArn ?? '');
    vi.stubEnv(
      'PARTITION_TABLES',
      JSON.stringify([
        { table: 'api_performance_log', adopt: true, retention: 12 },
        { table: 'clicks' },
        { table: 'missing_table' },
      ]),
    );
    ({ handler } = await import('../../functions/partition-maintenance/handler'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await sns?.stop();
    await database?.drop();
  });

  it('keeps the app logs three months ahead, alerts on default-partition rows and a missing table, and fails the invocation', async () => {
    await expect(handler({}, context)).rejects.toThrow(/partition maintenance failed for missing_table/);
    const { rows } = await database.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'api_performance_log'::regclass
       AND (SELECT relname FROM pg_class WHERE oid = inhrelid) >= 'api_performance_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')`,
    );
    expect(rows[0]?.n).toBe(4);
    const delivered = (await drainDelivered(sns, topic))
      .map((message) => `${message.attributes.severity} ${message.attributes.alert_key}`)
      .sort();
    expect(delivered).toEqual(['major partitions:clicks:default-rows', 'major partitions:missing_table:failed']);
  });
});
