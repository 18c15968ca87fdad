import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../local/paths';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { recordWeek } from '../../support/recorded-week';

/** `npm run report`, as a person runs it. */
describe('npm run report', () => {
  let database: TestDatabase;
  let stateDir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await recordWeek(client, { newPageMs: 2400 }).finally(() => client.end());
    stateDir = await mkdtemp(join(tmpdir(), 'vigil-report-'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([database?.drop(), rm(stateDir, { recursive: true, force: true })]);
  });

  const report = (args: string[]) =>
    promisify(execFile)(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['local/report.ts', ...args], {
      cwd: projectRoot,
      timeout: 60_000,
      env: {
        ...process.env,
        VIGIL_LOCAL_DIR: stateDir,
        DATABASE_URL: database.url,
        VIGIL_ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:vigil-local-alerts',
        USER: 'ops-person',
      },
    });
  const stored = async () =>
    Number((await database.db.query<{ n: string }>('SELECT count(*) AS n FROM vigil.reports')).rows[0]?.n);

  it('prints the scorecard of the week with the missed rows and their figures, stores it, and writes the page with --html', async () => {
    const page = join(stateDir, 'week.html');
    const { stdout } = await report(['--period', 'week', '--html', page]);
    expect(stdout).toMatch(/^Rollout scorecard of stage local for the week /);
    expect(stdout).toMatch(/^MISSED {9}The new dashboard loads within 1\.0 s \(p95\)$/m);
    expect(stdout).toMatch(
      /^ {15}2,5\d\d ms \(n = \d[\d,]* loads\); bounds 2,5\d\d ms to 2,5\d\d ms \(95 % each side\); target at most 1,000 ms$/m,
    );
    expect(stdout).toContain('Stored as report');
    expect(await readFile(page, 'utf8')).toMatch(/^<!doctype html>[\s\S]*data-chart="load-time"/);
    expect(await stored()).toBe(1);
    const { stdout: json } = await report(['--json']);
    const answer = JSON.parse(json) as { report: { period: { kind: string }; missed: string[] } };
    expect(answer.report.period.kind).toBe('day');
    expect(answer.report.missed).toContain('dashboard-load-p95');
  }, 120_000);

  it('answers --help and refuses a period it does not know, reading and storing nothing', async () => {
    const before = await stored();
    const { stdout } = await report(['--help']);
    expect(stdout).toMatch(/^usage: npm run report -- \[--period day\|week\] \[--json\] \[--html FILE\]/);
    await expect(report(['--period', 'month'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--period must be day or week'),
    });
    await expect(report(['--colour'])).rejects.toMatchObject({ code: 2 });
    expect(await stored()).toBe(before);
  }, 60_000);
});
