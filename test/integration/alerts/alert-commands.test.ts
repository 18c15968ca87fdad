import { exec } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmStateChangeSchema, translateAlarmEvent } from '../../../functions/alerts/alarm';
import { backupAlertRequests, restoreCheckAlertRequests } from '../../../functions/backup/alerting';
import type { BackupReport } from '../../../functions/backup/run';
import { partitionAlertRequests } from '../../../functions/partition-maintenance/alerting';
import { scheduledAlert } from '../../../functions/rollback-decision/alerting';
import type { DecisionAnswer } from '../../../functions/rollback-decision/evaluate';
import { decide } from '../../../functions/rollback-decision/matrix';
import type { Alert } from '../../../lib/alerts';
import { defaultThresholds } from '../../../lib/thresholds';
import { type LocalAws, startLocalAws } from '../../../local/local-aws';
import { projectRoot } from '../../../local/paths';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { localS3Client } from '../../support/s3';
import { drainDelivered } from '../../support/sns-readback';

const topic = 'vigil-commands-alerts';
const bucket = 'vigil-commands-backups';
const now = new Date('2026-12-04T02:00:00Z');

/** The alerts that name a command, from the builders the functions use, each in its firing shape. */
function alertsNamingCommands(backupKey: string): Alert[] {
  const raised = (steps: Array<{ action: string; alert?: Alert }>) =>
    steps.flatMap((step) => (step.action === 'raise' && step.alert ? [step.alert] : []));
  const failedBackup: BackupReport = {
    outcome: 'failed',
    database: 'app',
    startedAt: now.toISOString(),
    durationMs: 10,
    failure: { step: 'dump', message: 'AccessDenied: Access Denied' },
    newest: { missing: 'no complete backup (dump with manifest) in the bucket' },
  };
  const readings = decide(
    [
      { name: 'errorRatePercent', value: 7, unit: '%', source: 'test' },
      { name: 'avgResponseMs', value: 300, unit: 'ms', source: 'test' },
    ],
    defaultThresholds.rollback,
  );
  const answer = {
    decidedAt: now.toISOString(),
    action: readings.action,
    reasons: readings.reasons,
    signals: readings.classified,
    scheduled: { effective: 'immediate_rollback', note: 'in force', stagedStreak: 1, calmStreak: 0, tier: null },
  } as unknown as DecisionAnswer;
  const alarmEvent = alarmStateChangeSchema.parse(
    JSON.parse(readFileSync(join(projectRoot, 'events/alerts.alarm.json'), 'utf8')),
  );
  return [
    ...raised(backupAlertRequests(failedBackup, now)),
    ...raised(
      restoreCheckAlertRequests('app', { outcome: 'failed', key: backupKey, durationMs: 5, mismatches: [], failure: 'x' }, now),
    ),
    ...raised(
      partitionAlertRequests(
        {
          table: 'public.api_performance_log',
          steps: [],
          failedSteps: [],
          deferredSteps: [],
          partitions: 2,
          futurePartitions: 0,
        },
        defaultThresholds.partitions,
        now,
      ),
    ),
    scheduledAlert(answer, undefined) as Alert,
    ...raised(translateAlarmEvent(alarmEvent)),
  ];
}

/**
 * Every command an alert names is run here as on-call would paste it, in a shell at the project
 * root, with the stage's configuration in the environment. Only the AWS CLI's, which need an AWS
 * account, are not run: they are listed so that no other command escapes.
 */
describe('the commands alerts name', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let scratchUrl: string;

  beforeAll(async () => {
    // It runs a backup and a restore: a server the machine's pg_dump can dump.
    [sns, database] = await Promise.all([startLocalAws({ topics: [topic] }), createTestDatabase({}, { pgDump: true })]);
    const s3 = localS3Client(sns);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    scratchUrl = database.url.replace(new RegExp(`/${database.name}$`), `/${database.name}_scratch`);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database.name}_scratch`);
    await admin.end();
  });

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database.name}_scratch WITH (FORCE)`);
    await admin.end();
    await Promise.all([sns?.stop(), database?.drop()]);
  });

  const run = async (command: string) => {
    const environment = {
      ...process.env,
      VIGIL_LOCAL_DIR: '/nonexistent',
      VIGIL_STAGE: 'local',
      DATABASE_URL: database.url,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_S3: sns.s3Endpoint,
      VIGIL_ALERT_TOPIC_ARN: sns.topics[topic]?.topicArn ?? '',
      BACKUP_BUCKET: bucket,
      BACKUP_VERIFY_DATABASE_URL: scratchUrl,
      PARTITION_TABLES: JSON.stringify([{ table: 'api_performance_log', retention: 12, adopt: true }]),
    };
    try {
      const { stdout } = await promisify(exec)(command, {
        cwd: projectRoot,
        env: environment,
        timeout: 120_000,
        shell: '/bin/bash',
      });
      return { code: 0, stdout, stderr: '' };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it('runs each one to a zero exit, and the backup it names restores with the command the restore check names', async () => {
    const backup = await run('npm run --silent invoke -- backup --event events/backup.schedule.json');
    expect(backup.stderr, backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    const backupKey = (JSON.parse(backup.stdout) as { backup: { key: string } }).backup.key;

    const alerts = alertsNamingCommands(backupKey);
    const commands = [...new Set(alerts.flatMap((alert) => alert.commands ?? []))];
    const needAws = commands.filter((command) => command.startsWith('aws '));
    const local = commands.filter((command) => !command.startsWith('aws '));
    expect(local).toEqual([
      'npm run invoke -- backup --event events/backup.schedule.json',
      `npm run restore -- ${backupKey} --target "$BACKUP_VERIFY_DATABASE_URL" --clean`,
      'npm run invoke -- partitionMaintenance',
      'npm run decide',
    ]);
    expect(needAws).toEqual([
      'aws cloudwatch describe-alarm-history --alarm-name vigil-local-probe-errors --region eu-west-1 --max-records 5',
    ]);
    // The backup command ran first (a second run the same day would expire the first by retention).
    for (const command of local.slice(1)) {
      const result = await run(command);
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
    }
    const scratch = new pg.Client({ connectionString: scratchUrl });
    await scratch.connect();
    const { rows } = await scratch.query<{ users: string | null }>("SELECT to_regclass('public.users')::text AS users");
    await scratch.end();
    expect(rows[0]?.users).toBe('users');
    // What the runs alerted is readable too (the backup's success resolves nothing it never sent).
    await drainDelivered(sns, topic);
  }, 240_000);
});
