import type { Thresholds } from '../../lib/thresholds';

/*
 * The rollback decision matrix of source 000, with the rules Vigil adds: missing data never
 * reads as healthy, and half the signals missing is a decision for a human.
 */

export const actions = ['continue_deployment', 'monitor_and_optimize', 'staged_rollback', 'immediate_rollback'] as const;
export type MatrixAction = (typeof actions)[number];
export type Action = MatrixAction | 'insufficient_data';
export type Level = 'immediate' | 'staged' | 'monitor';

export const signalNames = [
  'errorRatePercent',
  'avgResponseMs',
  'cacheFailurePercent',
  'complaintsPerHour',
  'slowerThanBaselinePercent',
  'adoptionPercent',
] as const;
export type SignalName = (typeof signalNames)[number];

export interface SignalReading {
  name: SignalName;
  /** null: not measured; `reason` says why. */
  value: number | null;
  unit: string;
  source: string;
  window?: string;
  sampleCount?: number;
  measuredAt?: string;
  reason?: string;
  details?: Record<string, unknown>;
}

export type Classification =
  | { state: 'pass' }
  | { state: 'breach'; level: Level; threshold: { operator: '>' | '<'; value: number } }
  | { state: 'no_data'; reason: string };

/** Where one reading stands against the thresholds: strictly above a level's limit breaches it. */
export function classify(reading: SignalReading, rollback: Thresholds['rollback']): Classification {
  if (reading.value === null) return { state: 'no_data', reason: reading.reason ?? 'not measured' };
  const value = reading.value;
  const above = (levels: Array<[Level, number]>): Classification => {
    for (const [level, limit] of levels)
      if (value > limit) return { state: 'breach', level, threshold: { operator: '>', value: limit } };
    return { state: 'pass' };
  };
  switch (reading.name) {
    case 'errorRatePercent':
      return above([
        ['immediate', rollback.immediate.errorRatePercent],
        ['staged', rollback.staged.errorRatePercent],
        ['monitor', rollback.monitor.errorRatePercent],
      ]);
    case 'avgResponseMs':
      return above([
        ['immediate', rollback.immediate.avgResponseMs],
        ['staged', rollback.staged.avgResponseMs],
        ['monitor', rollback.monitor.avgResponseMs],
      ]);
    case 'cacheFailurePercent':
      return above([
        ['immediate', rollback.immediate.cacheFailurePercent],
        ['staged', rollback.staged.cacheFailurePercent],
        ['monitor', rollback.monitor.cacheFailurePercent],
      ]);
    case 'complaintsPerHour':
      return above([['immediate', rollback.immediate.complaintsPerHour]]);
    case 'slowerThanBaselinePercent':
      return above([['staged', rollback.staged.slowerThanBaselinePercent]]);
    case 'adoptionPercent':
      return value < rollback.monitor.adoptionBelowPercent
        ? { state: 'breach', level: 'monitor', threshold: { operator: '<', value: rollback.monitor.adoptionBelowPercent } }
        : { state: 'pass' };
  }
}

export interface MatrixResult {
  action: Action;
  severity: 'critical' | 'major' | 'minor' | 'info';
  reasons: string[];
  classified: Array<SignalReading & { classification: Classification }>;
}

const severityOf: Record<Action, MatrixResult['severity']> = {
  immediate_rollback: 'critical',
  staged_rollback: 'major',
  monitor_and_optimize: 'minor',
  insufficient_data: 'minor',
  continue_deployment: 'info',
};

/**
 * Measured breaches act first (a 6 % error rate is a rollback whatever else is missing); then half
 * or more signals without data is insufficient_data; then a minor breach or any missing signal is
 * monitor_and_optimize (never continue on missing data); else continue.
 */
