import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Database } from '../../lib/db';
import type { Thresholds } from '../../lib/thresholds';
import type { RollbackConfig } from './config';
import {
  type Action,
  type Classification,
  type ClassifiedReading,
  decide,
  isRollback,
  type MatrixResult,
  recommendations,
  rollbackTier,
  type SignalName,
  type SignalReading,
  type Tier,
  tierWords,
} from './matrix';
import { readSignals } from './signals';
import { lockStreakState, recordDecision, saveStreakState } from './store';
import { type DataWindow, nextStreak, type StreakState } from './streak';

/*
 * One rollback evaluation, in named stages over pure cores: the readings with what-if values put
 * in (withOverrides), the matrix's verdict (matrix.ts), the scheduled answer (scheduledStage over
 * streak.ts), the answer (answerOf); evaluateRollback reads, stores (store.ts) and strings them
 * together. What the answer alerts is alerting.ts.
 */

export type Trigger = 'schedule' | 'http' | 'cli';

export interface DecisionAnswer {
  decidedAt: string;
  /** True when the caller overrode signals: an answer to "what if", never stored as a decision. */
  whatIf: boolean;
  trigger: Trigger;
  requestedBy: string;
  action: Action;
  severity: string;
  tier: Tier | null;
  reasons: string[];
  recommendations: string[];
  signals: Array<SignalReading & { classification: Classification; overridden?: boolean }>;
  /** The answer of the scheduled evaluations, which need streaks to move (see `streaks`). */
  scheduled: { effective: Action; stagedStreak: number; calmStreak: number; note: string; tier: Tier | null };
  thresholds: Thresholds['rollback'];
  decisionId?: number;
}

/** The data behind the signals that put this evaluation at staged or worse: what a confirmation must not count twice. */
export function rollbackDataOf(classified: ClassifiedReading[]): DataWindow[] {
  return classified.flatMap((entry) =>
    entry.classification.state === 'breach' &&
    (entry.classification.level === 'staged' || entry.classification.level === 'immediate') &&
    entry.dataWindow
      ? [entry.dataWindow]
      : [],
  );
}

type Readings = Array<SignalReading & { overridden?: boolean }>;

/** A what-if value is taken as the truth: no evidence, no data window, the source matrix exactly. */
export function withOverrides(readings: SignalReading[], overrides: Partial<Record<SignalName, number>>): Readings {
  return readings.map((reading) => {
    if (!(reading.name in overrides)) return reading;
    const { evidence: _evidence, dataWindow: _dataWindow, ...measured } = reading;
    return {
      ...measured,
      value: overrides[reading.name] as number,
      source: `what-if override (measured: ${reading.value ?? 'no data'})`,
      reason: undefined,
      overridden: true,
    };
  });
}

type ScheduledAnswer = Omit<DecisionAnswer['scheduled'], 'tier'>;

/**
 * The scheduled answer this evaluation gives: a real scheduled evaluation moves the streaks (`next`
 * is what to store); any other call reads them as stored and moves nothing.
 */
export function scheduledStage(
  stored: StreakState | undefined,
  matrix: MatrixResult,
  moves: boolean,
  config: Pick<RollbackConfig, 'confirmEvaluations' | 'clearEvaluations'>,
): { scheduled: ScheduledAnswer; next?: StreakState } {
  if (moves) {
    const { note, ...next } = nextStreak(
      stored,
      matrix.action,
      { confirmEvaluations: config.confirmEvaluations, clearEvaluations: config.clearEvaluations },
      rollbackDataOf(matrix.classified),
    );
    return { scheduled: { effective: next.effective, stagedStreak: next.stagedStreak, calmStreak: next.calmStreak, note }, next };
  }
  if (!stored)
    return { scheduled: { effective: 'insufficient_data', stagedStreak: 0, calmStreak: 0, note: 'no scheduled evaluation yet' } };
  return {
    scheduled: {
      effective: stored.effective,
      stagedStreak: stored.stagedStreak,
      calmStreak: stored.calmStreak,
      note: 'the answer of the scheduled evaluations (this call does not move it)',
    },
  };
}

/** The answer of one evaluation, from its verdict and the scheduled answer. */
export function answerOf(input: {
  decidedAt: Date;
  whatIf: boolean;
  trigger: Trigger;
  requestedBy: string;
  matrix: MatrixResult;
  scheduled: ScheduledAnswer;
  thresholds: Thresholds['rollback'];
}): DecisionAnswer {
  const { matrix, scheduled, thresholds } = input;
  const { tier } = matrix;
  // The scheduled answer's tier, from the same readings: a held rollback keeps a tier, a calm one has none.
  const scheduledTier =
    scheduled.effective === matrix.action ? tier : rollbackTier(scheduled.effective, matrix.classified, thresholds);
  return {
    decidedAt: input.decidedAt.toISOString(),
    whatIf: input.whatIf,
    trigger: input.trigger,
    requestedBy: input.requestedBy,
    action: matrix.action,
    severity: matrix.severity,
    tier,
    reasons: matrix.reasons,
    recommendations:
      tier && isRollback(matrix.action) ? [...recommendations[matrix.action], tierWords(tier)] : recommendations[matrix.action],
    signals: matrix.classified,
    scheduled: { ...scheduled, tier: scheduledTier },
    thresholds,
  };
}

/**
 * One evaluation: the live signals read, what-if values put in their place, one verdict from the
 * matrix, then in one transaction the scheduled streaks (moved only by a real scheduled evaluation)
 * and the decision stored (never a what-if).
 */
export async function evaluateRollback(input: {
  db: Database;
  cloudWatch?: CloudWatchClient;
  config: RollbackConfig;
  thresholds: Thresholds;
  trigger: Trigger;
  requestedBy: string;
  overrides?: Partial<Record<SignalName, number>>;
  complaintsPerHour?: number;
}): Promise<DecisionAnswer> {
  const decidedAt = new Date();
  const readings = await readSignals({
    db: input.db,
    cloudWatch: input.cloudWatch,
    config: input.config,
    now: decidedAt,
    complaintsPerHour: input.complaintsPerHour,
    confidencePercent: input.thresholds.rollback.evidence.confidencePercent,
  });
  const overrides = input.overrides ?? {};
  const whatIf = Object.keys(overrides).length > 0;
  // One verdict from one set of readings: the what-if's, when overridden, for action and tier alike.
  const matrix = decide(withOverrides(readings, overrides), input.thresholds.rollback);
  const { trigger, requestedBy } = input;
  return input.db.withTransaction(async (client) => {
    const stored = await lockStreakState(client);
    const { scheduled, next } = scheduledStage(stored, matrix, trigger === 'schedule' && !whatIf, input.config);
    if (next) await saveStreakState(client, next);
    const answer = answerOf({
      decidedAt,
      whatIf,
      trigger,
      requestedBy,
      matrix,
      scheduled,
      thresholds: input.thresholds.rollback,
    });
    if (whatIf) return answer;
    return { ...answer, decisionId: await recordDecision(client, { decidedAt, trigger, requestedBy, matrix, answer }) };
  });
}
