import type pg from 'pg';
import type { Database } from '../db';
import { errorSummary, logger } from '../logger';
import { type AlertState, type Decision, decideFiring, decideResolved } from './dedup';
import { groupedAlert } from './group';
import { AlertDeliveryError } from './publish';
import type { Sender, SentMessage } from './sender';
import { firingInhibitorOf, heldBackBy, lockAlertState, recordNotification, saveAlertState } from './store';
import { type Alert, type AlertOutcome, type NotificationKind, severities } from './types';
import type { UnrecordedMessages } from './unrecorded';

/** What every transition works with. */
export interface AlerterParts {
  sender: Sender;
  /** Vigil's state store; without it (or when it is down) alerts go out undeduplicated. */
  db: Database | undefined;
  unrecorded: UnrecordedMessages;
}

/** One key's change, asked of a transaction: a raise or a resolve, decided on the key's locked state. */
export interface KeyChange {
  key: string;
  decide(state: AlertState | undefined, at: Date): Decision | undefined;
  /** A raise: held back while an inhibitor fires, and its email lists what it inhibits. */
  raising?: Alert;
}

export const raiseChange = (sender: Sender, alert: Alert): KeyChange => ({
  key: alert.key,
  decide: (state, at) => decideFiring(state, alert, at, sender.policy),
  raising: alert,
});

export const resolveChange = (sender: Sender, key: string, recoveredAt?: Date): KeyChange => ({
  key,
  decide: (state, at) => decideResolved(state, at, sender.policy, recoveredAt),
});

const notFiring = (key: string): AlertOutcome => ({ key, action: 'none', deduplicated: true, reason: 'not firing' });

/**
 * Decides the changes of one key or of one cause's keys in one transaction, sends what is to be
 * sent as one message per severity (the first change in the callers' order leading), records each
 * key's notification and saves each key's state. The invariants of the alert path hold here:
 *
 * - Publish inside the transaction that holds the keys' locks: a failed publish rolls the state
 *   back, so the next run tries again instead of believing it sent, and two containers cannot
 *   both send one change.
 * - Lock order: keys are locked in key order, so two transactions sharing keys cannot deadlock.
 * - Inhibition: a raise of a key that a firing alert (on-call told of it) inhibits is held back,
 *   its state untouched, so once the inhibitor clears it is sent as new; a resolve always goes.
 *
 * `onSent` hears of each message as it leaves, so a caller whose transaction then fails knows what went out.
 */
export async function decideAndSend(
  parts: AlerterParts & { db: Database },
  changes: KeyChange[],
  onSent: (sent: SentMessage) => void = () => {},
): Promise<AlertOutcome[]> {
  const { sender, db } = parts;
  return db.withTransaction(async (client) => {
    const at = sender.now();
    const outcomes = new Map<string, AlertOutcome>();
    const decided: Array<{ change: KeyChange; decision: Decision }> = [];
    for (const change of [...changes].sort((a, b) => a.key.localeCompare(b.key))) {
      const state = await lockAlertState(client, change.key);
      const inhibitor = change.raising ? await firingInhibitorOf(client, change.key) : undefined;
      if (inhibitor) {
        outcomes.set(change.key, {
          key: change.key,
          action: 'suppressed',
          deduplicated: true,
          reason: `held back while ${inhibitor} fires`,
        });
        continue;
      }
      const decision = change.decide(state, at);
      if (decision) decided.push({ change, decision });
      else outcomes.set(change.key, notFiring(change.key));
    }
    // The callers' order again: the first raised is the root cause and leads its message.
    decided.sort((a, b) => changes.indexOf(a.change) - changes.indexOf(b.change));
    for (const [key, sent] of await sendBySeverity(parts, client, decided, at, onSent)) outcomes.set(key, sent);
    for (const { change, decision } of decided) {
      await saveAlertState(client, decision.next);
      if (!outcomes.has(change.key))
        outcomes.set(change.key, { key: change.key, action: 'suppressed', deduplicated: true, reason: decision.reason });
    }
    return changes.map((change) => outcomes.get(change.key) as AlertOutcome);
  });
}

