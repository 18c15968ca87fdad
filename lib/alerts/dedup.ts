import { type Alert, type NotificationKind, type Severity, severityRank } from './types';

/** What Vigil remembers of one alert key (vigil.alert_state). */
export interface AlertState {
  key: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  /** Start of the current incident: the first firing, kept through flaps. */
  incidentStartedAt: Date;
  lastFiredAt: Date;
  /** Last firing, repeat or escalation message sent in this incident. */
  lastNotifiedAt: Date | null;
  /** Whether the people on call were told that the key is firing now (false during a damped flap). */
  notified: boolean;
  resolvedAt: Date | null;
  flapCount: number;
  suppressedCount: number;
  lastAlert: Alert;
}

export interface DedupPolicy {
  repeatIntervalMs: number;
  /** A key firing again less than this after it resolved continues the old incident, unsent. */
  flapWindowMs: number;
}

export interface Decision {
  notify: NotificationKind | null;
  reason: string;
  next: AlertState;
}

/**
 * A check saw the condition. First firing is sent; repeats wait for the repeat interval; a rise in
 * severity is sent at once; a re-fire soon after resolving is a flap of the same incident, not news.
 */
export function decideFiring(state: AlertState | undefined, alert: Alert, now: Date, policy: DedupPolicy): Decision {
  const fresh = (): AlertState => ({
    key: alert.key,
    severity: alert.severity,
    status: 'firing',
    incidentStartedAt: alert.observedAt,
    lastFiredAt: now,
    lastNotifiedAt: now,
    notified: true,
    resolvedAt: null,
    flapCount: 0,
    suppressedCount: 0,
    lastAlert: alert,
  });
  if (!state) return { notify: 'firing', reason: 'first firing of this key', next: fresh() };

  if (state.status === 'resolved') {
    const sinceResolved = state.resolvedAt ? now.getTime() - state.resolvedAt.getTime() : Number.POSITIVE_INFINITY;
    if (sinceResolved >= policy.flapWindowMs)
      return { notify: 'firing', reason: 'fired again after the flap window: a new incident', next: fresh() };
    const escalated = severityRank[alert.severity] > severityRank[state.severity];
    const next: AlertState = {
      ...state,
      severity: alert.severity,
      status: 'firing',
      lastFiredAt: now,
      resolvedAt: null,
      flapCount: state.flapCount + 1,
      lastAlert: alert,
      notified: escalated,
      lastNotifiedAt: escalated ? now : state.lastNotifiedAt,
      suppressedCount: escalated ? state.suppressedCount : state.suppressedCount + 1,
    };
    return escalated
      ? { notify: 'escalation', reason: 'flapped back at a higher severity', next }
      : {
          notify: null,
          reason: `flap: fired again ${Math.round(sinceResolved / 1000)} s after resolving, within the flap window`,
          next,
        };
  }

  const base: AlertState = { ...state, lastFiredAt: now, lastAlert: alert };
  if (severityRank[alert.severity] > severityRank[state.severity]) {
    return {
      notify: 'escalation',
      reason: `severity rose from ${state.severity} to ${alert.severity}`,
      next: { ...base, severity: alert.severity, lastNotifiedAt: now, notified: true },
    };
  }
  const sinceNotified = state.lastNotifiedAt ? now.getTime() - state.lastNotifiedAt.getTime() : Number.POSITIVE_INFINITY;
  if (sinceNotified >= policy.repeatIntervalMs) {
    return {
      notify: 'repeat',
      reason: 'still firing after the repeat interval',
      next: { ...base, severity: alert.severity, lastNotifiedAt: now, notified: true },
    };
  }
  return {
    notify: null,
    reason: `repeat suppressed: last sent ${Math.round(sinceNotified / 1000)} s ago`,
    next: { ...base, suppressedCount: state.suppressedCount + 1 },
  };
}

/** A check saw the key healthy. A resolved message goes out once, and only if firing was told. */
export function decideResolved(state: AlertState | undefined, now: Date): Decision | undefined {
  if (!state || state.status === 'resolved') return undefined;
  const next: AlertState = { ...state, status: 'resolved', resolvedAt: now };
  return state.notified
    ? { notify: 'resolved', reason: 'healthy again', next }
    : { notify: null, reason: 'healthy again after a flap nobody was told of', next };
}
