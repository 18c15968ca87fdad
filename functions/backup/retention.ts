/*
 * Grandfather-father-son retention over complete backups (those with a manifest), by the time the
 * manifest says the dump started, never by LastModified: keep the newest backup of each of the
 * newest N days, N ISO weeks and N months (UTC), and always the newest backup.
 */

export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface CompleteBackup {
  key: string;
  startedAt: Date;
}

export type KeepReason = 'newest' | 'daily' | 'weekly' | 'monthly' | 'just-written' | 'dated-in-the-future';

export interface RetentionPlan {
  keep: Array<CompleteBackup & { reasons: KeepReason[] }>;
  expire: CompleteBackup[];
  /** Backups whose manifest says they started after `now` (clock skew, a hand-made manifest): kept and flagged. */
  futureDated: CompleteBackup[];
}

export interface RetentionGuard {
  /** The backup this run has just written and verified: never expired, whatever the dates say. */
  justWritten?: string;
  now: Date;
  /** How far ahead of `now` a start may be before it counts as dated in the future (clock skew). */
  skewMs: number;
}

/** Five minutes: more than NTP-synchronised writers drift, less than the time between backups. */
export const defaultSkewMs = 5 * 60_000;

/** Whether a backup says it started after `now`, beyond the clock skew allowed. */
export const isDatedInFuture = (startedAt: Date, now: Date, skewMs = defaultSkewMs) =>
  startedAt.getTime() > now.getTime() + skewMs;

const dayOf = (at: Date) => at.toISOString().slice(0, 10);
const monthOf = (at: Date) => at.toISOString().slice(0, 7);

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday), in UTC. */
export function isoWeekOf(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * What to keep and what to expire. A backup dated in the future takes no place in the tiers (it
 * would push real ones out) and is never expired; the backup just written is always kept; the
 * newest is the newest not dated in the future.
 */
export function retentionPlan(
  backups: readonly CompleteBackup[],
  policy: RetentionPolicy,
  guard: RetentionGuard = { now: new Date(), skewMs: defaultSkewMs },
): RetentionPlan {
  const inFuture = (backup: CompleteBackup) => isDatedInFuture(backup.startedAt, guard.now, guard.skewMs);
  const all = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  const futureDated = all.filter(inFuture);
  const newestFirst = all.filter((backup) => !inFuture(backup));
  const reasons = new Map<string, KeepReason[]>();
  const keepFor = (key: string, reason: KeepReason) => reasons.set(key, [...(reasons.get(key) ?? []), reason]);
  for (const backup of futureDated) keepFor(backup.key, 'dated-in-the-future');
  if (guard.justWritten && all.some((backup) => backup.key === guard.justWritten)) keepFor(guard.justWritten, 'just-written');

  const newest = newestFirst[0];
  if (newest) keepFor(newest.key, 'newest');
  const tiers: Array<[KeepReason, number, (at: Date) => string]> = [
    ['daily', policy.daily, dayOf],
    ['weekly', policy.weekly, isoWeekOf],
    ['monthly', policy.monthly, monthOf],
  ];
  for (const [reason, count, periodOf] of tiers) {
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= count) break;
      const period = periodOf(backup.startedAt);
      if (seen.has(period)) continue;
      seen.add(period);
      keepFor(backup.key, reason);
    }
  }
  return {
    keep: all
      .filter((backup) => reasons.has(backup.key))
      .map((backup) => ({ ...backup, reasons: reasons.get(backup.key) ?? [] })),
    expire: all.filter((backup) => !reasons.has(backup.key)),
    futureDated,
  };
}
