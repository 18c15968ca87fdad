import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config';
import { clientGraceMs, createDatabase } from '../../lib/db';
import { isDatabaseUnavailable } from '../../lib/http';
import { type LocalAws, startLocalAws } from '../../local/local-aws';
import { applyAppSchema, migrate } from '../../local/migrate';
import { type RunningPostgres, startEmbeddedPostgres } from '../../local/postgres';
import { sampleEvent } from '../support/handler-fixture';

/*
 * A database that freezes (SIGSTOP of every process of a server of this file's own, so the other
 * files' server is untouched) for longer than the query timeout: each HTTP route answers 503 saying
 * the database cannot be reached, well before the function's timeout; once the server runs again,
 * no session of Vigil's is left idle in a transaction.
 */
const statementTimeoutMs = 1_500;
const topic = 'vigil-test-freeze';

describe('database frozen', () => {
  let server: RunningPostgres;
  let sns: LocalAws;
  const frozen: number[] = [];
  const context = { getRemainingTimeInMillis: () => 25_000, functionName: 'freeze', awsRequestId: 'r-1' } as unknown as Context;

  /** The postmaster (first line of postmaster.pid) and its children. */
  const serverProcesses = () => {
    const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
    return [postmaster, ...children];
  };
  const freeze = () => {
    for (const pid of serverProcesses()) {
      process.kill(pid, 'SIGSTOP');
      frozen.push(pid);
    }
  };
  const thaw = () => {
    for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT');
  };

  const handlerOf = async (folder: string) => {
    vi.resetModules();
    return (await import(join(import.meta.dirname, '../../functions', folder, 'handler'))).handler as (
      event: unknown,
      context: Context,
    ) => Promise<{ statusCode: number; body: string; headers?: Record<string, string> }>;
  };

  beforeAll(async () => {
    [server, sns] = await Promise.all([startEmbeddedPostgres({ fast: true }), startLocalAws({ topics: [topic] })]);
    await migrate(server.adminUrl);
    await applyAppSchema(server.adminUrl);
    for (const [name, value] of Object.entries({
      DATABASE_URL: server.adminUrl,
      DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
      DATABASE_LOCK_TIMEOUT_MS: '1000',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      VIGIL_ALERT_TOPIC_ARN: sns.topics[topic]?.topicArn ?? '',
      VIGIL_API_TOKEN: 'vigil-local-token',
      VIGIL_STAGE: 'local',
    }))
      vi.stubEnv(name, value);
  }, 120_000);

  afterAll(async () => {
    thaw();
    vi.unstubAllEnvs();
    await sns?.stop();
    await server?.stop();
  });

  it('cuts a query on a connection the pool already holds at the statement timeout plus the grace, on the client', async () => {
    const db = createDatabase(loadConfig(['database'], { ...process.env, DATABASE_POOL_MAX: '1' }).database);
    try {
      await db.query('SELECT 1');
      freeze();
      const started = Date.now();
      const failure = await db.query('SELECT 1').catch((error: unknown) => error);
      const elapsedMs = Date.now() - started;
      thaw();
      expect((failure as Error).message).toBe('Query read timeout');
      expect(isDatabaseUnavailable(failure)).toBe(true);
      expect(elapsedMs).toBeGreaterThanOrEqual(statementTimeoutMs + clientGraceMs - 50);
      expect(elapsedMs).toBeLessThan(statementTimeoutMs + clientGraceMs + 1_000);
      // The broken connection is not handed out again: the next query gets a new one.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      thaw();
      await db.end();
    }
  }, 30_000);

  it.each([
    ['GET /rollback/decision', 'rollback-decision', 'rollbackDecision.http-get.json'],
    ['POST /alerts/test', 'alerts', 'alerts.http-test.json'],
  ])(
    '%s answers 503 naming the database, before the function times out, and leaves no transaction idle',
    async (_route, folder, eventFile) => {
      const handler = await handlerOf(folder);
      // Warm: the pool holds a connection when the freeze comes, as a warm container's does.
      expect((await handler(sampleEvent(eventFile), context)).statusCode).toBeLessThan(500);
      freeze();
      const started = Date.now();
      const answer = await handler(sampleEvent(eventFile), context);
      const elapsedMs = Date.now() - started;
      thaw();
      expect(answer.statusCode).toBe(503);
      expect(JSON.parse(answer.body).error).toMatch(/database cannot be reached/);
      expect(answer.headers?.['retry-after']).toBe('60');
      // The query timeout (statement timeout + 1 s) and the connect timeout bound it; Lambda gives 25 s.
      expect(elapsedMs).toBeLessThan(3 * (statementTimeoutMs + 1_000));

      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      try {
        let idle: unknown[] = [];
        for (let attempt = 0; attempt < 50; attempt += 1) {
          ({ rows: idle } = await admin.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'vigil' AND state LIKE 'idle in transaction%'",
          ));
          if (idle.length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(idle).toEqual([]);
      } finally {
        await admin.end();
      }
      // And the route works again once the database is back.
      expect((await handler(sampleEvent(eventFile), context)).statusCode).toBeLessThan(500);
    },
    60_000,
  );
});
