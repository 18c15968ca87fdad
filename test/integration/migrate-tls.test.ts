import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/paths';
import { type RunningPostgres, startEmbeddedPostgres } from '../../local/postgres';
import { createTestCertificates, type TestCertificates } from '../../local/rehearsal/tls';

/*
 * `npm run migrate` against a TLS-only server whose CA is not in Node's store, as an operator runs
 * it against RDS: verify-full with the CA named in the URL (libpq's sslrootcert) or in
 * DATABASE_SSL_CA_FILE works; verify-full without the right CA is refused, never downgraded.
 */
describe('npm run migrate over TLS', () => {
  let server: RunningPostgres;
  let certificates: TestCertificates;
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'vigil-migrate-tls-'));
    certificates = await createTestCertificates(join(workDir, 'tls'), 'localhost');
    server = await startEmbeddedPostgres({ fast: true, tls: certificates });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  const migrate = (env: Record<string, string>) =>
    promisify(execFile)(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['local/migrate-cli.ts'], {
      cwd: projectRoot,
      timeout: 60_000,
      env: { ...process.env, DATABASE_SSL_MODE: '', DATABASE_SSL_CA_FILE: '', VIGIL_STAGE: '', ...env },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const plainUrl = () => server.adminUrl.replace(/\?.*$/, '');

  it('migrates with sslmode=verify-full and the CA in the URL, as libpq takes them', async () => {
    const result = await migrate({ DATABASE_URL: server.adminUrl });
    expect(result.stderr).not.toContain('migrate failed');
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/applied: |nothing to apply/) });
  });

  it('takes DATABASE_SSL_CA_FILE with verify-full, which is the default on a deployed stage', async () => {
    const result = await migrate({ DATABASE_URL: plainUrl(), VIGIL_STAGE: 'prod', DATABASE_SSL_CA_FILE: certificates.caFile });
    expect(result).toMatchObject({ code: 0, stdout: 'nothing to apply\n' });
  });

  it('refuses a server its CA cannot verify, and never falls back to plaintext on a deployed stage', async () => {
    // The shipped RDS bundle does not hold this test CA.
    const result = await migrate({ DATABASE_URL: plainUrl(), VIGIL_STAGE: 'prod' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/migrate failed: .*(certificate|verify)/i);
  });
});
