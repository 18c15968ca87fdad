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

export type KeepReason = 'newest' | 'daily' | 'weekly' | 'monthly';

export interface RetentionPlan {
  keep: Array<CompleteBackup & { reasons: KeepReason[] }>;
  expire: CompleteBackup[];
}

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

export function retentionPlan(backups: readonly CompleteBackup[], policy: RetentionPolicy): RetentionPlan {
  const newestFirst = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  const reasons = new Map<string, KeepReason[]>();
  const keepFor = (key: string, reason: KeepReason) => reasons.set(key, [...(reasons.get(key) ?? []), reason]);

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
    keep: newestFirst
      .filter((backup) => reasons.has(backup.key))
      .map((backup) => ({ ...backup, reasons: reasons.get(backup.key) ?? [] })),
    expire: newestFirst.filter((backup) => !reasons.has(backup.key)),
  };
}
