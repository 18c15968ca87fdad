import { describeReading as describeLabelledReading, labelText } from '../../lib/labels';
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
  'newPageSuccessPercent',
] as const;
export type SignalName = (typeof signalNames)[number];

/**
 * The values a signal can take. A reading outside its range (a query answering 150 % adoption, a
 * page "500 % faster") is not a measurement: it is no data, with why; a what-if outside it is a 400.
 */
export const signalRanges: Record<SignalName, { min: number; max?: number }> = {
  errorRatePercent: { min: 0, max: 100 },
  avgResponseMs: { min: 0 },
  cacheFailurePercent: { min: 0, max: 100 },
  complaintsPerHour: { min: 0 },
  slowerThanBaselinePercent: { min: -100 },
  adoptionPercent: { min: 0, max: 100 },
  newPageSuccessPercent: { min: 0, max: 100 },
};

export interface SignalReading {
  name: SignalName;
  /** null: not measured; `reason` says why. Raw, never rounded: the matrix compares this value. */
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

/** A value for people: two decimals, or as many as it takes not to read as its threshold. */
export function displayValue(value: number, threshold?: number): string {
  const rounded = Math.round(value * 100) / 100;
  if (threshold === undefined || rounded !== threshold || value === threshold) return String(rounded);
  for (let digits = 3; digits <= 12; digits += 1) {
    const finer = Number(value.toFixed(digits));
    if (finer !== threshold) return String(finer);
  }
  return String(value);
}

const rangeText = ({ min, max }: { min: number; max?: number }) => (max === undefined ? `at least ${min}` : `${min}-${max}`);

/** Where one reading stands against the thresholds: strictly above (or below) a level's limit breaches it. */
export function classify(reading: SignalReading, rollback: Thresholds['rollback']): Classification {
  if (reading.value === null) return { state: 'no_data', reason: reading.reason ?? 'not measured' };
  const value = reading.value;
  if (!Number.isFinite(value)) return { state: 'no_data', reason: `not a finite number (${value})` };
  const range = signalRanges[reading.name];
  if (value < range.min || (range.max !== undefined && value > range.max))
    return { state: 'no_data', reason: `${value} is outside the possible range (${rangeText(range)})` };
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
      return above([
        ['staged', rollback.staged.slowerThanBaselinePercent],
        ['monitor', rollback.monitor.slowerThanBaselinePercent],
      ]);
    case 'adoptionPercent':
      return value < rollback.monitor.adoptionBelowPercent
        ? { state: 'breach', level: 'monitor', threshold: { operator: '<', value: rollback.monitor.adoptionBelowPercent } }
        : { state: 'pass' };
    case 'newPageSuccessPercent':
      return value < rollback.immediate.newPageSuccessBelowPercent
        ? {
            state: 'breach',
            level: 'immediate',
            threshold: { operator: '<', value: rollback.immediate.newPageSuccessBelowPercent },
          }
        : { state: 'pass' };
  }
}

export interface Tier {
  tier: 1 | 2 | 3;
  name: string;
  within: string;
  approval: string;
  why: string;
}

export type ClassifiedReading = SignalReading & { classification: Classification };

export interface MatrixResult {
  action: Action;
  severity: 'critical' | 'major' | 'minor' | 'info';
  /** Present exactly when the action is a rollback; chosen from the same readings as the action. */
  tier: Tier | null;
  reasons: string[];
  classified: ClassifiedReading[];
}

const severityOf: Record<Action, MatrixResult['severity']> = {
  immediate_rollback: 'critical',
  staged_rollback: 'major',
  monitor_and_optimize: 'minor',
  insufficient_data: 'minor',
  continue_deployment: 'info',
};

export const isRollback = (action: Action) => action === 'immediate_rollback' || action === 'staged_rollback';

const levelWords: Record<Level, string> = {
  immediate: 'immediate rollback level',
  staged: 'staged rollback level',
  monitor: 'monitoring level',
};

