import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completePath, legacyPaths } from '../../local/demo-app/dashboard-queries';
import { projectRoot } from '../../local/paths';
import type { StackInfo } from '../../local/stack-info';

const waitFor = async <T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
};

const processesMentioning = (text: string) =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes('ps -eo'));

/** `npm start` as a person runs it: comes up, answers, and Ctrl-C leaves nothing behind. */
describe('local stack', () => {
  let stateDir: string;
  let stack: ChildProcess;
  let output = '';
  let info: StackInfo;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'vigil-stack-'));
    const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_LOCAL_DIR: stateDir, VIGIL_DEMO_PAGE_LOADS_PER_SECOND: '2' };
    delete env.DATABASE_URL;
    // Its own process group, as a terminal's foreground job: Ctrl-C reaches every process in it.
    stack = spawn(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['local/start.ts', '--random-ports'], {
      cwd: projectRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    stack.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const file = join(stateDir, 'stack.json');
    info = await waitFor(
      'stack.json',
      () => {
        if (stack.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackInfo) : undefined;
      },
      150_000,
    );
  }, 180_000);

  afterAll(async () => {
    if (stack?.exitCode === null && stack.pid) process.kill(-stack.pid, 'SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  });

  it('prints where each part listens', () => {
    for (const part of ['postgres ', 's3 ', 'sns ', 'demo app ', 'functions ', 'ready ']) expect(output).toContain(part);
    expect(output).toContain(info.demoAppUrl);
    expect(output).toContain(info.functionsUrl);
  });

  it('serves all nine endpoints of the demo app with the token', async () => {
    for (const path of [...legacyPaths, completePath]) {
      const response = await fetch(`${info.demoAppUrl}${path}`, { headers: { authorization: `Bearer ${info.demoUserToken}` } });
      expect(response.status, path).toBe(200);
      expect(((await response.json()) as { success: boolean }).success, path).toBe(true);
    }
    expect((await fetch(`${info.demoAppUrl}${completePath}`)).status).toBe(401);
  });

  it('runs the functions behind their routes and renders alerts into the outbox', async () => {
    const response = await fetch(`${info.functionsUrl}/alerts/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ severity: 'critical', note: 'from the stack test' }),
    });
    expect(response.status).toBe(202);
    const delivered = await waitFor(
      'the outbox',
      () =>
        existsSync(info.outboxFile) && readFileSync(info.outboxFile, 'utf8').includes('from the stack test')
          ? readFileSync(info.outboxFile, 'utf8')
          : undefined,
      20_000,
    );
    const alert = JSON.parse(delivered.trim().split('\n').at(-1) as string);
    expect(alert.sms).toMatch(/^VIGIL> TEST local: /);
    expect(output).toContain('EMAIL  Subject: Vigil local TEST: Test alert (critical)');
  }, 60_000);

  it('stops everything it started on Ctrl-C', async () => {
    process.kill(-(stack.pid as number), 'SIGINT');
    await waitFor('npm start to exit', () => (stack.exitCode !== null || stack.signalCode !== null ? true : undefined), 30_000);
    const offlinePort = `--httpPort ${new URL(info.functionsUrl ?? 'http://x:0').port}`;
    await waitFor(
      'its processes to go',
      () => (processesMentioning(stateDir).length + processesMentioning(offlinePort).length === 0 ? true : undefined),
      15_000,
    );
    await expect(fetch(`${info.functionsUrl}/alerts/test`, { method: 'POST' })).rejects.toThrow();
    await expect(fetch(`${info.demoAppUrl}/health`)).rejects.toThrow();
    expect(existsSync(join(stateDir, 'stack.json'))).toBe(false);
  }, 60_000);
});
