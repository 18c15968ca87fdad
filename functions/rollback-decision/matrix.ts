import { type Evidence, samplesToDecide } from '../../lib/evidence';
import { describeReading as describeLabelledReading, labelOf, labelText } from '../../lib/labels';
import type { Thresholds } from '../../lib/thresholds';

/*
 * The rollback decision matrix of the overhaul guide, with the rules Vigil adds: missing data never
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
  /**
   * What the measurement can show: its one-sided bounds. Every measured reading carries it; a
   * reading without it (a what-if, a count stated by the caller) is taken as the truth.
   */
  evidence?: Evidence;
  /** When the data behind the reading begins and ends: a confirmation counts only data newer than the last. */
  dataWindow?: { start: string; end: string };
}

type Threshold = { operator: '>' | '<'; value: number };

export type Classification =
  | { state: 'pass' }
  | {
      state: 'breach';
      level: Level;
      threshold: Threshold;
      /** A more severe level the data can neither show nor rule out. */
      notShown?: { level: Level; threshold: Threshold; samplesNeeded: number | null };
    }
  | { state: 'not_shown'; level: Level; threshold: Threshold; samplesNeeded: number | null }
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

/** Each signal's levels, the most severe first, with the side a breach lies on. */
export function levelsOf(name: SignalName, rollback: Thresholds['rollback']): Array<[Level, Threshold]> {
  const over = (pairs: Array<[Level, number]>): Array<[Level, Threshold]> =>
    pairs.map(([level, value]) => [level, { operator: '>', value }]);
  switch (name) {
    case 'errorRatePercent':
      return over([
        ['immediate', rollback.immediate.errorRatePercent],
        ['staged', rollback.staged.errorRatePercent],
        ['monitor', rollback.monitor.errorRatePercent],
      ]);
    case 'avgResponseMs':
      return over([
        ['immediate', rollback.immediate.avgResponseMs],
        ['staged', rollback.staged.avgResponseMs],
        ['monitor', rollback.monitor.avgResponseMs],
      ]);
    case 'cacheFailurePercent':
      return over([
        ['immediate', rollback.immediate.cacheFailurePercent],
        ['staged', rollback.staged.cacheFailurePercent],
        ['monitor', rollback.monitor.cacheFailurePercent],
      ]);
    case 'complaintsPerHour':
      return over([['immediate', rollback.immediate.complaintsPerHour]]);
    case 'slowerThanBaselinePercent':
      return over([
        ['staged', rollback.staged.slowerThanBaselinePercent],
        ['monitor', rollback.monitor.slowerThanBaselinePercent],
      ]);
    case 'adoptionPercent':
      return [['monitor', { operator: '<', value: rollback.monitor.adoptionBelowPercent }]];
    case 'newPageSuccessPercent':
      return [['immediate', { operator: '<', value: rollback.immediate.newPageSuccessBelowPercent }]];
  }
}

/** The reading's one-sided bounds: its evidence's, or the value itself when it is taken as the truth. */
export function boundsOf(reading: SignalReading & { value: number }): { low: number; high: number } {
  if (!reading.evidence) return { low: reading.value, high: reading.value };
  return { low: reading.evidence.low ?? Number.NEGATIVE_INFINITY, high: reading.evidence.high ?? Number.POSITIVE_INFINITY };
}

/**
 * Where one reading stands against the thresholds. A level is breached only when the evidence's
 * bound is strictly past its limit (the lower bound above a ">" limit, the upper below a "<"
 * one); the reading passes only when the other bound is inside every limit; otherwise the most
 * severe level the data cannot rule out is "not shown yet", with the samples it would take.
 * Without evidence (a what-if) both bounds are the value: the source matrix, exactly.
 */
