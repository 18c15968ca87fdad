import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { errorMessage } from '../../lib/errors';
import type { PackagedFunction } from './template';

/*
 * One invocation of a packaged function as Lambda runs it, on this machine: in a mount namespace of
 * its own, the zip unpacked read-only at /var/task, the runtime at /var/runtime, the deploy
 * runtime's Node at /var/lang, the layer (if the function has one) read-only at /opt, a fresh tmpfs
 * at /tmp (the only writable place), the host's copies of the layer's libraries hidden; run as an
 * unprivileged user with no HOME, the environment the template gives the function plus what Lambda
 * itself sets, the heap limited as Lambda's bootstrap limits it for the function's MemorySize.
 */

export const runtimeDir = join(import.meta.dirname, 'runtime');

export interface SandboxOptions {
  fn: PackagedFunction;
  event: unknown;
  /** The node binary of the deploy runtime's major; its installation directory becomes /var/lang. */
  nodeBinary: string;
  /** The unpacked zip. */
  taskDir: string;
  /** Mounted at /opt when the function has layers. */
  layerDir?: string;
  /** Host files hidden (bound over with /dev/null) inside the sandbox. */
  maskedFiles: string[];
  /** Beside the template's environment: where the local stack stands in for AWS, and credentials. */
  stackEnvironment: Record<string, string>;
  /** Variables to take out of the template's environment, to show what a missing one does. */
  withoutVariables?: string[];
  /** Variables to replace in the Lambda-set part (for example LD_LIBRARY_PATH). */
  lambdaOverrides?: Record<string, string | undefined>;
}

export interface Invocation {
  status: 'ok' | 'error' | 'timeout' | 'crashed';
  phase?: 'init' | 'invoke' | 'runtime';
  result?: unknown;
  errorType?: string;
  errorMessage?: string;
  initMs?: number;
  durationMs?: number;
  maxRssMb?: number;
  /** stdout and stderr, as CloudWatch would hold them. */
  logs: string;
  exitCode: number | null;
}

/** The variables Lambda itself sets for a Node.js function (the reserved ones and the runtime's defaults). */
export function lambdaEnvironment(fn: PackagedFunction): Record<string, string> {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: fn.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    // The values of Lambda's Node.js base image: the layer's bin and lib come last.
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
    NODE_PATH: `/opt/nodejs/node${fn.runtime.replace(/\D/g, '')}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task`,
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
  };
}

/** Heap limits as Lambda's Node.js bootstrap sets them: a tenth of the memory for new space, the rest old space. */
export function heapFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

/** Run as root in the new mount namespace: lay out Lambda's filesystem, then drop to the sandbox user. */
const sandboxScript = `
set -eu
task="$1"; runtime="$2"; lang="$3"; layer="$4"; tmp_mb="$5"; masked="$6"; drop="$7"; shift 7
for dir in /var/task /var/runtime /var/lang; do [ -d "$dir" ] || mkdir -p "$dir"; done
mount --bind -o ro "$task" /var/task
mount --bind -o ro "$runtime" /var/runtime
mount --bind -o ro "$lang" /var/lang
if [ -n "$layer" ]; then mount --bind -o ro "$layer" /opt; else mount -t tmpfs -o ro,size=1m,mode=0755 no-layer /opt; fi
for file in $masked; do mount --bind /dev/null "$file"; done
mount -t tmpfs -o "mode=1777,size=\${tmp_mb}m" lambda-tmp /tmp
cd /var/task
if [ "$drop" = yes ]; then
  exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- env -i "$@"
fi
exec env -i "$@"
`;

let sandboxDirsReady = false;

/** The mount points, made once on the host when root (empty directories); a non-root run gets a user namespace. */
async function prepareHost(): Promise<{ unshareArgs: string[]; drop: boolean }> {
  const root = userInfo().uid === 0;
  if (root && !sandboxDirsReady) {
    for (const dir of ['/var/task', '/var/runtime', '/var/lang', '/opt'])
      if (!existsSync(dir)) await mkdir(dir, { recursive: true });
    sandboxDirsReady = true;
  }
  return root
    ? { unshareArgs: ['--mount', '--propagation', 'private'], drop: true }
    : { unshareArgs: ['--map-root-user', '--mount', '--propagation', 'private'], drop: false };
}

