import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStagingLeftovers, serverlessEnv, withStageParams } from '../../../local/sls';
import { scratchFolders } from '../../support/scratch';

const require = createRequire(import.meta.url);
const { preflightProblems } = require('../../../deploy/preflight.cjs') as {
  preflightProblems(params: Record<string, string>): string[];
};

describe('serverless environment', () => {
  const scratch = scratchFolders('vigil-sls-env-');

  it("keeps osls's folder in the repository and the AWS CLI's profiles, SSO cache and credentials where the SDK looks", () => {
    const realHome = scratch();
    mkdirSync(join(realHome, '.aws', 'sso', 'cache'), { recursive: true });
    writeFileSync(join(realHome, '.aws', 'config'), '[profile vigil-prod]\nregion = eu-west-1\n');
    const home = join(scratch(), '.home');
    const env = serverlessEnv(realHome, home);
    expect(env.HOME).toBe(home);
    // What the SDK reads under HOME is the real file.
    expect(readFileSync(join(home, '.aws', 'config'), 'utf8')).toContain('[profile vigil-prod]');
    // Twice is fine, and a home without ~/.aws links nothing.
    serverlessEnv(realHome, home);
    const bare = join(scratch(), '.home');
    serverlessEnv(scratch(), bare);
    expect(() => readFileSync(join(bare, '.aws', 'config'))).toThrow();
  });

  it("gives osls a TMPDIR of the checkout's own and removes the zip staging folders serverless-esbuild leaves there", () => {
    const tmp = join(scratch(), 'tmp');
    mkdirSync(tmp);
    // A process that has ended: its pid, in a staging folder's name as serverless-esbuild writes it.
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stage = (name: string) => {
      mkdirSync(join(tmp, name, 'functions', 'backup'), { recursive: true });
      writeFileSync(join(tmp, name, 'functions', 'backup', 'handler.mjs'), 'export {}');
    };
    const leftover = `backup-${ended}-1796515321068-df2d510b`;
    const running = `alerts-${process.pid}-1796515321068-0a1b2c3d`;
    stage(leftover);
    stage(running);
    mkdirSync(join(tmp, `notes-${ended}`)); // not a staging folder: kept
    const env = serverlessEnv(scratch(), join(scratch(), '.home'), tmp);
    expect(env.TMPDIR).toBe(tmp);
    expect(readdirSync(tmp).sort()).toEqual([running, `notes-${ended}`]);
    expect(removeStagingLeftovers(tmp)).toEqual([]);
    expect(existsSync(join(tmp, running, 'functions', 'backup', 'handler.mjs'))).toBe(true);
  });
});

describe('stage parameters', () => {
  it('adds what deploy/stages/<stage>.json holds and the command line does not name, the command line winning', () => {
    const stages = mkdtempSync(join(tmpdir(), 'vigil-stages-'));
    try {
      writeFileSync(
        join(stages, 'prod.json'),
        JSON.stringify({
          alertEmails: 'ops@example.org',
          partitionTables: [{ table: 'api_performance_log' }],
          runbookUrl: 'https://wiki',
        }),
      );
      const args = withStageParams(['deploy', '--stage', 'prod', '--param', 'runbookUrl=https://new'], stages);
      expect(args).toEqual([
        'deploy',
        '--stage',
        'prod',
        '--param',
        'runbookUrl=https://new',
        '--param',
        'alertEmails=ops@example.org',
        '--param',
        'partitionTables=[{"table":"api_performance_log"}]',
      ]);
      // No file, another command, or the local stage: as given.
      expect(withStageParams(['deploy', '--stage', 'staging'], stages)).toEqual(['deploy', '--stage', 'staging']);
      expect(withStageParams(['remove', '--stage', 'prod'], stages)).toEqual(['remove', '--stage', 'prod']);
    } finally {
      rmSync(stages, { recursive: true, force: true });
    }
  });

  it('keeps the example a stage can start from valid for packaging', () => {
    const example = JSON.parse(readFileSync(join(import.meta.dirname, '../../../deploy/stages/example.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const asParams = Object.fromEntries(
      Object.entries(example).map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
    );
    // With the defaults serverless.yml gives the parameters it does not name.
    expect(
      preflightProblems({ databaseSecretPrefix: 'vigil/prod/database', databaseSslMode: 'verify-full', ...asParams }),
    ).toEqual([]);
  });
});
