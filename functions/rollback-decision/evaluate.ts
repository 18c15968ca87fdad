import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Alert } from '../../lib/alerts';
import { probeKeys, rollbackKeys } from '../../lib/alerts/keys';
import type { Database } from '../../lib/db';
import type { Thresholds } from '../../lib/thresholds';
import type { RollbackConfig } from './config';
import {
  type Action,
  type Classification,
  type ClassifiedReading,
  decide,
  isRollback,
  recommendations,
  rollbackTier,
  type SignalName,
  type SignalReading,
  type Tier,
} from './matrix';
import { readSignals } from './signals';
import { type DataWindow, nextStreak, type StreakState } from './streak';

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

interface StateRow {
  effective_action: Action;
  staged_streak: number;
  calm_streak: number;
  calm_ceiling: Action;
  confirmed_through: Date | null;
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
  const now = new Date();
  const readings = await readSignals({
    db: input.db,
    cloudWatch: input.cloudWatch,
    config: input.config,
    now,
    complaintsPerHour: input.complaintsPerHour,
    confidencePercent: input.thresholds.rollback.evidence.confidencePercent,
  });
  const overrides = input.overrides ?? {};
  const whatIf = Object.keys(overrides).length > 0;
  // A what-if value is taken as the truth: no evidence, no data window, the source matrix exactly.
  const effectiveReadings = readings.map((reading) => {
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
  // One verdict from one set of readings: the what-if's, when overridden, for action and tier alike.
  const matrix = decide(effectiveReadings, input.thresholds.rollback);
  const { tier } = matrix;

  const answer = await input.db.withTransaction(async (client) => {
    const { rows } = await client.query<StateRow>(
      'SELECT effective_action, staged_streak, calm_streak, calm_ceiling, confirmed_through FROM vigil.rollback_state WHERE id = 1 FOR UPDATE',
    );
    const stored: StreakState | undefined = rows[0]
      ? {
          effective: rows[0].effective_action,
          stagedStreak: rows[0].staged_streak,
          calmStreak: rows[0].calm_streak,
          calmCeiling: rows[0].calm_ceiling,
          confirmedThrough: rows[0].confirmed_through?.toISOString() ?? null,
        }
      : undefined;
    let scheduled: Omit<DecisionAnswer['scheduled'], 'tier'>;
    if (input.trigger === 'schedule' && !whatIf) {
      const next = nextStreak(
        stored,
        matrix.action,
        { confirmEvaluations: input.config.confirmEvaluations, clearEvaluations: input.config.clearEvaluations },
        rollbackDataOf(matrix.classified),
      );
      await client.query(
        `INSERT INTO vigil.rollback_state (id, effective_action, staged_streak, calm_streak, calm_ceiling, confirmed_through, updated_at)
         VALUES (1, $1, $2, $3, $4, $5, now())
         ON CONFLICT (id) DO UPDATE SET effective_action = EXCLUDED.effective_action, staged_streak = EXCLUDED.staged_streak,
           calm_streak = EXCLUDED.calm_streak, calm_ceiling = EXCLUDED.calm_ceiling, confirmed_through = EXCLUDED.confirmed_through,
           updated_at = now()`,
        [next.effective, next.stagedStreak, next.calmStreak, next.calmCeiling, next.confirmedThrough],
      );
      scheduled = { effective: next.effective, stagedStreak: next.stagedStreak, calmStreak: next.calmStreak, note: next.note };
    } else {
      scheduled = stored
        ? {
            effective: stored.effective,
            stagedStreak: stored.stagedStreak,
            calmStreak: stored.calmStreak,
            note: 'the answer of the scheduled evaluations (this call does not move it)',
          }
        : { effective: 'insufficient_data', stagedStreak: 0, calmStreak: 0, note: 'no scheduled evaluation yet' };
    }
    // The scheduled answer's tier, from the same readings: a held rollback keeps a tier, a calm one has none.
    const scheduledTier =
      scheduled.effective === matrix.action
        ? tier
        : rollbackTier(scheduled.effective, matrix.classified, input.thresholds.rollback);
    const built: DecisionAnswer = {
      decidedAt: now.toISOString(),
      whatIf,
      trigger: input.trigger,
      requestedBy: input.requestedBy,
      action: matrix.action,
      severity: matrix.severity,
      tier,
      reasons: matrix.reasons,
      recommendations:
        tier && isRollback(matrix.action)
          ? [
              ...recommendations[matrix.action],
              `Tier ${tier.tier}, ${tier.name}: within ${tier.within}; approval: ${tier.approval}. Why: ${tier.why}.`,
            ]
          : recommendations[matrix.action],
      signals: matrix.classified,
      scheduled: { ...scheduled, tier: scheduledTier },
      thresholds: input.thresholds.rollback,
    };
    if (whatIf) return built;
    const { rows: inserted } = await client.query<{ id: string }>(
      `INSERT INTO vigil.rollback_decisions (decided_at, trigger, requested_by, instantaneous_action, effective_action, severity, tier, signals, answer)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        now,
        input.trigger,
        input.requestedBy,
        matrix.action,
        input.trigger === 'schedule' ? scheduled.effective : null,
        matrix.severity,
        tier?.tier ?? null,
        JSON.stringify(matrix.classified),
        JSON.stringify(built),
      ],
    );
    return { ...built, decisionId: Number(inserted[0]?.id) };
  });
  return answer;
}

/**
 * When the rollback now advised began: the first scheduled evaluation at staged or worse after the
 * last one that was calm with no rollback in force (a pending streak counts from its start).
 */
export async function rollbackBeganAt(db: Database): Promise<Date | undefined> {
  const { rows } = await db.query<{ began: Date | null }>(
    `SELECT min(decided_at) AS began FROM vigil.rollback_decisions
      WHERE trigger = 'schedule'
        AND instantaneous_action IN ('staged_rollback', 'immediate_rollback')
        AND decided_at > coalesce((
          SELECT max(decided_at) FROM vigil.rollback_decisions
           WHERE trigger = 'schedule'
             AND instantaneous_action NOT IN ('staged_rollback', 'immediate_rollback')
             AND coalesce(effective_action, 'continue_deployment') NOT IN ('staged_rollback', 'immediate_rollback')
        ), '-infinity'::timestamptz)`,
  );
  return rows[0]?.began ?? undefined;
}

const actionNames = /\b(continue_deployment|monitor_and_optimize|staged_rollback|immediate_rollback|insufficient_data)\b/g;

/**
 * The alert of a scheduled evaluation that advises a rollback (major staged, critical immediate),
 * every signal measured, or undefined when it advises none.
 */
export function scheduledAlert(answer: DecisionAnswer, since: Date | undefined): Alert | undefined {
  const text = scheduledAlertText(answer);
  if (!text) return undefined;
  return {
    key: rollbackKeys.decision,
    severity: answer.scheduled.effective === 'immediate_rollback' ? 'critical' : 'major',
    title: text.title,
    summary: text.summary,
    measurements: answer.signals.map((signal) => ({
      name: signal.name,
      value: signal.value,
      unit: signal.unit,
      ...(signal.classification.state === 'breach' ? { threshold: signal.classification.threshold } : {}),
      window: signal.window,
      sampleCount: signal.sampleCount,
      missingReason: signal.value === null ? signal.reason : undefined,
    })),
    source: 'rollback decision (scheduled)',
    runbook: 'rollback-decision',
    action: text.action,
    commands: text.commands,
    inhibits: text.pages.map((page) => probeKeys.budget(page)),
    observedAt: new Date(answer.decidedAt),
    ...(since ? { since } : {}),
  };
}

const titles: Partial<Record<Action, string>> = {
  immediate_rollback: 'Immediate rollback advised',
  staged_rollback: 'Staged rollback advised',
};

/**
 * The rollback alert of a scheduled evaluation, from that one evaluation: title, body and action
 * all speak of the scheduled answer. When the streaks hold a rollback while the latest evaluation
 * alone is calmer, the body says so and why, instead of the calm answer's words.
 */
export function scheduledAlertText(
  answer: DecisionAnswer,
): { title: string; summary: string; action: string; commands: string[]; pages: string[] } | undefined {
  const { effective, tier, note } = answer.scheduled;
  const title = titles[effective];
  if (!title) return undefined;
  const tierText = tier
    ? `Tier ${tier.tier}, ${tier.name}: within ${tier.within}; approval: ${tier.approval}. Why: ${tier.why}.`
    : '';
  const held = answer.action !== effective;
  const summary = held
    ? `The scheduled answer stays at ${effective} (${note}). The latest evaluation alone gives ${answer.action}: ${answer.reasons.join('; ')}.`
    : `${answer.reasons.join('; ')}.`;
  return {
    title,
    // Actions in words ("immediate rollback"), not their code names.
    summary: `${summary} ${tierText}`.trim().replace(actionNames, (name) => name.replace(/_/g, ' ')),
    action: [...recommendations[effective], tierText].filter(Boolean).join(' '),
    // The decision read again, with every signal and why, as on-call can run it.
    commands: ['npm run decide'],
    // The probe pages the signals were read from: their load-time budget alerts are this cause.
    pages: [
      ...new Set(answer.signals.flatMap((signal) => (typeof signal.details?.page === 'string' ? [signal.details.page] : []))),
    ],
  };
}
