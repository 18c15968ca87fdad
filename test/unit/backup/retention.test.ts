import { describe, expect, it } from 'vitest';
import { isoWeekOf, retentionPlan } from '../../../functions/backup/retention';
import { gfsDaysOf400DaysEndingSunday20261122 } from '../../support/backup-history';

/** One backup a day at 02:00 UTC, for `days` days ending on `last`. */
function dailyHistory(last: string, days: number) {
  const end = Date.parse(`${last}T02:00:00Z`);
  return Array.from({ length: days }, (_, index) => {
    const startedAt = new Date(end - index * 86_400_000);
    return { key: startedAt.toISOString().slice(0, 10), startedAt };
  });
}

const policy = { daily: 7, weekly: 4, monthly: 12 };

describe('retention', () => {
  it('keeps exactly the newest 7 days, 4 ISO weeks and 12 months of a 400-day history', () => {
    const plan = retentionPlan(dailyHistory('2026-11-22', 400), policy);
    // 2026-11-22 is a Sunday: the week ends on it, so weeks add the three Sundays before.
    expect(plan.keep.map((backup) => backup.key).sort()).toEqual(gfsDaysOf400DaysEndingSunday20261122);
    expect(plan.expire).toHaveLength(400 - 21);
    expect(plan.keep.find((backup) => backup.key === '2026-11-22')?.reasons).toEqual(['newest', 'daily', 'weekly', 'monthly']);
  });

  it('keeps the newest backup of a day when a day holds several', () => {
    const morning = { key: 'morning', startedAt: new Date('2026-11-22T02:00:00Z') };
    const evening = { key: 'evening', startedAt: new Date('2026-11-22T20:00:00Z') };
    const plan = retentionPlan([morning, evening], { daily: 1, weekly: 0, monthly: 0 });
    expect(plan.keep.map((backup) => backup.key)).toEqual(['evening']);
    expect(plan.expire.map((backup) => backup.key)).toEqual(['morning']);
  });

  it('never expires the newest complete backup, however old, when the runs since failed', () => {
    // Good backups stopped 30 days ago; the failed runs since left no manifest, so they are not here.
    const history = dailyHistory('2026-10-23', 60);
    const plan = retentionPlan(history, { daily: 1, weekly: 0, monthly: 0 });
    expect(plan.keep.map((backup) => backup.key)).toEqual(['2026-10-23']);
    expect(plan.keep[0]?.reasons).toEqual(['newest', 'daily']);
  });

  it('expires nothing from an empty history', () => {
    expect(retentionPlan([], policy)).toEqual({ keep: [], expire: [], futureDated: [] });
  });

  it('keeps the backup just written and the newest real one when a manifest is dated in the future, and flags it', () => {
    const now = new Date('2026-11-22T02:10:00Z');
    const skewed = { key: 'skewed', startedAt: new Date('2026-11-22T12:40:00Z') };
    const history = [skewed, ...dailyHistory('2026-11-22', 10)];
    const plan = retentionPlan(
      history,
      { daily: 1, weekly: 0, monthly: 0 },
      { now, skewMs: 5 * 60_000, justWritten: '2026-11-22' },
    );
    expect(plan.futureDated).toEqual([skewed]);
    expect(plan.keep.map((backup) => `${backup.key} ${backup.reasons.join(',')}`)).toEqual([
      'skewed dated-in-the-future',
      '2026-11-22 just-written,newest,daily',
    ]);
    expect(plan.expire).toHaveLength(9);
    // Without the guard, the skewed manifest took the newest and daily places and the new backup went.
    expect(
      retentionPlan(
        history,
        { daily: 1, weekly: 0, monthly: 0 },
        { now: new Date('2027-01-01T00:00:00Z'), skewMs: 0 },
      ).expire.map((backup) => backup.key),
    ).toContain('2026-11-22');
  });

  it('keeps the backup just written even when the policy keeps nothing of its day', () => {
    const now = new Date('2026-11-22T03:00:00Z');
    const written = { key: 'written', startedAt: new Date('2026-11-22T02:00:00Z') };
    const later = { key: 'later', startedAt: new Date('2026-11-22T02:30:00Z') };
    const plan = retentionPlan([written, later], { daily: 1, weekly: 0, monthly: 0 }, { now, skewMs: 0, justWritten: 'written' });
    expect(plan.expire).toEqual([]);
    expect(plan.keep.map((backup) => backup.key)).toEqual(['later', 'written']);
  });

  it('numbers ISO weeks as ISO 8601 does across a year boundary', () => {
    expect(isoWeekOf(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeekOf(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    expect(isoWeekOf(new Date('2024-12-30T12:00:00Z'))).toBe('2025-W01');
    expect(isoWeekOf(new Date('2026-11-22T23:59:59Z'))).toBe('2026-W47');
  });
});
