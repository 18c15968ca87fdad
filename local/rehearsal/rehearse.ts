import { execFile, execFileSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toolMajorVersion } from '../../functions/backup/pg-tools';
import { buildTask } from '../build-task';
import { seenByAlarm, startCloudWatchStandIn } from '../cloudwatch-stand-in';
import { projectRoot } from '../paths';
import { deployRuntime } from '../runtime';
import { packageService } from '../sls';
import {
  answerProblem,
  arnMatches,
  asDeliveredByApiGateway,
  asScheduledNow,
  type CheckResult,
  environmentProblems,
  errorLogLines,
  firstLoggedError,
  grantedResources,
  layerProblem,
  runtimeProblem,
  timeoutProblem,
} from './checks';
import { buildLayer, hostCopiesOfLayerLibraries, layerProblems } from './layer';
import { type Invocation, invokeInSandbox, type SandboxOptions, sandboxProblem, unpack } from './sandbox';
import { type RehearsalStack, region, rehearsalStage, startRehearsalStack } from './stack';
import {
  backupTaskEnvironment,
  evaluate,
  type LocalResources,
  type PackagedFunction,
  packagedFunctions,
  readTemplate,
  type Template,
} from './template';

/*
 * The rehearsal: the stack packaged as it is deployed, every function run from its zip in a
 * Lambda-shaped sandbox on every sample event of events/, against the TLS-only database as a
 * non-superuser. prepareRehearsal() builds everything once; the run functions each return checks,
 * every one naming its function, its check and (for invocations) its event.
 */

export const eventsDir = join(projectRoot, 'events');
const account = '000000000000';

export interface Rehearsal {
  stack: RehearsalStack;
  nodeBinary: string;
  nodeVersion: string;
  layerDir: string;
  maskedFiles: string[];
  packageDir: string;
  template: Template;
  local: LocalResources;
  functions: PackagedFunction[];
  /** The setup's own checks (sandbox, layer, package). */
  checks: CheckResult[];
  stop(): Promise<void>;
}

/** The pinned Node of the deploy runtime: an official build, whose OpenSSL is its own (the sandbox hides the host's libraries). */
function pinnedNode(): { binary: string; version: string } {
  const binary = execFileSync(join(projectRoot, 'local', 'node-runtime.sh'), ['--pinned'], { encoding: 'utf8' }).trim();
  const version = execFileSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  return { binary, version };
}

