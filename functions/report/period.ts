import type { Period, PeriodKind } from './recorded';

const lengthMs: Record<PeriodKind, number> = { day: 86_400_000, week: 7 * 86_400_000 };

/**
 * The period a report covers: the day or week that ends at `end` (a scheduled run's slot, or now
 * for one asked for), so a daily report at 06:00 covers 06:00 yesterday to 06:00 today.
 */
export function periodEnding(kind: PeriodKind, end: Date): Period {
  return { kind, start: new Date(end.getTime() - lengthMs[kind]), end };
}

/** The period just before, of the same length: what a trend compares with. */
export function previousPeriod(period: Period): Period {
  return periodEnding(period.kind, period.start);
}

const minute = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`;

/** "2026-11-21 06:00Z to 2026-11-22 06:00Z" */
export const periodWords = (period: Pick<Period, 'start' | 'end'>) => `${minute(period.start)} to ${minute(period.end)}`;

export const atWords = (at: Date) => `at ${minute(at)}`;

/** The UTC days a period touches, oldest first ("2026-11-21"). */
export function daysOf(period: Period): string[] {
  const days: string[] = [];
  const cursor = new Date(Date.UTC(period.start.getUTCFullYear(), period.start.getUTCMonth(), period.start.getUTCDate()));
  while (cursor < period.end) {
    days.push(cursor.toISOString().slice(0, 10));
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}
