import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/paths';
import { checkFunction, prepareRehearsal, type Rehearsal, runFunction } from '../../local/rehearsal/rehearse';
import { unpack } from '../../local/rehearsal/sandbox';
import type { PackagedFunction } from '../../local/rehearsal/template';
import { packagedBuildOptions, serviceEsbuildOptions } from '../../local/service';

/*
 * The rehearsal catches what it was built to catch: each defect put back, the packaged function
 * fails in the sandbox (or its check does), naming the function and the step. `npm run rehearse`
 * runs every function on every event; here only what each defect needs.
 */
describe('rehearsal', () => {
  let rehearsal: Rehearsal;
  const fn = (name: string) => rehearsal.functions.find((candidate) => candidate.name === name) as PackagedFunction;

  /** The function's zip with its handler rebuilt from the sources after `from` is replaced by `to` in `file`. */
  async function withPutBack(target: PackagedFunction, file: string, from: string, to: string): Promise<string> {
    const taskDir = join(rehearsal.packageDir, '..', 'variant', target.name);
    await unpack(target.zipFile, taskDir);
    const handlerFile = target.handler.slice(0, target.handler.lastIndexOf('.'));
    let replaced = 0;
    const options = serviceEsbuildOptions();
    await build({
      entryPoints: [join(projectRoot, `${handlerFile}.ts`)],
      outfile: join(taskDir, `${handlerFile}${options.outputFileExtension}`),
      ...packagedBuildOptions(),
      sourcemap: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'put-a-defect-back',
          setup(plugin) {
            plugin.onLoad({ filter: new RegExp(`${file.replace(/[.]/g, '\\.')}$`) }, async (args) => {
              const source = await readFile(args.path, 'utf8');
              if (source.includes(from)) replaced += 1;
              return { contents: source.replace(from, to), loader: 'ts' };
            });
          },
        },
      ],
    });
    // The defect must really be in the build, or a passing run would prove nothing.
    expect(replaced).toBe(1);
    return taskDir;
  }

  beforeAll(async () => {
    rehearsal = await prepareRehearsal();
  }, 180_000);

  afterAll(async () => {
    await rehearsal?.stop();
  });

  it('passes the packaged backup on the TLS-only database, its tools from the layer-shaped /opt', async () => {
    const steps = await runFunction(rehearsal, fn('backup'), { events: ['backup.schedule.json'] });
    expect(steps).toEqual([expect.objectContaining({ function: 'backup', step: 'invoke', ok: true })]);
    expect(rehearsal.checks).toEqual([expect.objectContaining({ function: 'backup', step: 'layer', ok: true })]);
  });

  it('fails a function the CA does not reach (defect 1): node-pg refuses the server certificate', async () => {
    const steps = await runFunction(rehearsal, fn('rollbackDecision'), {
      events: ['rollbackDecision.http-get.json'],
      sandbox: { withoutVariables: ['DATABASE_SSL_CA_FILE'] },
    });
    const invoke = steps.find((step) => step.step === 'invoke');
    expect(invoke).toMatchObject({ function: 'rollbackDecision', event: 'rollbackDecision.http-get.json', ok: false });
    expect(invoke?.detail).toMatch(/answered 500: .*unable to verify the first certificate/);
  });

  it('fails a backup whose pg_dump gets no root certificate for verify-full (defect 1, the tools side)', async () => {
    const taskDir = await withPutBack(
      fn('backup'),
      'functions/backup/pg-tools.ts',
      "...(database.sslMode === 'verify-full' ? { PGSSLROOTCERT: trustedCaFile(database) } : {}),",
      '',
    );
    const [invoke] = await runFunction(rehearsal, fn('backup'), { taskDir, events: ['backup.schedule.json'] });
    expect(invoke).toMatchObject({ function: 'backup', step: 'invoke', ok: false });
    expect(invoke?.detail).toMatch(/backup failed at dump: .*root certificate file .* does not exist/);
  });

  it("fails a backup whose tools are spawned without LD_LIBRARY_PATH (defect 2): the layer's libpq is not found", async () => {
    const taskDir = await withPutBack(
      fn('backup'),
      'functions/backup/pg-tools.ts',
      'LD_LIBRARY_PATH: inherited.LD_LIBRARY_PATH, ',
      '',
    );
    const [invoke] = await runFunction(rehearsal, fn('backup'), { taskDir, events: ['backup.schedule.json'] });
    expect(invoke).toMatchObject({ function: 'backup', step: 'invoke', ok: false });
    expect(invoke?.detail).toMatch(/backup failed at versions: \/opt\/bin\/pg_dump --version could not run: .*libpq\.so\.5/);
  });

  it('fails a function whose statement timeout is not below its Lambda timeout (defect 5)', () => {
    const rollback = fn('rollbackDecision');
    expect(checkFunction(rehearsal, rollback).find((step) => step.step === 'timeouts')).toMatchObject({ ok: true });
    const { DATABASE_STATEMENT_TIMEOUT_MS: _derived, ...environment } = rollback.environment;
    const timeouts = checkFunction(rehearsal, { ...rollback, environment }).find((step) => step.step === 'timeouts');
    expect(timeouts).toMatchObject({ function: 'rollbackDecision', ok: false });
    expect(timeouts?.detail).toMatch(/statement timeout 30000 ms is not below the Lambda timeout of 25 s/);
  });
});
