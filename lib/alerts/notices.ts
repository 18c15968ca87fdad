import { errorSummary, logger } from '../logger';
import { testAlertKey } from './keys';
import type { RenderContext } from './render';
import type { SentMessage } from './sender';
import { recordNotification } from './store';
import type { AlerterParts } from './transitions';
import type { Alert, AlertOutcome, NotificationKind, Severity } from './types';

/*
 * Notices: messages sent as they are, never deduplicated and never kept as state (a test alert, a
 * digest). Each is recorded as a notification when the store answers; when it does not, the
 * message has gone out all the same.
 */

async function sendNotice(
  { sender, db }: AlerterParts,
  alert: Alert,
  context: RenderContext & { kind: NotificationKind },
  unrecordedLog: string,
): Promise<SentMessage> {
  const sent = await sender.send(alert, context);
  if (db) {
    await db
      .withTransaction((client) =>
        recordNotification(client, { key: alert.key, kind: context.kind, severity: alert.severity, ...sent }),
      )
      .catch((error: unknown) => logger.warn(unrecordedLog, { error: errorSummary(error) }));
  }
  return sent;
}

/** Ops checking their subscriptions: always sent, never deduplicated or stored as state. */
export async function sendTestAlert(
  parts: AlerterParts,
  severity: Severity,
  note: string,
  requestedBy: string,
): Promise<AlertOutcome> {
  const at = parts.sender.now();
  const alert: Alert = {
    key: testAlertKey(severity),
    severity,
    title: `Test alert (${severity}) requested by ${requestedBy}`,
    summary: `A test of Vigil's alert delivery. ${note}`.trim(),
    measurements: [],
    source: 'alerts',
    runbook: 'alerts-test',
    action: 'Nothing: confirm that this arrived by email, and by SMS for critical.',
    observedAt: at,
  };
  const context = parts.sender.context('test', at, at, { testNote: note.trim() || undefined });
  const { messageId } = await sendNotice(parts, alert, context, 'test alert sent but not recorded');
  return { key: alert.key, action: 'sent', kind: 'test', messageId, deduplicated: false, reason: 'test alerts are always sent' };
}

/**
 * A digest (the rollout report): sent as it is, once per call, recorded as a notification and
 * never kept as state; the caller's slot makes it once per period. A failed publish throws.
 */
export async function sendDigest(parts: AlerterParts, alert: Alert): Promise<AlertOutcome> {
  const at = parts.sender.now();
  const context = parts.sender.context('digest', alert.since ?? alert.observedAt, at);
  const { messageId } = await sendNotice(parts, alert, context, 'digest sent but not recorded');
  return {
    key: alert.key,
    action: 'sent',
    kind: 'digest',
    messageId,
    deduplicated: false,
    reason: 'a digest is sent once a report',
  };
}
