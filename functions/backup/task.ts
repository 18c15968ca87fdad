import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Context } from 'aws-lambda';
import { boundedRequestHandler } from '../../lib/aws/timeouts';
import { loadConfig } from '../../lib/config';
import { contextUntil } from '../../lib/deadline';
import { errorSummary, logger } from '../../lib/logger';
import { recordEmittedMetrics } from '../../lib/metrics';
import { backupConfig } from './config';
import { backupDatabase } from './handler';
import { publishMetrics } from './metrics-publish';

/*
 * The backup outside Lambda: the Fargate task of serverless.yml (`backupRunner: fargate`,
 * deploy/backup-task.cjs) or a cron host. The same run, alerts and metrics, with
 * BACKUP_TASK_TIMEOUT_SECONDS as its budget instead of the Lambda's 15 minutes; its metrics go
 * out by PutMetricData, as a task's log lines are not read as EMF.
 * `node task.js [verify-restore]`; exits non-zero when the backup failed or its metrics could not be sent.
 */
const { backup } = loadConfig([backupConfig]);
const context = contextUntil(Date.now() + backup.taskTimeoutMs) as Context;
const cloudWatch = new CloudWatchClient({ requestHandler: boundedRequestHandler('cloudWatch') });
const emittedMetrics = recordEmittedMetrics();

async function runTask(): Promise<unknown> {
  let outcome: unknown;
  let failure: unknown;
  try {
    outcome = await backupDatabase(process.argv[2] === 'verify-restore' ? { action: 'verify-restore' } : {}, context);
  } catch (error) {
    failure = error;
  }
  // Published after a failure too: BackupSucceeded = 0 is what the freshness alarm must see.
  try {
    await publishMetrics(cloudWatch, emittedMetrics());
  } catch (error) {
    logger.error('backup metrics could not be published', { error: errorSummary(error) });
    if (!failure) failure = error;
  }
  if (failure) throw failure;
  return outcome;
}

runTask().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
