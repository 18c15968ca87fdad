import type { Context } from 'aws-lambda';
import { loadConfig } from '../../lib/config';
import { backupConfig } from './config';
import { backupDatabase } from './handler';

/*
 * The backup outside Lambda (a Fargate task, a cron host): the same run, alerts and metrics, with
 * BACKUP_TASK_TIMEOUT_SECONDS as its budget instead of the Lambda's 15 minutes.
 * `node task.js [verify-restore]`; exits non-zero when the backup failed.
 */
const { backup } = loadConfig([backupConfig]);
const deadline = Date.now() + backup.taskTimeoutMs;
const context = { getRemainingTimeInMillis: () => deadline - Date.now() } as Context;

backupDatabase(process.argv[2] === 'verify-restore' ? { action: 'verify-restore' } : {}, context).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
