import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type AlertOutcome, createAlerter } from '../../lib/alerts';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { ConfigError } from '../../lib/errors';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit, metrics } from '../../lib/metrics';
import { partitionAlertSteps } from './alerting';
import { maintainTable, type TableReport } from './maintain';

const config = loadConfig(['partitions', 'database', 'thresholds', 'alerts', 'aws', 'runtime']);
if (config.partitions.tables.length === 0) {
  throw new ConfigError([
    { variable: 'PARTITION_TABLES', message: 'is required: a JSON array of at least one partitioned table' },
  ]);
}
const db = createDatabase(config.database);
const archiveTarget = config.partitions.archiveBucket
  ? { s3: createS3Client(config.aws), bucket: config.partitions.archiveBucket, prefix: config.partitions.archivePrefix }
  : undefined;
const alerter = createAlerter({ sns: createSnsClient(config.aws), db, config: config.alerts, stage: config.runtime.stage });

function emitMetrics(report: TableReport) {
  if (report.error || report.skippedRun) return;
  const table = { Table: report.table };
  emitMetric(table, 'Partitions', MetricUnit.Count, report.partitions ?? 0);
  emitMetric(table, 'FuturePartitions', MetricUnit.Count, report.futurePartitions ?? 0);
  emitMetric(table, 'DefaultPartitionRows', MetricUnit.Count, report.defaultRows ?? 0);
  emitMetric(table, 'PartitionsCreated', MetricUnit.Count, report.steps.filter((step) => step.step === 'create').length);
  emitMetric(table, 'PartitionsRetired', MetricUnit.Count, report.steps.filter((step) => step.step === 'detach').length);
  emitMetric(table, 'PartitionStepsFailed', MetricUnit.Count, report.failedSteps.length);
}

/** Daily: every configured table kept ahead and within retention, one table at a time. */
export async function runPartitionMaintenance() {
  const thresholds = await loadThresholds(config.thresholds);
  const now = new Date();
  const options = {
    lockTimeoutMs: config.partitions.lockTimeoutMs,
    lockAttempts: config.partitions.lockAttempts,
    moveBatchRows: config.partitions.moveBatchRows,
  };
  const tables: TableReport[] = [];
  const alerts: AlertOutcome[] = [];
  for (const entry of config.partitions.tables) {
    const report = await maintainTable(db, entry, now, options, archiveTarget);
    tables.push(report);
    emitMetrics(report);
    for (const step of partitionAlertSteps(report, thresholds.partitions, now)) {
      alerts.push(step.action === 'raise' ? await alerter.raise(step.alert) : await alerter.resolve(step.key));
    }
    logger.info(
      report.error
        ? `partitions ${report.table}: ${report.error}`
        : `partitions ${report.table}: ${report.steps.filter((step) => step.step === 'create').length} created, ${report.steps.filter((step) => step.step === 'detach').length} retired, ${report.futurePartitions} ahead, ${report.partitions} in all`,
    );
  }
  const failed = tables.filter((report) => report.error || report.failedSteps.length > 0);
  if (failed.length > 0) {
    // After alerting: a failed run fails the invocation, so the Errors alarm and retries see it.
    throw new Error(
      `partition maintenance failed for ${failed.map((report) => report.table).join(', ')}: ${JSON.stringify(failed.map((report) => report.error ?? report.failedSteps))}`,
    );
  }
  return { tables, alerts };
}

export const handler = middy(runPartitionMaintenance).use(injectLambdaContext(logger)).use(logMetrics(metrics));
