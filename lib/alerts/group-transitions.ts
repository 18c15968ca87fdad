import { errorSummary, logger } from '../logger';
import { groupedAlert } from './group';
import { AlertDeliveryError } from './publish';
import {
  type AlerterParts,
  decideAndSend,
  oneByOne,
  raiseChange,
  raiseOne,
  resolveChange,
  resolveOne,
  sentWithoutStore,
} from './transitions';
import { type Alert, type AlertOutcome, severities } from './types';

/*
 * The transitions of one cause's keys, decided together (lib/alerts/group.ts says what a cause is):
 * what is to be sent goes out as one message per severity, the first key leading; each key keeps
 * its own state. One key alone is a single transition (transitions.ts).
 */

/** Several raises of one cause. */
export async function raiseGroup(parts: AlerterParts, alerts: Alert[]): Promise<AlertOutcome[]> {
  const { db, sender } = parts;
  const keys = alerts.map((alert) => alert.key);
  if (alerts.length < 2 || !db || new Set(keys).size !== keys.length) return oneByOne(alerts, (alert) => raiseOne(parts, alert));
  try {
    await parts.unrecorded.recordAll(db, sender.policy);
    return await decideAndSend(
      { ...parts, db },
      alerts.map((alert) => raiseChange(sender, alert)),
    );
  } catch (error) {
    if (error instanceof AlertDeliveryError) throw error;
    // Without the state store: still one message per severity for the cause (one database freeze
    // pages once), undeduplicated and saying so, each key recorded once the store answers.
    logger.warn('alert state store unavailable; sending the cause as one message per severity, without deduplication', {
      keys,
      error: errorSummary(error),
    });
    return raiseGroupWithoutStore(parts, alerts);
  }
}

async function raiseGroupWithoutStore({ sender, unrecorded }: AlerterParts, alerts: Alert[]): Promise<AlertOutcome[]> {
  const at = sender.now();
  const outcomes = new Map<string, AlertOutcome>();
  for (const severity of [...severities].reverse()) {
    const members = alerts.filter((alert) => alert.severity === severity);
    const lead = members[0];
    if (!lead) continue;
    const sent = await sender.send(
      groupedAlert(members),
      sender.context('firing', lead.since ?? lead.observedAt, at, { deduplicationUnavailable: true }),
    );
    for (const alert of members) outcomes.set(alert.key, sentWithoutStore(unrecorded, alert, sent));
  }
  return alerts.map((alert) => outcomes.get(alert.key) as AlertOutcome);
}

/**
 * Several resolves of one cause (keys whose last message was one cause's): the RESOLVED goes out
 * as one message per severity, the first key leading, as their raise did.
 */
export async function resolveGroup(parts: AlerterParts, entries: Array<{ key: string; at?: Date }>): Promise<AlertOutcome[]> {
  const { db, sender } = parts;
  const oneByOneResolves = () => oneByOne(entries, (entry) => resolveOne(parts, entry.key, entry.at));
  if (!db) return oneByOneResolves();
  try {
    await parts.unrecorded.recordAll(db, sender.policy);
    return await decideAndSend(
      { ...parts, db },
      entries.map((entry) => resolveChange(sender, entry.key, entry.at)),
    );
  } catch (error) {
    if (error instanceof AlertDeliveryError) throw error;
    logger.warn('grouped resolves could not be decided together; resolving them one by one', {
      keys: entries.map((entry) => entry.key),
      error: errorSummary(error),
    });
    return oneByOneResolves();
  }
}
