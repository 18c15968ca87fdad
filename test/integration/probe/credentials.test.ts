import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningSns, startSnsServer } from '../../../local/sns-server';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { type ProbeServer, startProbeServer } from '../../support/probe-server';

const topic = 'vigil-probe-credentials';
const context = {
  getRemainingTimeInMillis: () => 60_000,
  functionName: 'vigil-test-probe',
  awsRequestId: 'r-1',
} as unknown as Context;

describe('probe handler with credentials in a target URL', () => {
  let sns: RunningSns;
  let database: TestDatabase;
  let server: ProbeServer;
  const secrets = ['s3cretPass', 'tok-123456789', 'key-987654321'];

  beforeAll(async () => {
    [sns, database, server] = await Promise.all([startSnsServer({ topics: [topic] }), createTestDatabase(), startProbeServer()]);
    const url = new URL(`${server.url}/json?success=true&access_token=${secrets[1]}&api_key=${secrets[2]}`);
    url.username = 'probe-user';
    url.password = secrets[0] as string;
    vi.stubEnv('DATABASE_URL', database.url);
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', sns.endpoint);
    vi.stubEnv('VIGIL_ALERT_TOPIC_ARN', sns.topics[topic]?.topicArn ?? '');
    vi.stubEnv('PROBE_TARGETS', JSON.stringify([{ name: 'with-credentials', url: url.toString(), samples: 2 }]));
    vi.resetModules();
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await server?.stop();
    await sns?.stop();
    await database?.drop();
  });

  it('measures the target, and stores and answers its URL without user-info and with its credentials masked', async () => {
    const { handler } = await import('../../../functions/probe/handler');
    const result = (await handler({}, context)) as { summaries: Array<{ url: string; successPercent: number }> };
    expect(result.summaries[0]?.successPercent).toBe(100);
    expect(result.summaries[0]?.url).toBe(`${server.url}/json?success=true&access_token=[REDACTED]&api_key=[REDACTED]`);
    const { rows } = await database.db.query<{ url: string; details: string }>(
      'SELECT url, details::text AS details FROM vigil.probe_results',
    );
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    for (const secret of secrets) {
      expect(stored).not.toContain(secret);
      expect(JSON.stringify(result)).not.toContain(secret);
    }
    expect(rows[0]?.url).toContain('127.0.0.1');
  });
});