export function classify(reading: SignalReading, rollback: Thresholds['rollback']): Classification {
  if (reading.value === null) return { state: 'no_data', reason: reading.reason ?? 'not measured' };
  const value = reading.value;
  if (!Number.isFinite(value)) return { state: 'no_data', reason: `not a finite number (${value})` };
  const range = signalRanges[reading.name];
  if (value < range.min || (range.max !== undefined && value > range.max))
    return { state: 'no_data', reason: `${value} is outside the possible range (${rangeText(range)})` };
  const { low, high } = boundsOf({ ...reading, value });
  const shown = ({ operator, value: limit }: Threshold) => (operator === '>' ? low > limit : high < limit);
  const ruledOut = ({ operator, value: limit }: Threshold) => (operator === '>' ? high <= limit : low >= limit);
  const needed = (threshold: Threshold) => (reading.evidence ? samplesToDecide(reading.evidence, value, threshold.value) : null);
  const levels = levelsOf(reading.name, rollback);
  const breachedAt = levels.findIndex(([, threshold]) => shown(threshold));
  const open = levels.find(([, threshold], index) => (breachedAt < 0 || index < breachedAt) && !ruledOut(threshold));
  const notShown = open ? { level: open[0], threshold: open[1], samplesNeeded: needed(open[1]) } : undefined;
  if (breachedAt >= 0) {
    const [level, threshold] = levels[breachedAt] as [Level, Threshold];
    return { state: 'breach', level, threshold, ...(notShown ? { notShown } : {}) };
  }
  return notShown ? { state: 'not_shown', ...notShown } : { state: 'pass' };
}

export interface Tier {
  tier: 1 | 2 | 3;
  name: string;
  within: string;
  approval: string;
  why: string;
}

/** A tier in the words of the answer and of its alert. */
export const tierWords = (tier: Tier) =>
  `Tier ${tier.tier}, ${tier.name}: within ${tier.within}; approval: ${tier.approval}. Why: ${tier.why}.`;

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

const operatorWords = { '>': 'over', '<': 'under' } as const;

const unitText = (entry: SignalReading) => {
  const unit = labelOf(entry.name)?.unit ?? entry.unit;
  return (value: number) => (unit === '' ? displayValue(value) : `${displayValue(value)} ${unit}`);
};

/**
 * What the evidence says, in words: the bound that decided ("at least 6.1 % at 95 % confidence,
 * from 2000 requests"), or both when nothing decided ("between 1.81 % and 28.26 % ...").
 */
function boundsText(entry: SignalReading, side: 'low' | 'high' | 'both'): string {
  const evidence = entry.evidence as Evidence;
  const shown = unitText(entry);
  const counted = `from ${evidence.n} ${evidence.counted ?? 'samples'}`;
  const confidence = `at ${evidence.confidencePercent} % confidence`;
  if (evidence.kind === 'census') return `every case counted, ${evidence.n} ${evidence.counted ?? ''}`.trim();
  if (side === 'low' && evidence.low !== null) return `at least ${shown(evidence.low)} ${confidence}, ${counted}`;
  if (side === 'high' && evidence.high !== null) return `at most ${shown(evidence.high)} ${confidence}, ${counted}`;
  if (evidence.low === null && evidence.high === null) return `too few to bound it, ${counted}`;
  const low = evidence.low === null ? 'unbounded below' : shown(evidence.low);
  const high = evidence.high === null ? 'unbounded above' : shown(evidence.high);
  return `between ${low} and ${high} ${confidence}, ${counted}`;
}

const decidingSide = (threshold: Threshold) => (threshold.operator === '>' ? 'low' : 'high');

function samplesText(entry: SignalReading, samplesNeeded: number | null): string {
  const noun = entry.evidence?.counted ?? 'samples';
  if (samplesNeeded === null)
    return entry.evidence?.spread === undefined && entry.evidence?.kind === 'mean'
      ? 'more samples would not decide it: the source gives no spread to bound it'
      : 'the reading sits on the limit: more samples at this reading would not decide it';
  const count = `${samplesNeeded.toLocaleString('en-US')} ${noun}`;
  return entry.evidence?.low === null && entry.evidence.high === null
    ? `it takes at least ${count} for a bound`
    : `about ${count} at this reading would decide it`;
}

/**
 * A reading as a reason, in lib/labels.json's words: "Error rate 5.004 % (over 5 %): immediate
 * rollback level", with what its evidence shows when it has some, and "not shown yet" with the
 * samples it would take when the data cannot decide.
 */
