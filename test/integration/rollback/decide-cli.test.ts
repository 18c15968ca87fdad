import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../local/migrate';
import { type RunningSns, startSnsServer } from '../../../local/sns-server';
import { createTestDatabase, type TestDatabase } from '../../support/database';

/** `npm run decide`, as a person runs it. */
describe('npm run decide', () => {
  let sns: RunningSns;
  let database: TestDatabase;
  let stateDir: string;

  beforeAll(async () => {
    [sns, database] = await Promise.all([startSnsServer({ topics: ['decide-alerts'] }), createTestDatabase()]);
    stateDir = await mkdtemp(join(tmpdir(), 'vigil-decide-'));
  });

  afterAll(async () => {
    await Promise.all([sns?.stop(), database?.drop(), rm(stateDir, { recursive: true, force: true })]);
  });

  const decide = (args: string[]) =>
    promisify(execFile)(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['local/decide.ts', ...args], {
      cwd: projectRoot,
      timeout: 60_000,
      env: {
        ...process.env,
        VIGIL_LOCAL_DIR: stateDir,
        DATABASE_URL: database.url,
        AWS_ENDPOINT_URL_SNS: sns.endpoint,
        VIGIL_ALERT_TOPIC_ARN: sns.topics['decide-alerts']?.topicArn,
        USER: 'ops-person',
      },
    });

  it('prints the decision for a person: action, every signal with why it has no data, what to do', async () => {
    const { stdout } = await decide(['--complaints', '2']);
    expect(stdout).toMatch(/^Rollback decision at \S+: INSUFFICIENT_DATA \(minor\)/);
    expect(stdout).toMatch(/NO DATA\s+Error rate /);
    expect(stdout).not.toMatch(/errorRatePercent|avgResponseMs/);
    expect(stdout).toContain('no requests in the last 15 min');
    expect(stdout).toMatch(/pass\s+User complaints\s+2 \/h\s+\[the request \(stated by the caller\)\]/);
    expect(stdout).toContain('What to do:');
    expect(stdout).toMatch(/Stored as decision \d+ in vigil\.rollback_decisions\./);
    const { rows } = await database.db.query<{ trigger: string; requested_by: string }>(
      'SELECT trigger, requested_by FROM vigil.rollback_decisions',
    );
    expect(rows).toEqual([{ trigger: 'cli', requested_by: 'ops-person (npm run decide)' }]);
  });

  it('prints the same answer as JSON with --json', async () => {
    const { stdout } = await decide(['--json']);
    expect(JSON.parse(stdout)).toMatchObject({ action: 'insufficient_data', trigger: 'cli', whatIf: false });
  });

  it('answers --help without reading or storing anything, and refuses a mistyped flag', async () => {
    const stored = async () =>
      (await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vigil.rollback_decisions')).rows[0]?.n;
    const before = await stored();
    const help = await decide(['--help']);
    expect(help.stdout).toMatch(/^usage: npm run decide -- \[--complaints N\] \[--json\]/);
    expect(help.stdout).toContain('nothing is read or stored');
    const typo = await decide(['--complaint', '12']).catch((error: { code: number; stderr: string }) => error);
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--complaint'") });
    const notANumber = await decide(['--complaints', 'many']).catch((error: { code: number; stderr: string }) => error);
    expect(notANumber).toMatchObject({ code: 2, stderr: expect.stringContaining('--complaints needs a number') });
    expect(await stored()).toBe(before);
  });
});
