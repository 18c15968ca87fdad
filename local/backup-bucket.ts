import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { errorMessage } from '../lib/errors';
import { projectRoot } from './paths';

/*
 * A deploy must never move a stage's backups into a new, empty bucket. The bucket's name is the
 * one given (backupBucketName) or vigil-<stage>-backups-<account>-<region>; a stage deployed when
 * the default was vigil-<stage>-backups, redeployed without pinning that name, would have its
 * bucket replaced: CloudFormation creates the new one and keeps the old one (with every backup)
 * outside the stack. `npm run deploy` asks the stack which bucket it has and refuses such a deploy
 * before anything is uploaded, naming the parameter that keeps the bucket.
 */

/** The `--param name=value` pairs of a serverless command line (the last one of a name wins, as in osls). */
export function paramsOf(args: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  args.forEach((arg, index) => {
    const entry = args[index - 1] === '--param' ? arg : arg.startsWith('--param=') ? arg.slice('--param='.length) : undefined;
    if (entry === undefined) return;
    const at = entry.indexOf('=');
    if (at > 0) params[entry.slice(0, at).trim()] = entry.slice(at + 1);
  });
  return params;
}

/** The value of `--name value` or `-n value` on a serverless command line. */
function optionOf(args: readonly string[], long: string, short: string): string | undefined {
  const at = args.findIndex((arg) => arg === long || arg === short);
  if (at >= 0) return args[at + 1];
  return args.find((arg) => arg.startsWith(`${long}=`))?.slice(long.length + 1);
}

/** The region serverless.yml deploys to when the command line names none (`${opt:region, '<default>'}`). */
export function defaultRegion(serverlessYaml = readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')): string {
  const found = /^\s+region:\s*\$\{opt:region,\s*'([a-z0-9-]+)'\}/m.exec(serverlessYaml)?.[1];
  if (!found) throw new Error("serverless.yml: provider.region names no default region (opt:region, '<region>')");
  return found;
}

export interface BucketPlan {
  stage: string;
  region: string;
  /** backupBucketName as this deploy passes it ('' or undefined: the derived name). */
  given?: string;
  /** backupBucketExists=true: the stack creates no bucket, it uses the one named. */
  exists: boolean;
}

/** Why deploying `plan` onto a stack whose bucket is `current` would leave the backups behind, or undefined. */
export function bucketRenameProblem(plan: BucketPlan, current: string | undefined): string | undefined {
  // No stack yet, or no bucket of its own: nothing to lose. An existing bucket is used, not created.
  if (!current || plan.exists) return undefined;
  const given = plan.given?.trim();
  const derived = new RegExp(`^vigil-${plan.stage}-backups-\\d{12}-${plan.region}$`);
  if (given ? given === current : derived.test(current)) return undefined;
  const next = given || `vigil-${plan.stage}-backups-<account>-${plan.region}`;
  return [
    `backupBucketName: the stack vigil-${plan.stage} keeps its backups in ${current}; this deploy would name the bucket ${next},`,
    `and CloudFormation would create that one, empty, and keep ${current} outside the stack.`,
    `Pin the bucket: add "backupBucketName": "${current}" to deploy/stages/${plan.stage}.json (or --param backupBucketName=${current})`,
    '(docs/deploying.md, "Upgrading a stage").',
  ].join(' ');
}

/** The physical name of the stack's BackupBucket, or undefined when there is no such stack or resource. */
export async function currentBucket(stage: string, region: string): Promise<string | undefined> {
  const cloudFormation = new CloudFormationClient({ region });
  try {
    const { StackResourceDetail } = await cloudFormation.send(
      new DescribeStackResourceCommand({ StackName: `vigil-${stage}`, LogicalResourceId: 'BackupBucket' }),
    );
    return StackResourceDetail?.PhysicalResourceId;
  } catch (error) {
    // CloudFormation answers both "Stack with id vigil-x does not exist" and "Resource BackupBucket
    // does not exist for stack vigil-x" as a ValidationError.
    if ((error as Error).name === 'ValidationError' && /does not exist/.test(errorMessage(error))) return undefined;
    throw error;
  } finally {
    cloudFormation.destroy();
  }
}

/**
 * Before `serverless deploy` of a stage: the problem that stops it, or undefined. A stack that
 * cannot be asked (no credentials, no permission) is said so and not blocked here: the deploy
 * itself needs the same credentials and fails on its own.
 */
export async function checkBucketBeforeDeploy(
  args: readonly string[],
  lookUp: (stage: string, region: string) => Promise<string | undefined> = currentBucket,
): Promise<string | undefined> {
  const stage = optionOf(args, '--stage', '-s');
  if (args[0] !== 'deploy' || (args[1] && !args[1].startsWith('-')) || !stage || stage === 'local') return undefined;
  const params = paramsOf(args);
  const plan: BucketPlan = {
    stage,
    region: optionOf(args, '--region', '-r') ?? defaultRegion(),
    given: params.backupBucketName,
    exists: params.backupBucketExists?.trim() === 'true',
  };
  let current: string | undefined;
  try {
    current = await lookUp(plan.stage, plan.region);
  } catch (error) {
    process.stderr.write(
      `warning: could not ask CloudFormation for the backup bucket of vigil-${plan.stage} (${errorMessage(error)}); not checked\n`,
    );
    return undefined;
  }
  return bucketRenameProblem(plan, current);
}