export async function prepareRehearsal(options: { log?: (line: string) => void } = {}): Promise<Rehearsal> {
  const log = options.log ?? (() => {});
  // Inside the project: the CA file is packaged from there (databaseSslCaFile names a project file).
  const workDir = join(projectRoot, '.vigil', 'rehearsal', String(process.pid));
  const checks: CheckResult[] = [];
  const problem = await sandboxProblem();
  if (problem) throw new Error(`sandbox: ${problem}`);
  const node = pinnedNode();
  log(`node       ${node.version} (${deployRuntime.lambdaRuntime}) at ${node.binary}`);

  const stack = await startRehearsalStack({ workDir: join(workDir, 'stack'), log });
  try {
    const layerDir = join(workDir, 'layer');
    await buildLayer(layerDir);
    const layout = await layerProblems(layerDir);
    checks.push({
      function: 'backup',
      step: 'layer',
      ok: layout.length === 0,
      detail: layout.length
        ? layout.join('; ')
        : 'bin/pg_dump, bin/pg_restore and their libraries in lib/, as collect.sh lays out the real layer',
    });
    const maskedFiles = await hostCopiesOfLayerLibraries(layerDir);
    log(`layer      ${layerDir} (${maskedFiles.length} host copies of its libraries hidden in the sandbox)`);

    const packageDir = join(workDir, 'package');
    const started = performance.now();
    await packageService({ stage: rehearsalStage, region, outputDir: packageDir, params: stack.params });
    const template = await readTemplate(packageDir);
    const local: LocalResources = {
      region,
      account,
      refs: { AlertTopic: stack.topicArn, BackupBucket: stack.bucket, ServerlessDeploymentBucket: 'vigil-rehearsal-deployment' },
      // The key the stack creates for the backups; the local S3 server takes SSE-KMS requests without KMS.
      attributes: { 'BackupKey.Arn': `arn:aws:kms:${region}:${account}:key/00000000-0000-4000-8000-000000000000` },
    };
    const functions = packagedFunctions(template, packageDir, local);
    log(`package    ${functions.length} functions, stage ${rehearsalStage}, in ${Math.round(performance.now() - started)} ms`);
    return {
      stack,
      nodeBinary: node.binary,
      nodeVersion: node.version,
      layerDir,
      maskedFiles,
      packageDir,
      template,
      local,
      functions,
      checks,
      async stop() {
        await stack.stop();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

/** Each function's static checks: runtime, timeouts, what its environment carries, its layer. */
export function checkFunction(rehearsal: Rehearsal, fn: PackagedFunction): CheckResult[] {
  const check = (name: string, problem: string | undefined, passed: string): CheckResult => ({
    function: fn.name,
    step: name,
    ok: !problem,
    detail: problem ?? passed,
  });
  const environment = environmentProblems(fn);
  return [
    check(
      'runtime',
      runtimeProblem(fn, deployRuntime.lambdaRuntime, rehearsal.nodeVersion),
      `${fn.runtime} on Node ${rehearsal.nodeVersion}`,
    ),
    check(
      'timeouts',
      timeoutProblem(fn),
      `statement timeout ${fn.environment.DATABASE_STATEMENT_TIMEOUT_MS ?? 'default'} ms under ${fn.timeoutSeconds} s`,
    ),
    check('environment', environment.length ? environment.join('; ') : undefined, 'no credentials in the template'),
    check('layer', layerProblem(fn), fn.layers.length ? `${fn.layers.length} layer, tools under /opt/bin` : 'no layer needed'),
  ];
}

/** Stand-ins for AWS the sandboxed function talks to, and credentials that say which function signed. */
export function stackEnvironment(rehearsal: Rehearsal, fn: PackagedFunction): Record<string, string> {
  const { aws, secrets } = rehearsal.stack;
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: accessKeyOf(fn),
    AWS_SECRET_ACCESS_KEY: 'rehearsal-secret-key',
    AWS_SESSION_TOKEN: 'rehearsal-session-token',
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    AWS_ENDPOINT_URL_SNS: aws.endpoint,
    AWS_ENDPOINT_URL_SQS: aws.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_ENDPOINT_URL_SSM: secrets.endpoint,
    // Every other service, CloudWatch included, to a server that refuses it: nothing reaches AWS.
    AWS_ENDPOINT_URL: secrets.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: secrets.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

const accessKeyOf = (fn: PackagedFunction) => `ASIAREHEARSAL${fn.name.toUpperCase()}`;

export async function sampleEvents(functionName: string): Promise<string[]> {
  return (await readdir(eventsDir)).filter((file) => file.startsWith(`${functionName}.`) && file.endsWith('.json')).sort();
}

export interface RunOptions {
  /** The unpacked code to run instead of the function's zip (a variant build). */
  taskDir?: string;
  events?: string[];
  sandbox?: Pick<SandboxOptions, 'withoutVariables' | 'lambdaOverrides'>;
  onInvocation?: (event: string, invocation: Invocation) => void;
}

/** Runs the function once per sample event (HTTP events as API Gateway delivers them after IAM). */
export async function runFunction(rehearsal: Rehearsal, fn: PackagedFunction, options: RunOptions = {}): Promise<CheckResult[]> {
  const taskDir = options.taskDir ?? join(rehearsal.packageDir, '..', 'task', fn.name);
  if (!options.taskDir) await unpack(fn.zipFile, taskDir);
  const checks: CheckResult[] = [];
  const invoke = (event: unknown) =>
    invokeInSandbox({
      fn,
      event,
      nodeBinary: rehearsal.nodeBinary,
      taskDir,
      layerDir: fn.layers.length > 0 ? rehearsal.layerDir : undefined,
      maskedFiles: rehearsal.maskedFiles,
      stackEnvironment: stackEnvironment(rehearsal, fn),
      ...options.sandbox,
    });
  for (const eventFile of options.events ?? (await sampleEvents(fn.name))) {
    const sample = asScheduledNow(JSON.parse(await readFile(join(eventsDir, eventFile), 'utf8')) as unknown);
    const delivered = asDeliveredByApiGateway(sample);
    const invocation = await invoke(delivered);
    options.onInvocation?.(eventFile, invocation);
    const oneLine = (text: string | undefined) => text?.replace(/\s+/g, ' ').trim();
    const answerIssue = oneLine(answerProblem(fn.name, eventFile, delivered, invocation));
    const logged = oneLine(firstLoggedError(invocation.logs));
    const problem = answerIssue && logged && !answerIssue.includes(logged) ? `${answerIssue} (logged: ${logged})` : answerIssue;
    const errors = problem ? [] : errorLogLines(invocation.logs);
    const answered = (invocation.result as { statusCode?: number } | undefined)?.statusCode;
    checks.push({
      function: fn.name,
      step: 'invoke',
      event: eventFile,
      ok: !problem && errors.length === 0,
      detail:
        problem ??
        (errors.length
          ? `logged at error level: ${errors[0]?.slice(0, 400)}`
          : `${answered ? `${answered} ` : ''}in ${invocation.durationMs} ms (init ${invocation.initMs} ms), ${invocation.maxRssMb} MB of ${fn.memoryMb} MB`),
    });
    if (delivered !== sample) {
      // The same request with the local bearer token and no IAM: the deployed route must refuse it.
      const unsigned = await invoke(sample);
      const status = (unsigned.result as { statusCode?: number } | undefined)?.statusCode;
      checks.push({
        function: fn.name,
        step: 'authentication',
        event: eventFile,
        ok: status === 401,
        detail:
          status === 401
            ? 'refuses the local bearer token (401): only IAM-signed requests reach it'
            : `answered ${status ?? unsigned.status} to an unsigned request`,
      });
    }
  }
  return checks;
}

/**
 * Every secret and SSM parameter a function read during the rehearsal is one its own role grants
 * (the grant as the template writes it, evaluated for this account and region).
 */
export function checkReads(rehearsal: Rehearsal, functions: PackagedFunction[]): CheckResult[] {
  return functions.map((fn) => {
    const reads = rehearsal.stack.secrets.reads.filter((read) => read.accessKeyId === accessKeyOf(fn));
    const refused = rehearsal.stack.secrets.refused.filter((request) => request.accessKeyId === accessKeyOf(fn));
    const ungranted = reads.filter((read) => {
      const action = read.service === 'secretsmanager' ? 'secretsmanager:GetSecretValue' : 'ssm:GetParameter';
      const patterns = grantedResources(rehearsal.template, fn, action, (value) =>
        evaluate(value, rehearsal.template, rehearsal.local, `${fn.roleLogicalId}`),
      );
      return !read.arn || !patterns.some((pattern) => arnMatches(pattern, read.arn as string));
    });
    const problems = [
      ...ungranted.map(
        (read) => `read ${read.service} ${read.requested}, which ${read.arn ? 'its role does not grant' : 'does not exist'}`,
      ),
      ...refused.map((request) => `called ${request.target}, which the rehearsal does not offer (it would go to AWS)`),
    ];
    const names = [...new Set(reads.map((read) => read.requested))];
    return {
      function: fn.name,
      step: 'grants',
      ok: problems.length === 0,
      detail: problems.length
        ? problems.join('; ')
        : `${names.length ? names.join(', ') : 'no secret or parameter'} read, each granted by its role`,
    };
  });
}

/** The task's process run to its end: its exit code and output, whether it succeeded or not. */
async function runTaskProcess(
  nodeBinary: string,
  taskFile: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(nodeBinary, [taskFile], {
      cwd,
      env,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The JSON of the output's last line; an empty object when it is not JSON. */
function lastJsonLine(stdout: string): unknown {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return {};
  }
}

/**
 * The backup as the Fargate task runs it, in its container's shape: the stack packaged again with
 * backupRunner=fargate, the bundle the Dockerfile builds (npm run build:task), run by the deploy
 * runtime's Node with the task definition's environment, as the backup's role, against the same
 * TLS-only database, S3, SNS and secrets; its metrics into a CloudWatch stand-in, where the
 * freshness alarm of that template must see them. The image's root (/app) is the bundle's directory
 * here, and its pg tools are this machine's of the same major.
 */
export async function runBackupTask(rehearsal: Rehearsal): Promise<CheckResult[]> {
  const check = (name: string, ok: boolean, detail: string): CheckResult => ({ function: 'backup', step: name, ok, detail });
  const backupFunction = rehearsal.functions.find((fn) => fn.name === 'backup');
  if (!backupFunction) return [check('task', false, 'no backup function packaged')];
  const workDir = join(rehearsal.packageDir, '..', 'backup-task');
  const bundleDir = join(workDir, 'app');
  const pgMajor = toolMajorVersion(execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }));
  await packageService({
    stage: rehearsalStage,
    region,
    outputDir: join(workDir, 'package'),
    params: {
      ...rehearsal.stack.params,
      backupRunner: 'fargate',
      backupTaskImage: `${account}.dkr.ecr.${region}.amazonaws.com/vigil-backup:rehearsal`,
      backupTaskPgMajor: String(pgMajor),
    },
  });
  const template = await readTemplate(join(workDir, 'package'));
  const definition = template.Resources.BackupTaskDefinition?.Properties as
    | {
        RuntimePlatform: { CpuArchitecture: string };
        TaskRoleArn: unknown;
        ContainerDefinitions: Array<{ Command: string[] }>;
      }
    | undefined;
  if (!definition) return [check('task', false, 'backupRunner=fargate packaged no BackupTaskDefinition')];
  const [container] = definition.ContainerDefinitions;
  const checks = [
    check(
      'task definition',
      definition.RuntimePlatform.CpuArchitecture === 'ARM64' &&
        JSON.stringify(definition.TaskRoleArn) === JSON.stringify({ 'Fn::GetAtt': ['BackupRole', 'Arn'] }),
      `${definition.RuntimePlatform.CpuArchitecture}, the backup's role, ${container?.Command.join(' ')}`,
    ),
  ];
  // The image's root (/app) is the bundle's directory here.
  const environment = Object.fromEntries(
    Object.entries(backupTaskEnvironment(template, rehearsal.local)).map(([name, value]) => [
      name,
      value.replace(/^\/app\//, `${bundleDir}/`),
    ]),
  );
  const taskFile = await buildTask(bundleDir, rehearsal.stack.params.databaseSslCaFile);
  const cloudWatch = await startCloudWatchStandIn();
  const started = performance.now();
  const run = await runTaskProcess(rehearsal.nodeBinary, taskFile, bundleDir, {
    PATH: process.env.PATH,
    ...environment,
    ...stackEnvironment(rehearsal, backupFunction),
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
  }).finally(() => cloudWatch.stop());
  const result = lastJsonLine(run.stdout) as { backup?: { key: string; manifest?: { verification?: { method: string } } } };
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  checks.push(
    check(
      'task run',
      run.code === 0 && Boolean(result.backup?.manifest),
      run.code === 0
        ? `node task.js: ${result.backup?.key} verified by ${result.backup?.manifest?.verification?.method} in ${seconds} s`
        : `node task.js exited ${run.code}: ${(run.stderr || run.stdout).trim().slice(0, 400)}`,
    ),
  );
  const alarm = template.Resources.BackupFreshnessAlarm?.Properties as Parameters<typeof seenByAlarm>[1];
  const seen = seenByAlarm(cloudWatch.calls, alarm);
  checks.push(
    check(
      'task metrics',
      seen.length === 1 && seen[0]?.Value === 1,
      seen.length
        ? `${alarm.MetricName} = ${seen.map((datum) => datum.Value).join(', ')} by PutMetricData, where the freshness alarm looks`
        : `no ${alarm.MetricName} with the freshness alarm's dimensions among ${cloudWatch.calls.length} PutMetricData calls`,
    ),
  );
  return checks;
}
