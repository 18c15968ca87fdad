import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../../local/local-aws';
import { projectRoot } from '../../../local/paths';
import { signerFor } from '../../../local/signed-request';
import { createTestDatabase, type TestDatabase } from '../../support/database';

/** `npm run decide`, as a person runs it. */
describe('npm run decide', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let stateDir: string;

  beforeAll(async () => {
    [sns, database] = await Promise.all([startLocalAws({ topics: ['decide-alerts'] }), createTestDatabase()]);
    stateDir = await mkdtemp(join(tmpdir(), 'vigil-decide-'));
  });

  afterAll(async () => {
    await Promise.all([sns?.stop(), database?.drop(), rm(stateDir, { recursive: true, force: true })]);
  });

  const decide = (args: string[], env: Record<string, string> = {}) =>
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
        ...env,
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
    // Each recommendation on a line of its own, its words there (not an empty bullet).
    expect(stdout).toMatch(/What to do:\n( {2}- \S.*\n)+/);
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

  it('asks a deployed stage with --stage, signing with SigV4 from the credentials as the AWS CLI finds them', async () => {
    const credentials = { accessKeyId: 'AKIAVIGILDECIDETEST1', secretAccessKey: 'decide-test-secret-key' };
    const seen: Array<{ method: string; verified: boolean }> = [];
    // An API Gateway stand-in: the request's SigV4 signature recomputed with the caller's secret.
    const server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const amzDate = String(request.headers['x-amz-date']);
      const signingDate = new Date(
        `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
      );
      const expected = await signerFor('eu-west-1', credentials).sign(
        {
          method: request.method ?? 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port: Number(request.headers.host?.split(':')[1]),
          path: url.pathname,
          query: {},
          headers: {
            host: String(request.headers.host),
            ...(body ? { 'content-type': String(request.headers['content-type']) } : {}),
          },
          ...(body ? { body } : {}),
        },
        { signingDate },
      );
      const verified = Boolean(request.headers.authorization) && request.headers.authorization === expected.headers.authorization;
      seen.push({ method: request.method ?? '', verified });
      if (!verified) {
        response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
        return;
      }
      const { stdout } = await decide(['--json', ...(body ? ['--complaints', String(JSON.parse(body).complaintsPerHour)] : [])]);
      response.writeHead(200, { 'content-type': 'application/json' }).end(stdout);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Asking the stage needs no database here: none is given.
    const remote = (args: string[], secret = credentials.secretAccessKey) =>
      decide(args, {
        DATABASE_URL: '',
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_PROFILE: '',
        AWS_REGION: 'eu-west-1',
      }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    try {
      const asked = (await remote(['--stage', 'prod', '--url', url])) as { stdout: string };
      expect(asked.stdout).toMatch(/^Rollback decision at .*: [A-Z_]+ \(/);
      expect(asked.stdout).toContain('Signals:');
      const posted = (await remote(['--stage', 'prod', '--url', url, '--complaints', '3', '--json'])) as { stdout: string };
      expect(JSON.parse(posted.stdout).signals).toContainEqual(expect.objectContaining({ name: 'complaintsPerHour', value: 3 }));
      const refused = await remote(['--stage', 'prod', '--url', url], 'not-the-secret');
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('answered 403') });
      expect(seen).toEqual([
        { method: 'GET', verified: true },
        { method: 'POST', verified: true },
        { method: 'GET', verified: false },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
