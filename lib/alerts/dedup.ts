import { type Alert, type NotificationKind, type Severity, severityRank } from './types';

export type KeyStatus = 'firing' | 'resolved';

/** One change of a key's state, kept for the flap window and the hour "firing again" counts over. */
export interface StateChange {
  at: Date;
  to: KeyStatus;
  /** Whether on-call was told of it (false: held while the key flapped). */
  told: boolean;
}

/** What Vigil remembers of one alert key (vigil.alert_state). */
export interface AlertState {
  key: string;
  severity: Severity;
  status: KeyStatus;
  /** When the condition began, as the check that raised it says (else its first observation). */
  incidentStartedAt: Date;
  lastFiredAt: Date;
  /** Last message sent for this key, of any kind. */
  lastNotifiedAt: Date | null;
  /** What on-call was last told of this key, and when; null before the first message. */
  told: { status: KeyStatus; at: Date } | null;
  resolvedAt: Date | null;
  /** Times this key fired again after resolving, in the last hour. */
  flapCount: number;
  suppressedCount: number;
  /** Changes of state in the last hour (or the flap window, if longer). */
  changes: StateChange[];
  /** Changes held back while flapping since the last message; the next message says how many. */
  heldChanges: number;
  lastAlert: Alert;
}

/**
 * Every change of state is sent at once, except while a key flaps: after `flapThreshold` messages
 * about it within `flapWindowMs`, further changes are held and merged, and one message at most per
 * `flapHoldMs` tells the state of that moment with how many changes it merged. A held change that
 * leaves the key as on-call last heard it sends nothing; one that does not is sent by the key's
 * next check after the hold. So the last message for a key is its current state, one hold at most
 * after the change (the checks run every 1-5 minutes). `flapWindowMs` 0 turns damping off.
 */
export interface DedupPolicy {
  repeatIntervalMs: number;
  flapWindowMs: number;
  flapThreshold: number;
  flapHoldMs: number;
}

/** What a message says beyond the alert: the kind of change and, for flaps, what it merged. */
export interface ChangeContext {
  /** Firings of the key in the last hour, this one included (for "2nd time in the last hour"). */
  firingsInLastHour: number;
  /** Changes merged into this message while the key flapped. */
  mergedChanges: number;
  /** Changes of state within the flap window, this one included. */
  changesInFlapWindow: number;
  /** The previous message's time, when this one merges held changes. */
  previousMessageAt?: Date;
}

export interface Decision {
  notify: NotificationKind | null;
  reason: string;
  next: AlertState;
  change?: ChangeContext;
}

const hourMs = 3_600_000;

function recent(changes: StateChange[], now: Date, policy: DedupPolicy): StateChange[] {
  const keepMs = Math.max(hourMs, policy.flapWindowMs);
  return changes.filter((change) => now.getTime() - change.at.getTime() < keepMs);
}

const within = (changes: StateChange[], now: Date, ms: number) =>
  changes.filter((change) => now.getTime() - change.at.getTime() < ms);

/** Whether a change now must be held: the key flaps and the last message is within the hold. */
function holding(state: AlertState, changes: StateChange[], now: Date, policy: DedupPolicy): boolean {
  if (policy.flapWindowMs <= 0 || !state.told) return false;
  const toldInWindow = within(changes, now, policy.flapWindowMs).filter((change) => change.told).length;
  const sinceMessage = now.getTime() - (state.lastNotifiedAt ?? state.told.at).getTime();
  return toldInWindow >= policy.flapThreshold && sinceMessage < policy.flapHoldMs;
}

export const ordinal = (n: number) => {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
};

function contextOf(state: AlertState | undefined, changes: StateChange[], now: Date, policy: DedupPolicy): ChangeContext {
  const merged = state?.heldChanges ?? 0;
  return {
    firingsInLastHour: within(changes, now, hourMs).filter((change) => change.to === 'firing').length,
    mergedChanges: merged,
    changesInFlapWindow: within(changes, now, Math.max(policy.flapWindowMs, 1)).length,
    ...(merged > 0 && state?.lastNotifiedAt ? { previousMessageAt: state.lastNotifiedAt } : {}),
  };
}

/** The state after telling on-call `status` now. */
const told = (state: AlertState, status: KeyStatus, now: Date, changes: StateChange[]): AlertState => ({
  ...state,
  changes: changes.map((change, index) =>
    index === changes.length - 1 && change.to === status ? { ...change, told: true } : change,
  ),
  told: { status, at: now },
  lastNotifiedAt: now,
  heldChanges: 0,
});

/**
 * A check saw the condition. A first firing is sent, and so is a firing again after a resolve
 * (said as such); a rise in severity is sent at once; a key still firing repeats after the repeat
 * interval. While a key flaps, changes are held and merged as DedupPolicy says.
 */
export function decideFiring(state: AlertState | undefined, alert: Alert, now: Date, policy: DedupPolicy): Decision {
  if (!state) return firstFiring(alert, now, policy);
  if (state.status === 'resolved') return firingAgain(state, alert, now, policy);
  return stillFiring(state, alert, now, policy);
}

function firstFiring(alert: Alert, now: Date, policy: DedupPolicy): Decision {
  const changes: StateChange[] = [{ at: now, to: 'firing', told: true }];
  const next: AlertState = {
    key: alert.key,
    severity: alert.severity,
    status: 'firing',
    incidentStartedAt: alert.since ?? alert.observedAt,
    lastFiredAt: now,
    lastNotifiedAt: now,
    told: { status: 'firing', at: now },
    resolvedAt: null,
    flapCount: 0,
    suppressedCount: 0,
    changes,
    heldChanges: 0,
    lastAlert: alert,
  };
  return { notify: 'firing', reason: 'first firing of this key', next, change: contextOf(undefined, changes, now, policy) };
}

