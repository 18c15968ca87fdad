import type { Alert } from '../../lib/alerts';
import { type PartitionAlertKind, partitionKeys } from '../../lib/alerts/keys';
import type { Thresholds } from '../../lib/thresholds';
import type { TableReport } from './maintain';

export type PartitionAlertRequest = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string };

const changes = (count: number) => (count === 1 ? '1 change' : `${count} changes`);

/** What every alert of one table's run shares: its report, the alert's common fields, its keys. */
interface TableAlerts {
  report: TableReport;
  base: Pick<Alert, 'source' | 'observedAt' | 'cause'>;
  key: (kind: PartitionAlertKind) => string;
}

/** The run failed for the table, changes failed, or a lock deferred changes too often. */
function failedRequest({ report, base, key }: TableAlerts, lockAlert: { breaches: number; runs: number }): PartitionAlertRequest {
  const lockedTooOften = (report.lockDeferredRuns ?? 0) >= lockAlert.breaches && report.deferredSteps.length > 0;
  const failed = report.error !== undefined || report.failedSteps.length > 0 || lockedTooOften;
  if (!failed) return { action: 'resolve', key: key('failed') };
  const what =
    report.error ??
    (report.failedSteps.length > 0
      ? `${changes(report.failedSteps.length)} to the partitions failed; each left the table as it was, and the next run tries again.`
      : `A lock on the table was held longer than partition maintenance waits for one in ${report.lockDeferredRuns} of the last ${lockAlert.runs} runs, so ${changes(report.deferredSteps.length)} to the partitions wait; none of them was made.`);
  return {
    action: 'raise',
    alert: {
      ...base,
      key: key('failed'),
      severity: 'major',
      title: `Partition maintenance of ${report.table} failed`,
      summary: what,
      measurements: [
        { name: 'failed changes', value: report.failedSteps.length, unit: '' },
        { name: 'changes waiting for a lock', value: report.deferredSteps.length, unit: '' },
      ],
      runbook: 'partitions-failed',
      action:
        report.errorKind === 'configuration'
          ? 'Fix this table in PARTITION_TABLES (or the table itself); the other tables were maintained.'
          : lockedTooOften && report.failedSteps.length === 0 && !report.error
            ? "Find the long transaction on the table (SELECT pid, xact_start, query FROM pg_stat_activity WHERE state <> 'idle' ORDER BY xact_start) and end it, or move the schedule to a quieter hour."
            : 'Read the reasons below; the next run tries each change again.',
      details: [
        ...report.failedSteps.map((change) => `${change.step} ${change.partition}: ${change.error}`),
        ...report.deferredSteps.map((change) => `${change.step} ${change.partition} waits: ${change.reason}`),
      ].join('\n'),
    },
  };
}

/** Fewer future partitions than the threshold: the next interval's inserts have nowhere to go. */
function aheadRequest({ report, base, key }: TableAlerts, partitions: Thresholds['partitions']): PartitionAlertRequest {
  if ((report.futurePartitions ?? 0) >= partitions.minFutureMonths) return { action: 'resolve', key: key('ahead') };
  return {
    action: 'raise',
    alert: {
      ...base,
      key: key('ahead'),
      severity: 'critical',
      title: `${report.table} has no partition for the next interval`,
      summary: 'Inserts of the next interval will land in the default partition, or fail where there is none.',
      measurements: [
        {
          name: 'future partitions',
          value: report.futurePartitions ?? 0,
          unit: '',
          threshold: { operator: '<', value: partitions.minFutureMonths },
        },
      ],
      runbook: 'partitions-ahead',
      action: "Run partition maintenance by hand with the stage's configuration and read the changes it could not make:",
      commands: ['npm run invoke -- partitionMaintenance'],
    },
  };
}

/** Rows in the default partition: they block creating the partition of their range. */
function defaultRowsRequest({ report, base, key }: TableAlerts): PartitionAlertRequest {
  if ((report.defaultRows ?? 0) <= 0) return { action: 'resolve', key: key('default-rows') };
  return {
    action: 'raise',
    alert: {
      ...base,
      key: key('default-rows'),
      severity: 'major',
      title: `${report.defaultRows} rows sit in the default partition of ${report.table}`,
      summary:
        'Rows outside every partition range: they block creating the partition for their range until moved (the next run moves those it plans for).',
      measurements: [{ name: 'rows in the default partition', value: report.defaultRows ?? 0, unit: '' }],
      runbook: 'partitions-default-rows',
      action: 'Find their range (SELECT min, max of the key in the default partition); raise premake or fix the writer.',
    },
  };
}

/** More partitions than the threshold: retention is not set, or retired partitions are kept. */
function countRequest({ report, base, key }: TableAlerts, partitions: Thresholds['partitions']): PartitionAlertRequest {
  if ((report.partitions ?? 0) <= partitions.maxPerTable) return { action: 'resolve', key: key('count') };
  return {
    action: 'raise',
    alert: {
      ...base,
      key: key('count'),
      severity: 'minor',
      title: `${report.table} has ${report.partitions} partitions`,
      summary: `More than ${partitions.maxPerTable}: retention is not set, or retired partitions are kept (detach mode).`,
      measurements: [
        {
          name: 'partitions',
          value: report.partitions ?? 0,
          unit: '',
          threshold: { operator: '>', value: partitions.maxPerTable },
        },
      ],
      runbook: 'partitions-count',
      action: 'Set a retention for the table, or drop detached partitions you no longer need.',
    },
  };
}

/**
 * One table's alerts, one per condition, in order: a failed run or change, fewer than one future
 * partition, rows in the default partition, too many partitions. A table that could not be read
 * says only that it failed.
 */
export function partitionAlertRequests(
  report: TableReport,
  partitions: Thresholds['partitions'],
  now: Date,
  lockAlert: { breaches: number; runs: number } = { breaches: 2, runs: 3 },
): PartitionAlertRequest[] {
  if (report.skippedRun) return [];
  const table: TableAlerts = {
    report,
    base: { source: 'partition maintenance', observedAt: now, cause: partitionKeys.cause(report.table) },
    key: (kind) => partitionKeys.of(report.table, kind),
  };
  const failed = failedRequest(table, lockAlert);
  if (report.error !== undefined) return [failed];
  return [failed, aheadRequest(table, partitions), defaultRowsRequest(table), countRequest(table, partitions)];
}
