import type { Alert } from '../../lib/alerts';
import type { Thresholds } from '../../lib/thresholds';
import type { TableReport } from './maintain';

export type PartitionAlertStep = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string };

/** Fewer than one future partition, rows in the default partition, too many partitions, a failed step or table. */
export function partitionAlertSteps(report: TableReport, partitions: Thresholds['partitions'], now: Date): PartitionAlertStep[] {
  if (report.skippedRun) return [];
  const base = { source: 'partitionMaintenance', observedAt: now };
  const key = (what: string) => `partitions:${report.table}:${what}`;
  const steps: PartitionAlertStep[] = [];
  const failed = report.error !== undefined || report.failedSteps.length > 0;
  if (failed) {
    steps.push({
      action: 'raise',
      alert: {
        ...base,
        key: key('failed'),
        severity: 'major',
        title: `Partition maintenance of ${report.table} failed`,
        summary: report.error ?? `${report.failedSteps.length} step(s) failed; nothing was deleted by them.`,
        measurements: [{ name: 'failed steps', value: report.failedSteps.length, unit: '' }],
        runbook: 'partitions-failed',
        action: 'Read the reasons below; a lock timeout means a long query held the table: the next run retries.',
        details: report.failedSteps
          .map((step) => `${step.step} ${step.partition} (${step.attempts} attempt(s)): ${step.error}`)
          .join('\n'),
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
        action: 'Run partitionMaintenance by hand (npm run invoke -- partitionMaintenance) and read its failed steps.',
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
