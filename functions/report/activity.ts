import type { RecordedPeriod } from './recorded';
import { decisionWords } from './scorecard';

/* What happened in the period besides the promises: the alerts sent per key, and the timeline. */

export interface AlertActivity {
  key: string;
  title: string;
  severity: string;
  /** Messages that said it fired (first, again, escalated). */
  fired: number;
  repeats: number;
  resolved: number;
  /** From each firing to the resolve that followed it in the period, in ms. */
  resolveTimesMs: number[];
  /** Firing when the period ended, and since when. */
  firingAtEnd: Date | null;
}

const firingKinds = new Set(['firing', 'refiring', 'escalation']);

export function alertActivity(recorded: RecordedPeriod): AlertActivity[] {
  const byKey = new Map<string, AlertActivity>();
  const openSince = new Map<string, Date>();
  const sent = [...recorded.notifications].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
  for (const notification of sent) {
    if (!['firing', 'refiring', 'escalation', 'repeat', 'resolved'].includes(notification.kind)) continue;
    const entry = byKey.get(notification.key) ?? {
      key: notification.key,
      title: notification.title,
      severity: notification.severity,
      fired: 0,
      repeats: 0,
      resolved: 0,
      resolveTimesMs: [],
      firingAtEnd: null,
    };
    if (firingKinds.has(notification.kind)) {
      entry.fired += 1;
      entry.severity = notification.severity;
      entry.title = notification.title;
      if (!openSince.has(notification.key)) openSince.set(notification.key, notification.sentAt);
    } else if (notification.kind === 'repeat') entry.repeats += 1;
    else {
      entry.resolved += 1;
      const since = openSince.get(notification.key);
      if (since) entry.resolveTimesMs.push(notification.sentAt.getTime() - since.getTime());
      openSince.delete(notification.key);
    }
    byKey.set(notification.key, entry);
  }
  // Fired in the period and not resolved in it: firing at its end.
  for (const [key, since] of openSince) {
    const entry = byKey.get(key);
    if (entry) entry.firingAtEnd = since;
  }
  for (const state of recorded.alertStates) {
    if (state.status !== 'firing' || state.incidentStartedAt > recorded.period.end) continue;
    const entry = byKey.get(state.key) ?? {
      key: state.key,
      title: state.title,
      severity: 'unknown',
      fired: 0,
      repeats: 0,
      resolved: 0,
      resolveTimesMs: [],
      firingAtEnd: null,
    };
    entry.firingAtEnd =
      entry.firingAtEnd && entry.firingAtEnd < state.incidentStartedAt ? entry.firingAtEnd : state.incidentStartedAt;
    byKey.set(state.key, entry);
  }
  return [...byKey.values()].sort((a, b) => b.fired - a.fired || a.key.localeCompare(b.key));
}

export interface TimelineEvent {
  at: Date;
  kind: 'decision' | 'alert' | 'resolved';
  label: string;
  /** How it reads: fine, worth a look, bad. */
  level: 'ok' | 'warn' | 'bad';
}

/** Scheduled decisions that advised more than going on, and every alert fired or resolved, in time order. */
export function timelineOf(recorded: RecordedPeriod): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const decision of recorded.decisions) {
    const action = decision.effectiveAction ?? decision.action;
    if (decision.trigger !== 'schedule' || action === 'continue_deployment') continue;
    events.push({
      at: decision.decidedAt,
      kind: 'decision',
      label: `decision: ${decisionWords(action)}`,
      level: action === 'monitor_and_optimize' ? 'warn' : 'bad',
    });
  }
  for (const notification of recorded.notifications) {
    if (firingKinds.has(notification.kind))
      events.push({
        at: notification.sentAt,
        kind: 'alert',
        label: `${notification.severity}: ${notification.title}`,
        level: notification.severity === 'critical' || notification.severity === 'major' ? 'bad' : 'warn',
      });
    else if (notification.kind === 'resolved')
      events.push({ at: notification.sentAt, kind: 'resolved', label: `resolved: ${notification.title}`, level: 'ok' });
  }
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}