export function describeReading(entry: ClassifiedReading): string {
  const { classification } = entry;
  if (classification.state === 'no_data') return `${labelText(entry.name)}: no data (${classification.reason})`;
  if (classification.state === 'pass')
    return entry.evidence
      ? `${labelText(entry.name)}: within the matrix (${boundsText(entry, 'both')})`
      : `${labelText(entry.name)}: within the matrix`;
  const value = displayValue(entry.value as number, classification.threshold.value);
  const reading = describeLabelledReading(entry.name, value, entry.value as number, entry.unit, {
    operator: classification.threshold.operator,
    value: String(classification.threshold.value),
  });
  if (classification.state === 'not_shown') {
    const plain = describeLabelledReading(entry.name, value, entry.value as number, entry.unit);
    const { operator, value: limit } = classification.threshold;
    return `${plain}: ${levelWords[classification.level]} (${operatorWords[operator]} ${unitText(entry)(limit)}) not shown yet and not ruled out (${boundsText(entry, 'both')}); ${samplesText(entry, classification.samplesNeeded)}`;
  }
  const shown = entry.evidence ? `, shown: ${boundsText(entry, decidingSide(classification.threshold))}` : '';
  const higher = classification.notShown
    ? `; ${levelWords[classification.notShown.level]} (${operatorWords[classification.notShown.threshold.operator]} ${unitText(entry)(classification.notShown.threshold.value)}) not shown yet, ${samplesText(entry, classification.notShown.samplesNeeded)}`
    : '';
  return `${reading}${shown}: ${levelWords[classification.level]}${higher}`;
}

/**
 * One verdict from one set of readings. Breaches the evidence shows act first (a 6 % error rate
 * over 2,000 requests is a rollback whatever else is missing); then half or more signals without
 * data is insufficient_data; then a minor breach, a level not shown yet or any missing signal is
 * monitor_and_optimize (never continue on missing or undecided data); else continue. The tier
 * follows the action and the same readings.
 */
export function decide(readings: SignalReading[], rollback: Thresholds['rollback']): MatrixResult {
  const classified = readings.map((reading) => ({ ...reading, classification: classify(reading, rollback) }));
  const at = (level: Level) =>
    classified.filter((entry) => entry.classification.state === 'breach' && entry.classification.level === level);
  const missing = classified.filter((entry) => entry.classification.state === 'no_data');
  const undecided = classified.filter((entry) => entry.classification.state === 'not_shown');
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
  } else if (at('monitor').length > 0 || missing.length > 0 || undecided.length > 0) {
    action = 'monitor_and_optimize';
    reasons = [
      ...at('monitor').map(describeReading),
      ...undecided.map((entry) => `${describeReading(entry)}: keep monitoring until the data decides`),
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
 * The maintenance-window guide's three tiers, for a rollback only: Tier 3 when the system is inaccessible (the new
 * page shown down in the probe, or every request failing and more than half shown to), Tier 2 when core
 * functionality is shown broken for more than half the requests (the error rate's lower bound over
 * 50 %), Tier 1 for any other rollback the matrix asks for. No rollback, no tier.
 */
export function rollbackTier(action: Action, classified: ClassifiedReading[], rollback: Thresholds['rollback']): Tier | null {
  if (!isRollback(action)) return null;
  const shownBreach = (name: SignalName) => {
    const entry = classified.find((reading) => reading.name === name);
    return entry && entry.classification.state === 'breach' ? (entry as ClassifiedReading & { value: number }) : undefined;
  };
  const success = shownBreach('newPageSuccessPercent');
  const errorRate = shownBreach('errorRatePercent');
  if (success) {
    return {
      ...tiers[3],
      why: `the system is inaccessible: ${displayValue(success.value)} % of the new page's probe loads succeeded (< ${rollback.immediate.newPageSuccessBelowPercent} %)`,
    };
  }
  // Every request failing is inaccessibility only when it is also shown past Tier 2's level: one
  // failed request of one is no reason for a full restore.
  if (
    errorRate &&
    errorRate.value >= rollback.tiers.inaccessibleErrorRatePercent &&
    boundsOf(errorRate).low > rollback.tiers.coreBrokenPercent
  ) {
    return { ...tiers[3], why: `the system is inaccessible: ${displayValue(errorRate.value)} % of requests fail` };
  }
  if (errorRate && boundsOf(errorRate).low > rollback.tiers.coreBrokenPercent) {
    return {
      ...tiers[2],
      why: `core functionality broken: ${displayValue(errorRate.value, rollback.tiers.coreBrokenPercent)} % of requests fail (> ${rollback.tiers.coreBrokenPercent} %)`,
    };
  }
  return { ...tiers[1], why: 'the matrix asks for a rollback; nothing points past the application' };
}
