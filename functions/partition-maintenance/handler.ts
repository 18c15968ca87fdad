import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createAlerter } from '../../lib/alerts';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { ConfigError } from '../../lib/errors';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit, metrics } from '../../lib/metrics';
import { scheduledSlot } from '../../lib/slots';
import { partitionAlertRequests } from './alerting';
import { partitionsConfig } from './config';
import { maintainTable, type TableReport } from './maintain';

const config = loadConfig([partitionsConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime']);
if (config.partitions.tables.length === 0 && config.partitions.invalidTables.length === 0) {
  throw new ConfigError([
    { variable: 'PARTITION_TABLES', message: 'is required: a JSON array of at least one partitioned table' },
  ]);
}
const db = createDatabase(config.database);
const archiveTarget = config.partitions.archiveBucket
  ? { s3: createS3Client(config.aws), bucket: config.partitions.archiveBucket, prefix: config.partitions.archivePrefix }
  : undefined;
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

function emitMetrics(report: TableReport) {
  if (report.error || report.skippedRun) return;
  const table = { Table: report.table };
  emitMetric(table, 'Partitions', MetricUnit.Count, report.partitions ?? 0);
  emitMetric(table, 'FuturePartitions', MetricUnit.Count, report.futurePartitions ?? 0);
  emitMetric(table, 'DefaultPartitionRows', MetricUnit.Count, report.defaultRows ?? 0);
  emitMetric(table, 'PartitionsCreated', MetricUnit.Count, report.steps.filter((step) => step.step === 'create').length);
  emitMetric(table, 'PartitionsRetired', MetricUnit.Count, report.steps.filter((step) => step.step === 'detach').length);
  emitMetric(table, 'PartitionStepsFailed', MetricUnit.Count, report.failedSteps.length);
  emitMetric(table, 'PartitionStepsDeferred', MetricUnit.Count, report.deferredSteps.length);
}

/**
 * Daily: every configured table kept ahead and within retention, one table at a time. No table
 * stops another: a misconfigured entry, a failed change, a held lock or an undeliverable alert is
 * recorded and the run goes on. The invocation fails at the end only for what a retry can fix (a
 * failed change, a database error, an alert not delivered), never for a lock (the next run retries
 * it) or a configuration error (a retry cannot fix it; its alert says what to change).
 */
export async function runPartitionMaintenance() {
  const thresholds = await loadThresholds(config.thresholds);
  const now = new Date();
  const options = {
    lockTimeoutMs: config.partitions.lockTimeoutMs,
    moveIntervalsPerRun: config.partitions.moveIntervalsPerRun,
    lockAlertRuns: config.partitions.lockAlertRuns,
  };
  const lockAlert = { breaches: config.partitions.lockAlertBreaches, runs: config.partitions.lockAlertRuns };
  const tables: TableReport[] = config.partitions.invalidTables.map((invalid) => ({
    table: invalid.label,
    error: `configuration of this PARTITION_TABLES entry: ${invalid.problems.join('; ')}`,
    errorKind: 'configuration' as const,
    steps: [],
    failedSteps: [],
    deferredSteps: [],
  }));
  for (const entry of config.partitions.tables) {
    tables.push(
      await maintainTable(db, entry, now, options, archiveTarget).catch(
        (error: Error): TableReport => ({
          table: entry.table,
          error: error.message,
          errorKind: 'transient',
          steps: [],
          failedSteps: [],
          deferredSteps: [],
        }),
      ),
    );
  }
  // Every table's alert requests together: the state of all their keys is read in one statement. An
  // alert SNS would not take stops no other; the invocation fails for it at the end.
  const alerts = await alerter.apply(
    tables.flatMap((report) => partitionAlertRequests(report, thresholds.partitions, now, lockAlert)),
    { continueOnDeliveryFailure: true },
  );
  const undelivered = alerts.flatMap((outcome) => (outcome.action === 'failed' ? [`${outcome.key}: ${outcome.reason}`] : []));
  for (const report of tables) {
    emitMetrics(report);
    logger.info(
      report.error
        ? `partitions ${report.table}: ${report.error}`
        : `partitions ${report.table}: ${report.steps.filter((step) => step.step === 'create').length} created, ${report.steps.filter((step) => step.step === 'detach').length} retired, ${report.deferredSteps.length} deferred (lock), ${report.futurePartitions} ahead, ${report.partitions} in all`,
    );
  }
  const retryable = tables.filter((report) => report.errorKind === 'transient' || report.failedSteps.length > 0);
  if (retryable.length > 0 || undelivered.length > 0) {
    // After every table and every alert: the failed invocation feeds the Errors alarm and Lambda's retry.
    throw new Error(
      [
        retryable.length
          ? `partition maintenance failed for ${retryable.map((report) => report.table).join(', ')}: ${JSON.stringify(retryable.map((report) => report.error ?? report.failedSteps))}`
          : '',
        undelivered.length ? `alerts not delivered: ${undelivered.join('; ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    );
  }
  return { tables, alerts };
}

export const handler = middy(runPartitionMaintenance)
  .use(injectLambdaContext(logger))
  .use(scheduledSlot('partitionMaintenance', db))
  .use(logMetrics(metrics));