/** Whether this machine can make the sandbox (mount namespaces, as root or through a user namespace). */
export async function sandboxProblem(): Promise<string | undefined> {
  try {
    const { unshareArgs } = await prepareHost();
    await promisify(execFile)('unshare', [...unshareArgs, '--', 'sh', '-c', 'mount -t tmpfs probe /tmp'], { timeout: 10_000 });
    return undefined;
  } catch (error) {
    return `cannot make a mount namespace here (unshare: ${errorMessage(error).trim()}); run as root or where user namespaces are allowed`;
  }
}

export async function unpack(zipFile: string, taskDir: string): Promise<void> {
  await rm(taskDir, { recursive: true, force: true });
  await mkdir(taskDir, { recursive: true });
  await promisify(execFile)('unzip', ['-q', zipFile, '-d', taskDir], { timeout: 60_000 });
  // Lambda's /var/task is readable by the function's user and writable by nobody.
  await promisify(execFile)('chmod', ['-R', 'a+rX,go-w', taskDir]);
  await chmod(taskDir, 0o755);
}

function collect(stream: Readable | null, limitBytes: number): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > limitBytes) text = text.slice(text.length - limitBytes);
  });
  return () => text;
}

export async function invokeInSandbox(options: SandboxOptions): Promise<Invocation> {
  const { fn } = options;
  const { unshareArgs, drop } = await prepareHost();
  const templateEnvironment = { ...fn.environment };
  for (const name of options.withoutVariables ?? []) delete templateEnvironment[name];
  const lambda = { ...lambdaEnvironment(fn), ...options.lambdaOverrides };
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...templateEnvironment, ...options.stackEnvironment, ...lambda })) {
    if (value !== undefined) environment[name] = value;
  }
  environment.VIGIL_REHEARSAL_TIMEOUT_MS = String(fn.timeoutSeconds * 1000);
  const nodeHome = dirname(dirname(options.nodeBinary));
  const args = [
    ...unshareArgs,
    '--',
    'sh',
    '-c',
    sandboxScript,
    'sandbox',
    options.taskDir,
    runtimeDir,
    nodeHome,
    options.layerDir ?? '',
    String(fn.ephemeralStorageMb),
    options.maskedFiles.join(' '),
    drop ? 'yes' : 'no',
    ...Object.entries(environment).map(([name, value]) => `${name}=${value}`),
    '/var/lang/bin/node',
    '--expose-gc',
    '--max-http-header-size=81920',
    ...heapFlags(fn.memoryMb),
    '/var/runtime/index.cjs',
  ];
  const child = spawn('unshare', args, {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    detached: true,
  });
  const stdout = collect(child.stdout, 2 * 1024 * 1024);
  const stderr = collect(child.stderr, 256 * 1024);
  const outcome = collect(child.stdio[3] as Readable, 8 * 1024 * 1024);
  child.stdin.end(JSON.stringify(options.event ?? null));
  // Lambda's own limit, plus the init phase and a margin: the runtime reports a timeout itself first.
  const killer = setTimeout(
    () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    },
    fn.timeoutSeconds * 1000 + 30_000,
  );
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(killer));
  // Whatever the function left running (pg_dump, say) goes with the sandbox.
  try {
    process.kill(-(child.pid as number), 'SIGKILL');
  } catch {
    // already gone
  }
  const logs = `${stdout()}${stderr()}`;
  const line = outcome().trim().split('\n').pop();
  if (!line) return { status: 'crashed', logs, exitCode, errorMessage: `the runtime reported nothing (exit ${exitCode})` };
  const reported = JSON.parse(line) as Omit<Invocation, 'logs' | 'exitCode' | 'maxRssMb'> & { maxRssKb?: number };
  const { maxRssKb, ...rest } = reported;
  return { ...rest, maxRssMb: maxRssKb === undefined ? undefined : Math.round(maxRssKb / 1024), logs, exitCode };
}
