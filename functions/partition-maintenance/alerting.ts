import type { Alert } from '../../lib/alerts';
import { type PartitionAlertKind, partitionKeys } from '../../lib/alerts/keys';
import type { Thresholds } from '../../lib/thresholds';
import type { TableReport } from './maintain';

export type PartitionAlertStep = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string };

/** Fewer than one future partition, rows in the default partition, too many partitions, a failed step or table. */
// Over 80 lines: one alert per condition, in order, each a few lines of its words.
export function partitionAlertSteps(
  report: TableReport,
  partitions: Thresholds['partitions'],
  now: Date,
  lockAlert: { breaches: number; runs: number } = { breaches: 2, runs: 3 },
): PartitionAlertStep[] {
  if (report.skippedRun) return [];
  // One table's alerts of one run are one cause: one message per severity (lib/alerts/group.ts).
  const base = { source: 'partition maintenance', observedAt: now, cause: partitionKeys.cause(report.table) };
  const key = (kind: PartitionAlertKind) => partitionKeys.of(report.table, kind);
  const steps: PartitionAlertStep[] = [];
  const lockedTooOften = (report.lockDeferredRuns ?? 0) >= lockAlert.breaches && report.deferredSteps.length > 0;
  const failed = report.error !== undefined || report.failedSteps.length > 0 || lockedTooOften;
  if (failed) {
    const what =
      report.error ??
      (report.failedSteps.length > 0
        ? `${report.failedSteps.length} step(s) failed; each left the table as it was, and the next run tries again.`
        : `A lock on the table was held longer than PARTITION_LOCK_TIMEOUT_MS in ${report.lockDeferredRuns} of the last ${lockAlert.runs} runs, so ${report.deferredSteps.length} step(s) wait; nothing was changed by them.`);
    steps.push({
      action: 'raise',
      alert: {
        ...base,
        key: key('failed'),
        severity: 'major',
        title: `Partition maintenance of ${report.table} failed`,
        summary: what,
        measurements: [
          { name: 'failed steps', value: report.failedSteps.length, unit: '' },
          { name: 'steps waiting for a lock', value: report.deferredSteps.length, unit: '' },
        ],
        runbook: 'partitions-failed',
        action:
          report.errorKind === 'configuration'
            ? 'Fix this table in PARTITION_TABLES (or the table itself); the other tables were maintained.'
            : lockedTooOften && report.failedSteps.length === 0 && !report.error
              ? "Find the long transaction on the table (SELECT pid, xact_start, query FROM pg_stat_activity WHERE state <> 'idle' ORDER BY xact_start) and end it, or move the schedule to a quieter hour."
              : 'Read the reasons below; the next run retries each step.',
        details: [
          ...report.failedSteps.map((step) => `${step.step} ${step.partition}: ${step.error}`),
          ...report.deferredSteps.map((step) => `${step.step} ${step.partition} waits: ${step.reason}`),
        ].join('\n'),
      },
    });
  } else {
    steps.push({ action: 'resolve', key: key('failed') });
  }
  if (report.error !== undefined) return steps;
  if ((report.futurePartitions ?? 0) < partitions.minFutureMonths) {
    steps.push({
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
        action: "Run partition maintenance by hand with the stage's configuration and read its failed steps:",
        commands: ['npm run invoke -- partitionMaintenance'],
      },
    });
  } else {
    steps.push({ action: 'resolve', key: key('ahead') });
  }
  if ((report.defaultRows ?? 0) > 0) {
    steps.push({
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
    });
  } else {
    steps.push({ action: 'resolve', key: key('default-rows') });
  }
  if ((report.partitions ?? 0) > partitions.maxPerTable) {
    steps.push({
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
    });
  } else {
    steps.push({ action: 'resolve', key: key('count') });
  }
  return steps;
}
