import type { Alert, AlertRequest } from '../../lib/alerts';
import { probeKeys, rollbackKeys } from '../../lib/alerts/keys';
import type { DecisionAnswer } from './evaluate';
import { type Action, recommendations, tierWords } from './matrix';

/*
 * What the scheduled answer tells on-call: the rollback alert (major staged, critical immediate)
 * while a rollback is advised, its RESOLVED once the answer is calm again. Only scheduled
 * evaluations alert; the HTTP and command-line answers never do.
 */

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
  const tierText = tier ? tierWords(tier) : '';
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

/** Whether the scheduled answer advises a rollback, so the alert is raised. */
export const advisesRollback = (answer: DecisionAnswer) => titles[answer.scheduled.effective] !== undefined;

/**
 * What the scheduled answer asks of the alerter: raise the rollback alert (its incident began
 * `since`) while one is advised, resolve it when the answer is calm; insufficient data leaves it
 * as it stands.
 */
export function scheduledAlertRequests(answer: DecisionAnswer, since: Date | undefined): AlertRequest[] {
  const alert = scheduledAlert(answer, since);
  if (alert) return [{ action: 'raise', alert }];
  const effective = answer.scheduled.effective;
  if (effective === 'continue_deployment' || effective === 'monitor_and_optimize')
    return [{ action: 'resolve', key: rollbackKeys.decision }];
  return [];
}
