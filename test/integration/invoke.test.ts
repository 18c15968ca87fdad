import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../local/local-aws';
import { projectRoot } from '../../local/paths';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { drainDelivered } from '../support/sns-readback';

const topic = 'vigil-invoke-alerts';

/** `npm run invoke -- <function> [--event file]`, as a person types it. */
describe('invoke', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let stateDir: string;

  const invoke = async (args: string[], env: Record<string, string | undefined>) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(
        join(projectRoot, 'node_modules', '.bin', 'tsx'),
        ['local/invoke.ts', ...args],
        {
          cwd: projectRoot,
          env: { ...process.env, VIGIL_LOCAL_DIR: stateDir, DATABASE_URL: undefined, ...env },
          timeout: 60_000,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  beforeAll(async () => {
    [sns, database] = await Promise.all([startLocalAws({ topics: [topic] }), createTestDatabase()]);
    stateDir = await mkdtemp(join(tmpdir(), 'vigil-invoke-'));
  });

  afterAll(async () => {
    await Promise.all([sns?.stop(), database?.drop(), rm(stateDir, { recursive: true, force: true })]);
  });

  const configured = () => ({
    DATABASE_URL: database.url,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    VIGIL_ALERT_TOPIC_ARN: sns.topics[topic]?.topicArn,
    VIGIL_API_TOKEN: 'vigil-local-token',
  });

  it('runs the handler once on the sample event and prints only its result as JSON on stdout', async () => {
    const result = await invoke(['alerts', '--event', 'events/alerts.alarm.json'], configured());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      alarm: 'vigil-local-probe-errors',
      outcomes: [{ action: 'sent', kind: 'firing' }],
    });
    expect(await drainDelivered(sns, topic)).toHaveLength(1);
  });

  it('runs a scheduled sample as a manual run: every time, marked as such, moving no streak', async () => {
    for (let run = 0; run < 2; run += 1) {
      const result = await invoke(['rollbackDecision', '--event', 'events/rollbackDecision.schedule.json'], configured());
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ trigger: 'cli', requestedBy: 'npm run invoke (manual)' });
    }
    const { rows: state } = await database.db.query('SELECT * FROM vigil.rollback_state');
    expect(state).toEqual([]);
    const { rows: slots } = await database.db.query('SELECT * FROM vigil.scheduled_runs');
    expect(slots).toEqual([]);
    // A manual cache run moves no window either.
    const cache = await invoke(['cacheEfficiency'], configured());
    expect(cache.code).toBe(0);
    expect(JSON.parse(cache.stdout)).toMatchObject({ manual: true, windows: [] });
    const { rows: windows } = await database.db.query('SELECT * FROM vigil.cache_windows');
    expect(windows).toEqual([]);
  });

  it('runs HTTP events through the same middleware as in AWS', async () => {
    const result = await invoke(['alerts', '--event', 'events/alerts.http-test.json'], configured());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ statusCode: 202 });
    await drainDelivered(sns, topic);
  });

  it('exits non-zero, naming every bad variable, when configuration is missing', async () => {
    const result = await invoke(['alerts', '--event', 'events/alerts.alarm.json'], {
      VIGIL_ALERT_TOPIC_ARN: 'not-an-arn',
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
    });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('VIGIL_ALERT_TOPIC_ARN: must be an SNS topic ARN');
    expect(result.stderr).toContain('DATABASE_URL: set DATABASE_URL');
  });

  it('exits non-zero when the handler fails', async () => {
    const result = await invoke(['alerts', '--event', 'package.json'], configured());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not a CloudWatch Alarm State Change event');
  });

  it('lists the functions when the name is unknown, and asks to pick among several sample events', async () => {
    const unknown = await invoke(['nosuch'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('functions: alerts');
    const ambiguous = await invoke(['alerts'], configured());
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('pick one with --event');
  });
});
