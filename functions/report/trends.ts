import type { Thresholds } from '../../lib/thresholds';
import type { ScorecardRow } from './scorecard';
import { countWords, withUnit } from './words';

/*
 * Each row against the same row of the previous period, in plain words, and the recommendations
 * the source documents' rules make: only where a rule fires, each naming its rule.
 */

/** The change alone: "down from 93.0 %", "unchanged from the previous period". */
export function changeWords(row: ScorecardRow, previous: ScorecardRow | undefined): string | undefined {
  if (row.measuredOver !== 'period' || row.value === null) return undefined;
  if (!previous || previous.value === null) return 'the previous period has no figure to compare';
  const rounded = (value: number) => withUnit(value, row.unit);
  if (rounded(row.value) === rounded(previous.value)) return 'unchanged from the previous period';
  return `${row.value > previous.value ? 'up' : 'down'} from ${previous.display ?? rounded(previous.value)}`;
}

/** "91.2 % (n = 96 windows), down from 93.0 %" */
export function trendWords(row: ScorecardRow, previous: ScorecardRow | undefined): string | undefined {
  const change = changeWords(row, previous);
  if (change === undefined || row.value === null) return undefined;
  const now = `${row.display ?? withUnit(row.value, row.unit)}${row.n !== null && row.counted ? ` (n = ${countWords(row.n, row.counted)})` : ''}`;
  return `${now}${change.startsWith('the previous') ? ';' : ','} ${change}`;
}

/** Sets each row's trend from the previous period's scorecard. */
export function withTrends(rows: ScorecardRow[], previous: ScorecardRow[]): ScorecardRow[] {
  const before = new Map(previous.map((row) => [row.id, row]));
  return rows.map((row) => {
    const trend = trendWords(row, before.get(row.id));
    const change = changeWords(row, before.get(row.id));
    return trend && change ? { ...row, trend, change } : row;
  });
}

export interface Recommendation {
  /** The rule as the source states it. */
  rule: string;
  source: string;
  /** What to do, in the rule's words, with the figure that fired it. */
  advice: string;
  rowId: string;
}

/** The recommendations whose rules fire on this scorecard; none when none does. */
export function recommendationsOf(rows: ScorecardRow[], thresholds: Thresholds): Recommendation[] {
  const recommendations: Recommendation[] = [];
  for (const row of rows) {
    if (row.value === null) continue;
    if (row.id.startsWith('backup-age') && row.value > thresholds.backup.staleAfterHours) {
      recommendations.push({
        rule: `backup older than ${thresholds.backup.staleAfterHours} h`,
        source: 'the overhaul guide, weekly recommendations',
        advice: `Backup is stale (${withUnit(row.value, 'h')} old): schedule an immediate backup.`,
        rowId: row.id,
      });
    }
    if (row.id === 'large-cache-entries' && row.value > thresholds.cache.largeEntriesReviewAbove) {
      recommendations.push({
        rule: `more than ${thresholds.cache.largeEntriesReviewAbove} cache entries over ${thresholds.cache.weeklyLargeEntryKb} KB`,
        source: 'the overhaul guide, weekly recommendations',
        advice: `${row.value} large cache entries: review payload optimization.`,
        rowId: row.id,
      });
    }
    if (row.id.startsWith('partitions:')) {
      const table = row.id.slice('partitions:'.length);
      if ((row.n ?? 0) > thresholds.partitions.maxPerTable) {
        recommendations.push({
          rule: `more than ${thresholds.partitions.maxPerTable} partitions in a table`,
          source: 'the analytics deliverable, alert rules (partition cleanup needed)',
          advice: `Partition cleanup needed on ${table} (${row.n} partitions): check its retention.`,
          rowId: row.id,
        });
      }
      if (row.value < thresholds.partitions.minFutureMonths) {
        recommendations.push({
          rule: `fewer than ${thresholds.partitions.minFutureMonths} partition ahead of the current month`,
          source: 'the analytics deliverable, partition creation (partitions made ahead of their month)',
          advice: `Create next month's partition of ${table} before inserts reach it: run the partition maintenance.`,
          rowId: row.id,
        });
      }
    }
  }
  return recommendations;
}
