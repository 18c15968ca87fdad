import type { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config';
import type { Database } from '../db';
import { sendDigest, sendTestAlert } from './notices';
import { type ApplyOptions, applyRequests } from './requests';
import { createSender } from './sender';
import type { AlerterParts } from './transitions';
import type { Alert, AlertOutcome, AlertRequest, RequestOutcome, Severity } from './types';
import { UnrecordedMessages } from './unrecorded';

/*
 * lib/alerts, by idea:
 *   index.ts              this front door: createAlerter and its public types
 *   requests.ts           apply(): a check's requests in order, grouped by cause
 *   transitions.ts        one key's transition, and the transaction every transition runs in
 *                         (where the invariants of the alert path are enforced)
 *   group-transitions.ts  the transitions of one cause's keys, decided together
 *   notices.ts            test alerts and digests: sent as they are, never kept as state
 *   unrecorded.ts         messages sent while the state store could not record them
 *   sender.ts             rendering and publishing with one alerter's settings
 *   store.ts              the SQL of vigil.alert_state and vigil.alert_notifications
 *   dedup.ts, group.ts    the pure rules: what a key's change sends; what a cause is
 *   render.ts, sms.ts, publish.ts   the message, its SMS, SNS
 *   keys.ts               every alert key of every function
 */

export { groupByCause } from './group';
export { AlertDeliveryError } from './publish';
export type { ApplyOptions } from './requests';
export type { Alert, AlertOutcome, AlertRequest, Measurement, RequestOutcome, Severity } from './types';
export { severities } from './types';

export interface Alerter {
  /** A check saw the condition: send, repeat, escalate or suppress, per the key's state. */
  raise(alert: Alert): Promise<AlertOutcome>;
  /**
   * A check saw the key healthy (since `at`, when the source says when it recovered): the resolve
   * is sent once if ops were told it was firing.
   */
  resolve(key: string, at?: Date): Promise<AlertOutcome>;
  /** Ops checking their subscriptions: always sent, never deduplicated or stored as state. */
  sendTest(severity: Severity, note: string, requestedBy: string): Promise<AlertOutcome>;
  /**
   * A digest (the rollout report): sent as it is, once per call, recorded as a notification and
   * never kept as state; the caller's slot makes it once per period. A failed publish throws.
   */
  sendDigest(alert: Alert): Promise<AlertOutcome>;
  /**
   * The front door: a check's requests in order. Raises of one cause go out as one message per
   * severity, resolves of keys that fired for one cause likewise, holds are reported; raise() and
   * resolve() are one request of it.
   */
  apply(requests: AlertRequest[], options?: ApplyOptions): Promise<RequestOutcome[]>;
}

export interface AlerterDependencies {
  sns: SNSClient;
  /** Vigil's state store; without it (or when it is down) alerts go out undeduplicated. */
  db?: Database;
  config: Config['alerts'];
  stage: string;
  now?: () => Date;
}

export function createAlerter(dependencies: AlerterDependencies): Alerter {
  const { sns, db, config, stage, now } = dependencies;
  // The messages not yet recorded live as long as this alerter: a handler builds it once per container.
  const parts: AlerterParts = {
    sender: createSender({ sns, config, stage, ...(now ? { now } : {}) }),
    db,
    unrecorded: new UnrecordedMessages(),
  };
  const apply = (requests: AlertRequest[], options?: ApplyOptions) => applyRequests(parts, requests, options);
  return {
    raise: async (alert) => (await apply([{ action: 'raise', alert }]))[0] as AlertOutcome,
    resolve: async (key, at) => (await apply([{ action: 'resolve', key, ...(at ? { at } : {}) }]))[0] as AlertOutcome,
    apply,
    sendTest: (severity, note, requestedBy) => sendTestAlert(parts, severity, note, requestedBy),
    sendDigest: (alert) => sendDigest(parts, alert),
  };
}
