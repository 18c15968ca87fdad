import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAlerter, type RequestOutcome } from '../../lib/alerts';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { connectionOptions, createDatabase } from '../../lib/db';
import { budgetFrom } from '../../lib/deadline';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit, metrics } from '../../lib/metrics';
import { fetchParameter } from '../../lib/parameters';
import { scheduledSlot } from '../../lib/slots';
import { backupAlertRequests, restoreCheckAlertRequests } from './alerting';
import { backupConfig } from './config';
import { backedUpServer, checkNewestBackupRestores } from './restore-check';
import { type BackupReport, runBackup } from './run';

const config = loadConfig([backupConfig, 'database', 'alerts', 'aws', 'runtime']);
const db = createDatabase(config.database);
const s3 = createS3Client(config.aws);
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

/** Stops the run this long before the Lambda would be killed, so the upload is aborted and ops told. */
function watchdog(context: Context): AbortSignal {
  return AbortSignal.timeout(budgetFrom(context, config.backup.watchdogMarginMs));
}

function emitMetrics(report: BackupReport) {
  // A skipped run measured nothing: the run that holds the lock reports the backup.
  if (report.outcome === 'skipped') return;
  const dimensions: Record<string, string> = report.database ? { Database: report.database } : {};
  // Also without the database, for the "no good backup in 26 hours" alarm.
  emitMetric({}, 'BackupSucceeded', MetricUnit.Count, report.outcome === 'succeeded' ? 1 : 0);
  emitMetric(dimensions, 'BackupSucceeded', MetricUnit.Count, report.outcome === 'succeeded' ? 1 : 0);
  emitMetric(dimensions, 'BackupDurationSeconds', MetricUnit.Seconds, report.durationMs / 1000);
  if (report.manifest) emitMetric(dimensions, 'BackupSizeBytes', MetricUnit.Bytes, report.manifest.sizeBytes);
  if ('ageSeconds' in report.newest)
    emitMetric(dimensions, 'NewestBackupAgeSeconds', MetricUnit.Seconds, report.newest.ageSeconds);
  if (report.retention && !report.retention.dryRun) {
    emitMetric(dimensions, 'BackupsExpired', MetricUnit.Count, report.retention.error ? 0 : report.retention.expired.length);
  }
}

/** The scratch database's URL: given directly (locally) or read from its SSM SecureString (deployed). */
async function withVerifyDatabaseUrl(backup: typeof config.backup): Promise<typeof config.backup> {
  if (backup.verifyDatabaseUrl || !backup.verifyDatabaseParameter) return backup;
  return { ...backup, verifyDatabaseUrl: await fetchParameter(backup.verifyDatabaseParameter) };
}

/** Daily: one backup, verified, then retention. `{"action":"verify-restore"}`: restore the newest into the scratch database. */
export async function backupDatabase(event: { action?: string } | undefined, context: Context) {
  const signal = watchdog(context);
  const alerts: RequestOutcome[] = [];
  if (event?.action === 'verify-restore') {
    const source = await backedUpServer(db, config.database);
    const { database } = source;
    const report = await checkNewestBackupRestores(
      s3,
      await withVerifyDatabaseUrl(config.backup),
      config.database,
      source,
      signal,
      process.env,
    );
    emitMetric({ Database: database }, 'RestoreCheckSucceeded', MetricUnit.Count, report.outcome === 'succeeded' ? 1 : 0);
    alerts.push(...(await alerter.apply(restoreCheckAlertRequests(database, report, new Date()))));
    logger.info(`restore check ${report.outcome}: ${report.key ?? 'no backup'} (${report.durationMs} ms)`);
    if (report.outcome === 'failed') throw new Error(`restore check failed: ${report.failure}`);
    return { restoreCheck: report, alerts };
  }

  const report = await runBackup(
    {
      db,
      s3,
      config: config.backup,
      databaseConfig: config.database,
      connection: () => connectionOptions(config.database),
      inheritedEnv: process.env,
    },
    signal,
  );
  emitMetrics(report);
  if (report.outcome === 'skipped') return { backup: report, alerts };
  alerts.push(...(await alerter.apply(backupAlertRequests(report, new Date()))));
  if (report.outcome === 'failed') {
    // After alerting: the failed invocation feeds the Errors alarm and the on-failure destination.
    throw new Error(`backup failed at ${report.failure?.step}: ${report.failure?.message}`);
  }
  logger.info(
    `backup of ${report.database}: ${report.key}, ${report.manifest?.sizeBytes} bytes in ${report.durationMs} ms; ${report.retention?.expired.length ?? 0} expired${report.retention?.dryRun ? ' (dry run, nothing deleted)' : ''}`,
  );
  return { backup: report, alerts };
}

export const handler = middy(backupDatabase)
  .use(injectLambdaContext(logger))
  .use(scheduledSlot('backup', db))
  .use(logMetrics(metrics));
