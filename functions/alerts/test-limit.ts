import { type Database, takeAdvisoryLock } from '../../lib/db';

export type TestAdmission = { admitted: true } | { admitted: false; retryAfterSeconds: number; limit: number };

/**
 * Whether `caller` may send one more test alert: at most `perMinute` in any 60 seconds. The count
 * and the record happen under a per-caller lock, so concurrent requests cannot slip past together.
 * Requests older than a day are pruned as they go.
 */
export async function admitTestAlert(db: Database, caller: string, perMinute: number): Promise<TestAdmission> {
  return db.withTransaction(async (client) => {
    await takeAdvisoryLock(client, `test-alert:${caller}`, { scope: 'transaction', wait: true });
    const { rows } = await client.query<{ recent: number; wait_seconds: number | null }>(
      `SELECT count(*)::int AS recent,
              ceil(extract(epoch FROM min(requested_at) + interval '60 seconds' - now()))::int AS wait_seconds
         FROM vigil.test_alert_requests
        WHERE caller = $1 AND requested_at > now() - interval '60 seconds'`,
      [caller],
    );
    const window = rows[0] as { recent: number; wait_seconds: number | null };
    if (window.recent >= perMinute) {
      return { admitted: false as const, retryAfterSeconds: Math.max(1, window.wait_seconds ?? 60), limit: perMinute };
    }
    await client.query('INSERT INTO vigil.test_alert_requests (caller) VALUES ($1)', [caller]);
    await client.query("DELETE FROM vigil.test_alert_requests WHERE requested_at < now() - interval '1 day'");
    return { admitted: true as const };
  });
}