export function decide(readings: SignalReading[], rollback: Thresholds['rollback']): MatrixResult {
  const classified = readings.map((reading) => ({ ...reading, classification: classify(reading, rollback) }));
  const at = (level: Level) =>
    classified.filter((entry) => entry.classification.state === 'breach' && entry.classification.level === level);
  const missing = classified.filter((entry) => entry.classification.state === 'no_data');
  const describe = (entry: (typeof classified)[number]) =>
    entry.classification.state === 'breach'
      ? `${entry.name} ${entry.value}${entry.unit === '%' ? '%' : ` ${entry.unit}`} ${entry.classification.threshold.operator} ${entry.classification.threshold.value} (${entry.classification.level})`
      : entry.classification.state === 'no_data'
        ? `${entry.name}: no data (${entry.classification.reason})`
        : `${entry.name}: pass`;
  let action: Action;
  let reasons: string[];
  if (at('immediate').length > 0) {
    action = 'immediate_rollback';
    reasons = at('immediate').map(describe);
  } else if (at('staged').length > 0) {
    action = 'staged_rollback';
    reasons = at('staged').map(describe);
  } else if (missing.length * 2 >= classified.length) {
    action = 'insufficient_data';
    reasons = [`${missing.length} of ${classified.length} signals have no data: a human decides`, ...missing.map(describe)];
  } else if (at('monitor').length > 0 || missing.length > 0) {
    action = 'monitor_and_optimize';
    reasons = [
      ...at('monitor').map(describe),
      ...missing.map((entry) => `${describe(entry)}: missing data never reads as healthy`),
    ];
  } else {
    action = 'continue_deployment';
    reasons = ['every signal measured and within the matrix'];
  }
  if (action !== 'insufficient_data' && missing.length > 0 && (action === 'immediate_rollback' || action === 'staged_rollback')) {
    reasons.push(...missing.map((entry) => `${describe(entry)} (decided on the measured signals)`));
  }
  return { action, severity: severityOf[action], reasons, classified };
}

export const recommendations: Record<Action, string[]> = {
  immediate_rollback: [
    'Roll back now, at the tier below; do not wait for the next evaluation.',
    'Notify the stakeholders and the approvers of that tier.',
    'Keep the evidence: this decision with its inputs is stored in vigil.rollback_decisions.',
  ],
  staged_rollback: [
    'Reduce the feature flag to 50 % of users.',
    'Monitor for 30 minutes.',
    'Consider a full rollback if it persists.',
  ],
  monitor_and_optimize: [
    'Keep the rollout where it is; do not widen it yet.',
    'Investigate the signals named above (missing data first: fix what cannot be measured).',
  ],
  insufficient_data: [
    'Half or more of the signals could not be measured: a human decides.',
    'Restore the missing sources (see each signal) before trusting an automatic answer.',
  ],
  continue_deployment: ['Continue the rollout.'],
};

export interface Tier {
  tier: 1 | 2 | 3;
  name: string;
  within: string;
  approval: string;
  why: string;
}

const tiers: Record<1 | 2 | 3, Omit<Tier, 'why'>> = {
  1: {
    tier: 1,
    name: 'Application rollback',
    within: '15 minutes',
    approval: 'Application Administrator, with Deployment Lead approval',
  },
  2: {
    tier: 2,
    name: 'Database + application rollback',
    within: '60 minutes',
    approval: 'Deployment Lead, with stakeholder notification',
  },
  3: { tier: 3, name: 'Full system restore', within: '4 hours', approval: 'Deployment Lead + Senior Management' },
};

/**
 * Source 002's three tiers: Tier 3 when the system is inaccessible, Tier 2 when core functionality
 * is broken for more than half the requests, Tier 1 when performance degraded more than 40 % (and
 * for any other rollback the matrix asks for).
 */
export function rollbackTier(
  action: Action,
  readings: SignalReading[],
  rollback: Thresholds['rollback'],
  inaccessible: string | undefined,
): Tier | null {
  const value = (name: SignalName) => readings.find((reading) => reading.name === name)?.value ?? null;
  const errorRate = value('errorRatePercent');
  const slower = value('slowerThanBaselinePercent');
  if (inaccessible) return { ...tiers[3], why: inaccessible };
  if (errorRate !== null && errorRate > rollback.tiers.coreBrokenPercent) {
    return {
      ...tiers[2],
      why: `core functionality broken: ${errorRate} % of requests fail (> ${rollback.tiers.coreBrokenPercent} %)`,
    };
  }
  if (slower !== null && slower > rollback.tiers.applicationDegradedPercent) {
    return {
      ...tiers[1],
      why: `performance degraded ${slower} % against the baseline (> ${rollback.tiers.applicationDegradedPercent} %)`,
    };
  }
  if (action === 'immediate_rollback' || action === 'staged_rollback')
    return { ...tiers[1], why: 'the matrix asks for a rollback; nothing points past the application' };
  return null;
}