/** A reading as a reason, in lib/labels.json's words: "Error rate 5.004 % (over 5 %): immediate rollback level". */
export function describeReading(entry: ClassifiedReading): string {
  const { classification } = entry;
  if (classification.state === 'no_data') return `${labelText(entry.name)}: no data (${classification.reason})`;
  if (classification.state === 'pass') return `${labelText(entry.name)}: within the matrix`;
  const value = displayValue(entry.value as number, classification.threshold.value);
  const reading = describeLabelledReading(entry.name, value, entry.value as number, entry.unit, {
    operator: classification.threshold.operator,
    value: String(classification.threshold.value),
  });
  return `${reading}: ${levelWords[classification.level]}`;
}

/**
 * One verdict from one set of readings. Measured breaches act first (a 6 % error rate is a
 * rollback whatever else is missing); then half or more signals without data is insufficient_data;
 * then a minor breach or any missing signal is monitor_and_optimize (never continue on missing
 * data); else continue. The tier follows the action and the same readings.
 */
export function decide(readings: SignalReading[], rollback: Thresholds['rollback']): MatrixResult {
  const classified = readings.map((reading) => ({ ...reading, classification: classify(reading, rollback) }));
  const at = (level: Level) =>
    classified.filter((entry) => entry.classification.state === 'breach' && entry.classification.level === level);
  const missing = classified.filter((entry) => entry.classification.state === 'no_data');
  let action: Action;
  let reasons: string[];
  if (at('immediate').length > 0) {
    action = 'immediate_rollback';
    reasons = at('immediate').map(describeReading);
  } else if (at('staged').length > 0) {
    action = 'staged_rollback';
    reasons = at('staged').map(describeReading);
  } else if (missing.length * 2 >= classified.length) {
    action = 'insufficient_data';
    reasons = [
      `${missing.length} of ${classified.length} signals have no data: a human decides`,
      ...missing.map(describeReading),
    ];
  } else if (at('monitor').length > 0 || missing.length > 0) {
    action = 'monitor_and_optimize';
    reasons = [
      ...at('monitor').map(describeReading),
      ...missing.map((entry) => `${describeReading(entry)}: missing data never reads as healthy`),
    ];
  } else {
    action = 'continue_deployment';
    reasons = ['every signal measured and within the matrix'];
  }
  if (isRollback(action) && missing.length > 0) {
    reasons.push(...missing.map((entry) => `${describeReading(entry)} (decided on the measured signals)`));
  }
  return { action, severity: severityOf[action], tier: rollbackTier(action, classified, rollback), reasons, classified };
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
 * Source 002's three tiers, for a rollback only: Tier 3 when the system is inaccessible (the new
 * page down in the probe, or every request failing), Tier 2 when core functionality is broken for
 * more than half the requests, Tier 1 for any other rollback the matrix asks for. No rollback, no tier.
 */
export function rollbackTier(action: Action, classified: ClassifiedReading[], rollback: Thresholds['rollback']): Tier | null {
  if (!isRollback(action)) return null;
  const measured = (name: SignalName) => {
    const entry = classified.find((reading) => reading.name === name);
    return entry && entry.classification.state !== 'no_data' ? (entry.value as number) : null;
  };
  const success = measured('newPageSuccessPercent');
  const errorRate = measured('errorRatePercent');
  if (success !== null && success < rollback.immediate.newPageSuccessBelowPercent) {
    return {
      ...tiers[3],
      why: `the system is inaccessible: ${displayValue(success)} % of the new page's probe loads succeeded (< ${rollback.immediate.newPageSuccessBelowPercent} %)`,
    };
  }
  if (errorRate !== null && errorRate >= rollback.tiers.inaccessibleErrorRatePercent) {
    return { ...tiers[3], why: `the system is inaccessible: ${displayValue(errorRate)} % of requests fail` };
  }
  if (errorRate !== null && errorRate > rollback.tiers.coreBrokenPercent) {
    return {
      ...tiers[2],
      why: `core functionality broken: ${displayValue(errorRate, rollback.tiers.coreBrokenPercent)} % of requests fail (> ${rollback.tiers.coreBrokenPercent} %)`,
    };
  }
  return { ...tiers[1], why: 'the matrix asks for a rollback; nothing points past the application' };
}
