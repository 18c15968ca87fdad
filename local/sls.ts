import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../lib/errors';
import { isMainModule } from './cli';
import { projectRoot } from './paths';

/**
 * TMPDIR of every osls run: a folder of the checkout's own. serverless-esbuild stages each
 * function's zip in TMPDIR as `<function>-<pid>-<ms>-<8 hex>` and never removes it (its release is
 * a non-recursive remove of the full folder, whose ENOTEMPTY it swallows:
 * floydspace/serverless-esbuild#589): 3-7 MB per function per `serverless package`, 25 GB in this
 * machine's /tmp before it was found. Here they can be found, and `removeStagingLeftovers` removes
 * them once their run has ended.
 */
export const serverlessTmpDir = join(projectRoot, '.vigil', 'tmp');

const stagingFolder = /^.+-(\d+)-\d{13}-[0-9a-f]{8}$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process, alive
  }
}

/** The zip staging folders in `dir` of osls runs that have ended (a running one's are not). */
export function stagingLeftovers(dir = serverlessTmpDir): string[] {
  return (existsSync(dir) ? readdirSync(dir) : []).filter((name) => {
    const pid = stagingFolder.exec(name)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  });
}

/**
 * Removes `stagingLeftovers(dir)`; returns the names removed. Housekeeping: a folder that cannot be
 * removed is named on stderr and left, and never fails the package or deploy it follows.
 */
export function removeStagingLeftovers(dir = serverlessTmpDir): string[] {
  return stagingLeftovers(dir).filter((name) => {
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      return true;
    } catch (error) {
      process.stderr.write(`could not remove serverless-esbuild's leftover ${join(dir, name)}: ${errorMessage(error)}\n`);
      return false;
    }
  });
}

/*
 * Runs the Serverless Framework (osls) with HOME inside the repository: it writes ~/.serverless,
 * which CI and sandboxes may not allow, and nothing of it belongs to the user's real home. The AWS
 * credentials stay where the AWS CLI finds them: the real ~/.aws (profiles, SSO and its token
 * cache, credentials) is linked into that HOME, so `AWS_PROFILE=vigil-prod npm run deploy` works.
 * TMPDIR is `serverlessTmpDir`, what earlier runs left there removed first.
 */
export function serverlessEnv(
  realHome: string | undefined = process.env.HOME,
  home = join(projectRoot, '.home'),
  tmp = serverlessTmpDir,
): NodeJS.ProcessEnv {
  mkdirSync(home, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  removeStagingLeftovers(tmp);
  const realAws = realHome ? join(realHome, '.aws') : undefined;
  const linkedAws = join(home, '.aws');
  if (realAws && realHome !== home && existsSync(realAws) && !existsSync(linkedAws)) {
    rmSync(linkedAws, { force: true }); // a link left dangling by a removed ~/.aws
    symlinkSync(realAws, linkedAws);
  }
  return {
    ...process.env,
    HOME: home,
    TMPDIR: tmp,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SLS_DEPRECATION_DISABLE: '*',
  };
}

export const serverlessBin = join(projectRoot, 'node_modules', '.bin', 'serverless');

const lockDir = join(projectRoot, '.vigil', 'package.lock');

/** Whether the process that holds the lock is gone (a killed run must not block packaging forever). */
function staleLock(): boolean {
  try {
    return !processAlive(Number(readFileSync(join(lockDir, 'pid'), 'utf8')));
  } catch {
    return true; // no pid written (yet, or ever)
  }
}

/**
 * One `serverless package` at a time in this checkout: the framework and serverless-esbuild build
 * in the project's own .serverless and .esbuild folders, which two runs would overwrite under each
 * other (the template test and the rehearsal may run at once).
 */
export async function withPackageLock<T>(work: () => Promise<T>): Promise<T> {
  await mkdir(join(projectRoot, '.vigil'), { recursive: true });
  for (let attempt = 0; ; attempt += 1) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      if (attempt % 20 === 19 && staleLock()) rmSync(lockDir, { recursive: true, force: true });
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

/**
 * `serverless package` offline into `outputDir`, with no AWS credentials (nothing is looked up in
 * AWS). Throws with the framework's own output when it refuses.
 */
export async function packageService(options: {
  stage: string;
  outputDir: string;
  params?: Record<string, string>;
  region?: string;
}) {
  const params = Object.entries(options.params ?? {}).flatMap(([name, value]) => ['--param', `${name}=${value}`]);
  const args = ['package', '--stage', options.stage, '--package', options.outputDir, ...params];
  if (options.region) args.push('--region', options.region);
  await withPackageLock(async () => {
    try {
      await promisify(execFile)(serverlessBin, args, {
        cwd: projectRoot,
        env: { ...serverlessEnv(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' },
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`serverless package failed:\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`, { cause: error });
    } finally {
      removeStagingLeftovers();
    }
  });
}

/**
 * A deployed stage's parameters live in the repository, `deploy/stages/<stage>.json` ({"name":
 * "value"}), so a redeploy that passes only a few on the command line keeps every other one (a
 * parameter left out would fall back to its default, and CloudFormation would delete, say, the SNS
 * subscriptions). The command line wins over the file for what it names.
 */
export function withStageParams(args: string[], stagesDir = join(projectRoot, 'deploy', 'stages')): string[] {
  const stageAt = args.findIndex((arg) => arg === '--stage' || arg === '-s');
  const stage = stageAt >= 0 ? args[stageAt + 1] : undefined;
  if (!stage || stage === 'local' || !['deploy', 'package'].includes(args[0] ?? '')) return args;
  const file = join(stagesDir, `${stage}.json`);
  if (!existsSync(file)) return args;
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const given = new Set(
    args.flatMap((arg, index) =>
      args[index - 1] === '--param' ? [arg.split('=')[0]] : arg.startsWith('--param=') ? [arg.slice(8).split('=')[0]] : [],
    ),
  );
  const added = Object.entries(stored)
    .filter(([name]) => !given.has(name))
    .flatMap(([name, value]) => ['--param', `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`]);
  process.stderr.write(
    `parameters of stage ${stage}: ${added.length / 2} from ${join('deploy', 'stages', `${stage}.json`)}, ${given.size} from the command line\n`,
  );
  return [...args, ...added];
}

/** `npm run package|deploy|remove -- ...`: the stage's parameters added, a deploy checked, then osls. */
async function main(argv: string[]): Promise<number> {
  const args = withStageParams(argv);
  if (args[0] === 'deploy') {
    // A deploy that would move the backups into a new, empty bucket stops here (local/backup-bucket.ts).
    const { checkBucketBeforeDeploy } = await import('./backup-bucket');
    const problem = await checkBucketBeforeDeploy(args);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      return 1;
    }
  }
  const child = spawn(serverlessBin, args, { cwd: projectRoot, env: serverlessEnv(), stdio: 'inherit' });
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      removeStagingLeftovers();
      resolve(code ?? (signal ? 1 : 0));
    }),
  );
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
