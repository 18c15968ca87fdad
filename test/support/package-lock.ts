import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../local/migrate';

/*
 * The checkout's one-packaging-at-a-time lock, as local/sls.ts's packageService takes it, for a
 * test that packages through `npm run package` itself (which takes no lock): serverless-esbuild
 * builds in the project's own .esbuild, which two runs would overwrite under each other.
 */

const lockDir = join(projectRoot, '.vigil', 'package.lock');

function holderGone(): boolean {
  try {
    process.kill(Number(readFileSync(join(lockDir, 'pid'), 'utf8')), 0);
    return false;
  } catch {
    return true;
  }
}

export async function withPackageLock<T>(work: () => Promise<T>): Promise<T> {
  await mkdir(join(projectRoot, '.vigil'), { recursive: true });
  for (let attempt = 0; ; attempt += 1) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      if (attempt % 20 === 19 && holderGone()) rmSync(lockDir, { recursive: true, force: true });
      if (attempt > 2400) throw new Error(`another serverless package has held ${lockDir} for 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
