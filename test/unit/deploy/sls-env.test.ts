import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serverlessEnv } from '../../../local/sls';

describe('serverless environment', () => {
  const made: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sls-env-'));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

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
});
