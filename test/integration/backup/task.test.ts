import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTask } from '../../../local/build-task';
import { type CloudWatchStandIn, seenByAlarm, startCloudWatchStandIn } from '../../../local/cloudwatch-stand-in';
import { type LocalAws, localCredentials, startLocalAws } from '../../../local/local-aws';
import { backupTaskEnvironment, type Template } from '../../../local/rehearsal/template';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { localS3Client } from '../../support/s3';
import { drainDelivered } from '../../support/sns-readback';
import { type CloudFormationTemplate, packageTemplate } from '../../support/template';

const topic = 'vigil-task-alerts';
const bucket = 'vigil-test-backups';

/**
 * The Fargate task's entry point in its container's shape: the bundle the Dockerfile builds
 * (npm run build:task), run by plain node with the environment of the packaged task definition.
 * Only what a container on AWS reaches by the network is pointed at local stand-ins: the database
 * (a login URL instead of its secret), S3 and SNS, and CloudWatch.
 */
describe('backup task', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let cloudWatch: CloudWatchStandIn;
  let bundleDir: string;
  let taskFile: string;
  let template: CloudFormationTemplate;
  let taskEnvironment: Record<string, string>;

  beforeAll(async () => {
    [sns, database, cloudWatch] = await Promise.all([
      startLocalAws({ topics: [topic] }),
      createTestDatabase({}, { pgDump: true }),
      startCloudWatchStandIn(),
    ]);
    const s3 = localS3Client(sns);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    bundleDir = await mkdtemp(join(tmpdir(), 'vigil-task-'));
    taskFile = await buildTask(bundleDir);
    template = await packageTemplate({
      stage: 'test',
      params: {
        databasePublic: 'true',
        alertEmails: 'ops@example.org',
        pgToolsLayerArn: 'arn:aws:lambda:eu-west-1:123456789012:layer:pg-tools-15:3',
        backupRunner: 'fargate',
        backupTaskImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/vigil-backup:test',
        // The pg tools this machine has (the image's are of backupTaskPgMajor, 17 by default).
        backupTaskPgMajor: '15',
        vpcSecurityGroupIds: 'sg-0123456789abcdef0',
        vpcSubnetIds: 'subnet-0123456789abcdef0',
      },
    });
    const local = {
      region: 'eu-west-1',
      account: '123456789012',
      // The stack's bucket (a Ref in the template) is the one made above.
      refs: { AlertTopic: sns.topics[topic]?.topicArn ?? '', BackupBucket: bucket },
      attributes: { 'BackupKey.Arn': 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000' },
    };
    taskEnvironment = backupTaskEnvironment(template as unknown as Template, local);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([cloudWatch?.stop(), sns?.stop(), database?.drop(), rm(bundleDir, { recursive: true, force: true })]);
  });

  const runTask = async (databaseUrl: string) => {
    const environment = {
      PATH: process.env.PATH,
      ...taskEnvironment,
      // The stand-ins for what the container reaches over the network.
      DATABASE_SECRET_ID: '',
      DATABASE_URL: databaseUrl,
      DATABASE_SSL_MODE: 'disable',
      BACKUP_VERIFY_DATABASE_URL_PARAMETER: '',
      AWS_ENDPOINT_URL_S3: sns.s3Endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
      AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [taskFile], {
        cwd: bundleDir,
        env: environment,
        timeout: 120_000,
      });
      return { code: 0, stdout, stderr: '' };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  /** What the freshness alarm of the template watches: its metric, with its dimensions. */
  const freshnessAlarm = () =>
    template.Resources.BackupFreshnessAlarm?.Properties as {
      Namespace: string;
      MetricName: string;
      Dimensions: Array<{ Name: string; Value: string }>;
    };

  const seenByTheAlarm = () => seenByAlarm(cloudWatch.calls, freshnessAlarm());

  it("runs a verified backup from the bundle with the task definition's environment, and publishes what the freshness alarm watches", async () => {
    expect(taskEnvironment.PG_DUMP_PATH).toBe('/usr/lib/postgresql/15/bin/pg_dump');
    const result = await runTask(database.url);
    expect(result.stderr, result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { backup } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
      backup: { key: string; manifest: { verification: { method: string } } };
    };
    expect(backup.key).toMatch(/^backups\//);
    expect(backup.manifest.verification.method).toBe('s3-checksum');
    const s3 = localS3Client(sns);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'backups/' }));
    s3.destroy();
    expect((listed.Contents ?? []).map((object) => object.Key)).toEqual(expect.arrayContaining([backup.key]));
    expect(seenByTheAlarm().map((datum) => datum.Value)).toEqual([1]);
    const units = Object.fromEntries(
      cloudWatch.calls.flatMap((call) => call.MetricData).map((datum) => [datum.MetricName, datum.Unit]),
    );
    expect(units).toMatchObject({ BackupSucceeded: 'Count', BackupSizeBytes: 'Bytes', BackupDurationSeconds: 'Seconds' });
  }, 120_000);

  it('fails the task on a failed backup, after alerting and publishing BackupSucceeded = 0', async () => {
    cloudWatch.calls.length = 0;
    const url = new URL(database.url);
    url.password = 'not-the-password';
    const result = await runTask(url.toString());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/backup failed at versions/);
    expect(seenByTheAlarm().map((datum) => datum.Value)).toEqual([0]);
    const alerts = await drainDelivered(sns, topic);
    expect(alerts.map((alert) => alert.attributes.alert_key)).toEqual([`backup:${database.name}:failed`]);
  }, 120_000);
});