/** The decisions that notify, one message per severity (most severe first), each key's notification recorded: their outcomes. */
async function sendBySeverity(
  { sender }: AlerterParts,
  client: pg.ClientBase,
  decided: Array<{ change: KeyChange; decision: Decision }>,
  at: Date,
  onSent: (sent: SentMessage) => void,
): Promise<Map<string, AlertOutcome>> {
  const outcomes = new Map<string, AlertOutcome>();
  for (const severity of [...severities].reverse()) {
    const members = decided.filter(({ decision }) => decision.notify && decision.next.severity === severity);
    const lead = members[0]?.decision;
    if (!lead?.notify) continue;
    const inhibits = members.flatMap(({ change }) => change.raising?.inhibits ?? []);
    const sent = await sender.send(
      groupedAlert(members.map(({ decision }) => decision.next.lastAlert)),
      sender.context(lead.notify, lead.next.incidentStartedAt, at, {
        change: lead.change,
        resolvedAt: lead.next.resolvedAt ?? undefined,
        ...(inhibits.length ? { heldBack: await heldBackBy(client, inhibits) } : {}),
      }),
    );
    onSent(sent);
    for (const { change, decision } of members) {
      const kind = decision.notify as NotificationKind;
      await recordNotification(client, { key: change.key, kind, severity, ...sent });
      const grouped = members.length > 1 ? `; one message with ${members.length - 1} other(s) of the same cause` : '';
      outcomes.set(change.key, {
        key: change.key,
        action: 'sent',
        kind,
        messageId: sent.messageId,
        deduplicated: true,
        reason: `${decision.reason}${grouped}`,
      });
    }
  }
  return outcomes;
}

/** Each item in turn, as its own transition: where a group cannot be decided together. */
export async function oneByOne<T>(items: T[], transition: (item: T) => Promise<AlertOutcome>): Promise<AlertOutcome[]> {
  const outcomes: AlertOutcome[] = [];
  for (const item of items) outcomes.push(await transition(item));
  return outcomes;
}

/** A check saw the condition: send, repeat, escalate or suppress, per the key's state. */
export async function raiseOne(parts: AlerterParts, alert: Alert): Promise<AlertOutcome> {
  const { db, sender, unrecorded } = parts;
  if (!db) return raiseWithoutStore(parts, alert, { reason: 'no state store configured' });
  let sent: SentMessage | undefined;
  try {
    await unrecorded.recordAll(db, sender.policy);
    const [outcome] = await decideAndSend({ ...parts, db }, [raiseChange(sender, alert)], (message) => {
      sent = message;
    });
    return outcome as AlertOutcome;
  } catch (error) {
    if (error instanceof AlertDeliveryError) throw error;
    if (!sent) return raiseWithoutStore(parts, alert, errorSummary(error));
    // Sent, but the state could not be saved: recorded once the store answers again.
    logger.error('alert sent but its state could not be saved', { alertKey: alert.key, error: errorSummary(error) });
    unrecorded.add(alert, sent);
    return { key: alert.key, action: 'sent', kind: 'firing', deduplicated: false, reason: 'state not saved after sending' };
  }
}

async function raiseWithoutStore(parts: AlerterParts, alert: Alert, why: Record<string, unknown>): Promise<AlertOutcome> {
  const { sender } = parts;
  logger.warn('alert state store unavailable; sending without deduplication', { alertKey: alert.key, error: why });
  const at = sender.now();
  const sent = await sender.send(alert, sender.context('firing', alert.observedAt, at, { deduplicationUnavailable: true }));
  logger.warn('alert sent while the state store was unavailable; it is recorded once the store answers', {
    alertKey: alert.key,
  });
  return sentWithoutStore(parts.unrecorded, alert, sent);
}

/** A raise sent while the store is unavailable: kept to be recorded once the store answers, and told as such. */
export function sentWithoutStore(unrecorded: UnrecordedMessages, alert: Alert, sent: SentMessage): AlertOutcome {
  unrecorded.add(alert, sent);
  return {
    key: alert.key,
    action: 'sent',
    kind: 'firing',
    messageId: sent.messageId,
    deduplicated: false,
    reason: 'state store unavailable',
  };
}

/**
 * A check saw the key healthy (since `recoveredAt`, when the source says when it recovered): the
 * resolve is sent once if ops were told it was firing.
 */
export async function resolveOne(parts: AlerterParts, key: string, recoveredAt?: Date): Promise<AlertOutcome> {
  const { db, sender } = parts;
  // Without state Vigil cannot know the key was firing; a RESOLVED for every healthy check would be noise.
  const unknown = (why: Record<string, unknown>): AlertOutcome => {
    logger.warn('alert state store unavailable; cannot tell whether to send RESOLVED', { alertKey: key, error: why });
    return { key, action: 'none', deduplicated: false, reason: 'state store unavailable' };
  };
  if (!db) return unknown({ reason: 'no state store configured' });
  try {
    await parts.unrecorded.recordAll(db, sender.policy);
    const [outcome] = await decideAndSend({ ...parts, db }, [resolveChange(sender, key, recoveredAt)]);
    return outcome as AlertOutcome;
  } catch (error) {
    if (error instanceof AlertDeliveryError) throw error;
    return unknown(errorSummary(error));
  }
}
