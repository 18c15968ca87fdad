import type { Severity } from './types';

/*
 * Every alert key, built here and nowhere else. A key says what is wrong on what; it is how
 * deduplication, resolution and inhibition find an alert, so a room that refers to another room's
 * alert (the rollback decision holding back the probe's budget alerts) asks this module for the
 * key instead of spelling it. test/unit/architecture.test.ts holds the rooms to that, by the
 * prefixes below.
 */

/** Each key prefix and the function folder whose alerts carry it. */
export const alertKeyPrefixes = {
  'probe:': 'probe',
  'cache:': 'cache-efficiency',
  'rollback:': 'rollback-decision',
  'partitions:': 'partition-maintenance',
  'backup:': 'backup',
  'report:': 'report',
  'alarm:': 'alerts',
  'alerts:': 'alerts',
} as const;

export type ProbeAlertKind = 'budget' | 'down';

export const probeKeys = {
  /** The page or endpoint over its load-time budget in M of N runs. */
  budget: (name: string) => `probe:${name}:budget`,
  down: (name: string) => `probe:${name}:down`,
  of: (name: string, kind: ProbeAlertKind) => `probe:${name}:${kind}`,
  /** The cause of endpoints down for one reason in one run: one message for them. */
  downCause: (failureKind: string) => `probe:down:${failureKind}`,
};

export const cacheKeys = {
  hitRatio: (table: string) => `cache:${table}:hit-ratio`,
  noData: (table: string) => `cache:${table}:no-data`,
  olapStale: 'cache:olap:stale',
  olapHealth: 'cache:olap:health',
};

export const rollbackKeys = {
  /** The scheduled evaluation advising a rollback. */
  decision: 'rollback:decision',
};

export type PartitionAlertKind = 'failed' | 'ahead' | 'default-rows' | 'count';

export const partitionKeys = {
  of: (table: string, kind: PartitionAlertKind) => `partitions:${table}:${kind}`,
  /** The cause of one table's partition alerts: one message per severity for them. */
  cause: (table: string) => `partitions:${table}`,
};

export type BackupAlertKind = 'failed' | 'retention' | 'restore-check';

export const backupKeys = {
  of: (database: string, kind: BackupAlertKind) => `backup:${database}:${kind}`,
};

export const reportKeys = {
  /** The digest of a period (`day`, `week`): sent once a period, never kept as state. */
  digest: (periodKind: string) => `report:${periodKind}`,
};

export const alarmKeys = {
  /** A CloudWatch alarm in ALARM. */
  state: (alarmName: string) => `alarm:${alarmName}`,
  /** A CloudWatch alarm in INSUFFICIENT_DATA. */
  noData: (alarmName: string) => `alarm:${alarmName}:no-data`,
};

/** A test alert ops asked for: always sent, never kept as state. */
export const testAlertKey = (severity: Severity) => `alerts:test:${severity}`;
