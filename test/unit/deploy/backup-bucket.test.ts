import { describe, expect, it } from 'vitest';
import { bucketRenameProblem, checkBucketBeforeDeploy, defaultRegion, paramsOf } from '../../../local/backup-bucket';

const plan = { stage: 'prod', region: 'eu-west-1', exists: false };

describe('backup-bucket', () => {
  it('lets a first deploy through, and a stack whose bucket already has the name this deploy gives', () => {
    expect(bucketRenameProblem(plan, undefined)).toBeUndefined();
    expect(bucketRenameProblem(plan, 'vigil-prod-backups-123456789012-eu-west-1')).toBeUndefined();
    expect(bucketRenameProblem({ ...plan, given: 'vigil-prod-backups' }, 'vigil-prod-backups')).toBeUndefined();
    // An existing bucket is used, never created: nothing is replaced.
    expect(bucketRenameProblem({ ...plan, exists: true }, 'vigil-prod-backups')).toBeUndefined();
  });

  it('refuses to replace the bucket of a stage deployed under the old default, naming the parameter that keeps it', () => {
    expect(bucketRenameProblem(plan, 'vigil-prod-backups')).toBe(
      'backupBucketName: the stack vigil-prod keeps its backups in vigil-prod-backups; this deploy would name the bucket vigil-prod-backups-<account>-eu-west-1, and CloudFormation would create that one, empty, and keep vigil-prod-backups outside the stack. Pin the bucket: add "backupBucketName": "vigil-prod-backups" to deploy/stages/prod.json (or --param backupBucketName=vigil-prod-backups) (docs/deploying.md, "Upgrading a stage").',
    );
    expect(bucketRenameProblem({ ...plan, given: 'acme-backups' }, 'vigil-prod-backups')).toMatch(
      /^backupBucketName: the stack vigil-prod keeps its backups in vigil-prod-backups; this deploy would name the bucket acme-backups,/,
    );
    // The derived name of another region is another bucket.
    expect(bucketRenameProblem(plan, 'vigil-prod-backups-123456789012-us-east-1')).toMatch(/^backupBucketName: /);
  });

  it('checks a stage deploy against the stack, with the parameters the command line and the stage file give', async () => {
    const asked: string[] = [];
    const lookUp = async (stage: string, region: string) => {
      asked.push(`${stage} ${region}`);
      return 'vigil-prod-backups';
    };
    expect(await checkBucketBeforeDeploy(['deploy', '--stage', 'prod'], lookUp)).toMatch(/^backupBucketName: /);
    expect(
      await checkBucketBeforeDeploy(
        ['deploy', '--stage', 'prod', '--region', 'us-east-1', '--param', 'backupBucketName=vigil-prod-backups'],
        lookUp,
      ),
    ).toBeUndefined();
    expect(asked).toEqual(['prod eu-west-1', 'prod us-east-1']);
    // Not a stack deploy: no question asked.
    for (const args of [
      ['deploy', 'function', '-f', 'probe', '--stage', 'prod'],
      ['package', '--stage', 'prod'],
      ['deploy', '--stage', 'local'],
    ])
      expect(await checkBucketBeforeDeploy(args, lookUp)).toBeUndefined();
    expect(asked).toHaveLength(2);
    // A stack that cannot be asked is not blocked here (the deploy needs the same credentials).
    const unreachable = async () => {
      throw new Error('Could not load credentials from any providers');
    };
    expect(await checkBucketBeforeDeploy(['deploy', '--stage', 'prod'], unreachable)).toBeUndefined();
  });

  it('reads --param pairs and the default region as osls does', () => {
    expect(paramsOf(['deploy', '--param', 'a=1', '--param=b=x=y', '--param', 'a=2'])).toEqual({ a: '2', b: 'x=y' });
    expect(defaultRegion()).toBe('eu-west-1');
  });
});
