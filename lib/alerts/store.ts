import type pg from 'pg';
import { type Database, takeAdvisoryLock } from '../db';
import type { AlertState } from './dedup';
import type { HeldBackAlert, RenderedMessage } from './render';
import type { Alert, NotificationKind } from './types';

interface AlertStateRow {
  alert_key: string;
  severity: AlertState['severity'];
  status: AlertState['status'];
  incident_started_at: Date;
  last_fired_at: Date;
  last_notified_at: Date | null;
  told_status: AlertState['status'] | null;
  told_at: Date | null;
  changes: Array<{ at: string; to: AlertState['status']; told: boolean }>;
  held_changes: number;
  resolved_at: Date | null;
  flap_count: number;
  suppressed_count: number;
  last_alert: Alert & { observedAt: string; since?: string };
}

/** Locks the key for this transaction (also when it has no row yet) and reads its state. */
export async function lockAlertState(client: pg.ClientBase, key: string): Promise<AlertState | undefined> {
  await takeAdvisoryLock(client, key, { scope: 'transaction', wait: true, space: 'vigil-alert' });
  const { rows } = await client.query<AlertStateRow>('SELECT * FROM vigil.alert_state WHERE alert_key = $1', [key]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    key: row.alert_key,
    severity: row.severity,
    status: row.status,
    incidentStartedAt: row.incident_started_at,
    lastFiredAt: row.last_fired_at,
    lastNotifiedAt: row.last_notified_at,
    told: row.told_status && row.told_at ? { status: row.told_status, at: row.told_at } : null,
    changes: row.changes.map((change) => ({ ...change, at: new Date(change.at) })),
    heldChanges: row.held_changes,
    resolvedAt: row.resolved_at,
    flapCount: row.flap_count,
    suppressedCount: row.suppressed_count,
    lastAlert: {
      ...row.last_alert,
      observedAt: new Date(row.last_alert.observedAt),
      ...(row.last_alert.since ? { since: new Date(row.last_alert.since) } : {}),
    },
  };
}

export async function saveAlertState(client: pg.ClientBase, state: AlertState): Promise<void> {
  await client.query(
    `INSERT INTO vigil.alert_state (alert_key, severity, status, incident_started_at, last_fired_at, last_notified_at,
                                    resolved_at, flap_count, suppressed_count, last_alert, told_status, told_at, changes,
                                    held_changes, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
     ON CONFLICT (alert_key) DO UPDATE SET severity = EXCLUDED.severity, status = EXCLUDED.status,
       incident_started_at = EXCLUDED.incident_started_at, last_fired_at = EXCLUDED.last_fired_at,
       last_notified_at = EXCLUDED.last_notified_at, resolved_at = EXCLUDED.resolved_at,
       flap_count = EXCLUDED.flap_count, suppressed_count = EXCLUDED.suppressed_count, last_alert = EXCLUDED.last_alert,
       told_status = EXCLUDED.told_status, told_at = EXCLUDED.told_at, changes = EXCLUDED.changes,
       held_changes = EXCLUDED.held_changes, updated_at = now()`,
    [
      state.key,
      state.severity,
      state.status,
      state.incidentStartedAt,
      state.lastFiredAt,
      state.lastNotifiedAt,
      state.resolvedAt,
      state.flapCount,
      state.suppressedCount,
      JSON.stringify(state.lastAlert),
      state.told?.status ?? null,
      state.told?.at ?? null,
      JSON.stringify(state.changes),
      state.heldChanges,
    ],
  );
}

export async function recordNotification(
  client: pg.ClientBase,
  entry: { key: string; kind: NotificationKind; severity: string; rendered: RenderedMessage; messageId: string; sentAt: Date },
): Promise<void> {
  await client.query(
    `INSERT INTO vigil.alert_notifications (alert_key, kind, severity, subject, message_id, size_bytes, truncated, sent_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.key,
      entry.kind,
      entry.severity,
      entry.rendered.subject,
      entry.messageId,
      entry.rendered.sizeBytes,
      entry.rendered.truncated,
      entry.sentAt,
    ],
  );
}

/** The firing alert, on-call told of it, that holds this key back (its `inhibits` names the key). */
export async function firingInhibitorOf(client: pg.ClientBase, key: string): Promise<string | undefined> {
  const { rows } = await client.query<{ alert_key: string }>(
    `SELECT alert_key FROM vigil.alert_state
      WHERE status = 'firing' AND told_status = 'firing' AND alert_key <> $1 AND last_alert->'inhibits' ? $1
      ORDER BY alert_key LIMIT 1`,
    [key],
  );
  return rows[0]?.alert_key;
}

/** What on-call was last told of each key an alert holds back. */
export async function heldBackBy(client: pg.ClientBase, keys: string[]): Promise<HeldBackAlert[]> {
  const { rows } = await client.query<{ alert_key: string; title: string | null; since: Date | null }>(
    `SELECT alert_key, last_alert->>'title' AS title,
            CASE WHEN status = 'firing' AND told_status = 'firing' THEN incident_started_at END AS since
       FROM vigil.alert_state WHERE alert_key = ANY($1::text[])`,
    [keys],
  );
  const known = new Map(rows.map((row) => [row.alert_key, row]));
  return keys.map((key) => {
    const row = known.get(key);
    return { key, ...(row?.title ? { title: row.title } : {}), ...(row?.since ? { firingSince: row.since } : {}) };
  });
}

/**
 * The cause of each of `keys` that has a message to send on resolving: firing, or resolved with
 * the resolve held while flapping (on-call was last told it fires). A key not returned is not firing.
 */
export async function firingCausesOf(db: Pick<Database, 'query'>, keys: string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ alert_key: string; cause: string | null }>(
    `SELECT alert_key, last_alert->>'cause' AS cause FROM vigil.alert_state
      WHERE alert_key = ANY($1::text[]) AND (status = 'firing' OR told_status = 'firing')`,
    [keys],
  );
  return new Map(rows.map((row) => [row.alert_key, row.cause ?? row.alert_key]));
}
