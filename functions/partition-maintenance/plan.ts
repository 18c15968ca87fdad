/*
 * What partition maintenance should do to one parent table, computed from the clock (never from
 * the data, pg_partman's users' first complaint) and the children that exist. Pure: the plan is
 * the dry run, logged before anything runs.
 */

export type PartitionInterval = 'month' | 'week' | 'day';

export interface ExistingChild {
  name: string;
  /** null for the default partition or bounds that are not a plain FROM/TO range. */
  from: Date | null;
  to: Date | null;
  isDefault: boolean;
  /** Created (or adopted) by Vigil: the only children it may retire. */
  managed: boolean;
}

export interface PlannedChild {
  name: string;
  from: Date;
  to: Date;
  /** Rows of its range wait in the default partition: they move in as it is created. */
  moveFromDefault?: boolean;
}

export interface PartitionPlan {
  create: PlannedChild[];
  retire: PlannedChild[];
  /** Existing children in the way of a planned one, or with bounds Vigil does not understand: left alone. */
  skipped: Array<{ name: string; reason: string }>;
  /** Children (existing or to create) that start after the current interval. */
  futureAfterPlan: number;
  partitionsAfterPlan: number;
}

const pad = (value: number) => String(value).padStart(2, '0');

/** Start (UTC) of the interval that holds `date`; weeks start on Monday, as ISO weeks do. */
export function intervalStart(date: Date, interval: PartitionInterval): Date {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  if (interval === 'day') return day;
  if (interval === 'month') return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
  const weekday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - weekday * 86_400_000);
}

export function addIntervals(start: Date, interval: PartitionInterval, count: number): Date {
  if (interval === 'month') return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + count, 1));
  return new Date(start.getTime() + count * (interval === 'week' ? 7 : 1) * 86_400_000);
}

/** ISO 8601 week: the week belongs to the year of its Thursday. */
function isoWeek(date: Date): { year: number; week: number } {
  const thursday = new Date(date.getTime() + (3 - ((date.getUTCDay() + 6) % 7)) * 86_400_000);
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  return { year: thursday.getUTCFullYear(), week: 1 + Math.floor((thursday.getTime() - yearStart) / 86_400_000 / 7) };
}

/** `<parent>_YYYY_MM` (the source documents' convention), `<parent>_YYYY_wWW` (ISO week), `<parent>_YYYY_MM_DD`. */
export function childName(parent: string, start: Date, interval: PartitionInterval): string {
  if (interval === 'month') return `${parent}_${start.getUTCFullYear()}_${pad(start.getUTCMonth() + 1)}`;
  if (interval === 'day') return `${parent}_${start.getUTCFullYear()}_${pad(start.getUTCMonth() + 1)}_${pad(start.getUTCDate())}`;
  const { year, week } = isoWeek(start);
  return `${parent}_${year}_w${pad(week)}`;
}

export function planPartitions(input: {
  parent: string;
  interval: PartitionInterval;
  premake: number;
  /** Intervals kept before the current one; null keeps everything. */
  retention: number | null;
  now: Date;
  children: ExistingChild[];
  /** Starts of the intervals that rows in the default partition fall into (any range, past or future). */
  defaultIntervals?: Date[];
}): PartitionPlan {
  const current = intervalStart(input.now, input.interval);
  const ranged = input.children.filter((child) => !child.isDefault && child.from && child.to) as Array<
    ExistingChild & { from: Date; to: Date }
  >;
  const skipped: PartitionPlan['skipped'] = input.children
    .filter((child) => !child.isDefault && (!child.from || !child.to))
    .map((child) => ({ name: child.name, reason: 'bounds are not a FROM/TO range Vigil understands; left alone' }));
  const create: PlannedChild[] = [];
  const fromDefault = new Set((input.defaultIntervals ?? []).map((start) => intervalStart(start, input.interval).getTime()));
  const wanted = new Set<number>(fromDefault);
  for (let offset = 0; offset <= input.premake; offset += 1) wanted.add(addIntervals(current, input.interval, offset).getTime());
  for (const start of [...wanted].sort((a, b) => a - b)) {
    const from = new Date(start);
    const to = addIntervals(from, input.interval, 1);
    const exact = ranged.find((child) => child.from.getTime() === from.getTime() && child.to.getTime() === to.getTime());
    if (exact) continue;
    const overlapping = ranged.filter((child) => child.from < to && child.to > from);
    if (overlapping.length > 0) {
      const covered = overlapping.some((child) => child.from <= from && child.to >= to);
      for (const child of overlapping) {
        if (!skipped.some((entry) => entry.name === child.name)) {
          skipped.push({
            name: child.name,
            reason: `${covered ? 'covers' : 'overlaps'} the planned ${childName(input.parent, from, input.interval)} (${from.toISOString()} - ${to.toISOString()}); never dropped, left alone`,
          });
        }
      }
      continue;
    }
    create.push({
      name: childName(input.parent, from, input.interval),
      from,
      to,
      ...(fromDefault.has(start) ? { moveFromDefault: true } : {}),
    });
  }
  const retire: PlannedChild[] = [];
  if (input.retention !== null) {
    const keepFrom = addIntervals(current, input.interval, -input.retention);
    for (const child of ranged) {
      if (child.managed && child.to <= keepFrom) retire.push({ name: child.name, from: child.from, to: child.to });
    }
  }
  const remaining = [...ranged.filter((child) => !retire.some((gone) => gone.name === child.name)), ...create];
  const nextStart = addIntervals(current, input.interval, 1);
  return {
    create,
    retire: retire.sort((a, b) => a.from.getTime() - b.from.getTime()),
    skipped,
    futureAfterPlan: remaining.filter((child) => child.from >= nextStart).length,
    partitionsAfterPlan: remaining.length,
  };
}