/** A resolved key fires again. */
function firingAgain(state: AlertState, alert: Alert, now: Date, policy: DedupPolicy): Decision {
  const changes = [...recent(state.changes, now, policy), { at: now, to: 'firing' as const, told: false }];
  const firings = within(changes, now, hourMs).filter((change) => change.to === 'firing').length;
  const next: AlertState = {
    ...state,
    severity: alert.severity,
    status: 'firing',
    incidentStartedAt: alert.since ?? alert.observedAt,
    lastFiredAt: now,
    resolvedAt: null,
    flapCount: firings - 1,
    changes,
    lastAlert: alert,
  };
  const escalated = severityRank[alert.severity] > severityRank[state.severity];
  if (state.told?.status === 'firing') {
    // The resolve was held: on-call still believes it firing, which it is again.
    return {
      notify: null,
      reason: 'fired again before its held resolve was sent: on-call was last told it is firing',
      next: { ...next, heldChanges: state.heldChanges + 1 },
    };
  }
  if (!escalated && holding(state, changes, now, policy)) {
    return {
      notify: null,
      reason: 'flapping: the change is held and merged into the next message',
      next: { ...next, heldChanges: state.heldChanges + 1, suppressedCount: state.suppressedCount + 1 },
    };
  }
  const kind: NotificationKind = firings > 1 ? 'refiring' : 'firing';
  return {
    notify: kind,
    reason:
      kind === 'refiring' ? `fired again, ${ordinal(firings)} time in the last hour` : 'fired again after more than an hour',
    next: told(next, 'firing', now, changes),
    change: contextOf(state, changes, now, policy),
  };
}

/** A firing key fires on: an escalation, a held firing whose hold is over, a repeat, or nothing yet. */
function stillFiring(state: AlertState, alert: Alert, now: Date, policy: DedupPolicy): Decision {
  const changes = recent(state.changes, now, policy);
  const base: AlertState = { ...state, lastFiredAt: now, lastAlert: alert, changes };
  if (severityRank[alert.severity] > severityRank[state.severity]) {
    return {
      notify: 'escalation',
      reason: `severity rose from ${state.severity} to ${alert.severity}`,
      next: { ...told(base, 'firing', now, changes), severity: alert.severity },
      change: contextOf(state, changes, now, policy),
    };
  }
  if (state.told?.status !== 'firing' && !holding(state, changes, now, policy)) {
    // A firing held while flapping, and the hold is over: tell it now, with what it merged.
    const firings = within(changes, now, hourMs).filter((change) => change.to === 'firing').length;
    return {
      notify: firings > 1 ? 'refiring' : 'firing',
      reason: 'the hold of a flapping key is over: its current state is sent',
      next: { ...told(base, 'firing', now, changes), severity: alert.severity },
      change: contextOf(state, changes, now, policy),
    };
  }
  if (state.told?.status !== 'firing') {
    return { notify: null, reason: 'flapping: held until the hold is over', next: base };
  }
  const sinceNotified = state.lastNotifiedAt ? now.getTime() - state.lastNotifiedAt.getTime() : Number.POSITIVE_INFINITY;
  if (sinceNotified >= policy.repeatIntervalMs) {
    return {
      notify: 'repeat',
      reason: 'still firing after the repeat interval',
      next: { ...base, severity: alert.severity, lastNotifiedAt: now },
      change: contextOf(state, changes, now, policy),
    };
  }
  return {
    notify: null,
    reason: `repeat suppressed: last sent ${Math.round(sinceNotified / 1000)} s ago`,
    next: { ...base, suppressedCount: state.suppressedCount + 1 },
  };
}

/**
 * A check saw the key healthy, at `at` when the source says when it recovered. A firing key
 * resolves and the resolve is sent, unless the key flaps (then held and merged). A key resolved
 * while on-call was last told it fires (a held resolve) is sent once the hold is over.
 */
export function decideResolved(state: AlertState | undefined, now: Date, policy: DedupPolicy, at?: Date): Decision | undefined {
  if (!state) return undefined;
  const changes =
    state.status === 'firing'
      ? [...recent(state.changes, now, policy), { at: now, to: 'resolved' as const, told: false }]
      : recent(state.changes, now, policy);
  const next: AlertState =
    state.status === 'firing' ? { ...state, status: 'resolved', resolvedAt: at ?? now, changes } : { ...state, changes };
  if (state.told?.status !== 'firing') {
    if (state.status === 'resolved') return undefined;
    // The firing was held: on-call was last told it is resolved, which it is again.
    return {
      notify: null,
      reason: 'healthy again before its held firing was sent: on-call was last told it is resolved',
      next: { ...next, heldChanges: state.heldChanges + 1 },
    };
  }
  if (holding(state, changes, now, policy)) {
    if (state.status === 'resolved') return { notify: null, reason: 'flapping: held until the hold is over', next };
    return {
      notify: null,
      reason: 'flapping: the resolve is held and merged into the next message',
      next: { ...next, heldChanges: state.heldChanges + 1, suppressedCount: state.suppressedCount + 1 },
    };
  }
  return {
    notify: 'resolved',
    reason: state.status === 'firing' ? 'healthy again' : 'the hold of a flapping key is over: its current state is sent',
    next: told(next, 'resolved', now, changes),
    change: contextOf(state, changes, now, policy),
  };
}
