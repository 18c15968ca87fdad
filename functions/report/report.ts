import { rateEvidence } from '../../lib/evidence';
import { quantileInterval } from '../../lib/stats';
import type { Thresholds } from '../../lib/thresholds';
import { type AlertActivity, alertActivity, type TimelineEvent, timelineOf } from './activity';
import { daysOf } from './period';
import type { BackupObject, Period, RecordedNow, RecordedPeriod } from './recorded';
import { type ScorecardRow, scorecardOf, type Verdict } from './scorecard';
import { type Recommendation, recommendationsOf, withTrends } from './trends';

/** What the charts of the page draw, each series measured (a day without data is left out, never 0). */
export interface ChartData {
  loadByDay: Array<{
    day: string;
    old: { p50: number; low: number | null; high: number | null; n: number } | null;
    new: { p50: number; low: number | null; high: number | null; n: number } | null;
  }>;
  errorByDay: Array<{ day: string; requests: number; errors: number; ratePercent: number; highPercent: number }>;
  errorThresholds: { targetPercent: number; monitorPercent: number; stagedPercent: number; immediatePercent: number };
  cacheWindows: Array<{ at: Date; hitRatioPercent: number; table: string }>;
  cacheTargetPercent: number;
  backups: Array<{ at: Date; sizeBytes: number; complete: boolean; database: string }>;
  /** Age of the newest complete backup, hourly over the period. */
  backupAge: Array<{ at: Date; hours: number }>;
  backupStaleHours: number;
}

export interface Report {
  period: Period;
  previous: Period;
  generatedAt: Date;
  rows: ScorecardRow[];
  /** Row ids whose promise was missed. */
  missed: string[];
  verdicts: Record<Verdict, number>;
  recommendations: Recommendation[];
  alerts: AlertActivity[];
  timeline: TimelineEvent[];
  charts: ChartData;
}

export interface ReportInput {
  recorded: RecordedPeriod;
  previousRecorded: RecordedPeriod;
  now: RecordedNow;
  thresholds: Thresholds;
  backupLocation?: string;
}

function chartsOf({ recorded, now, thresholds }: ReportInput): ChartData {
  const dayOf = (date: Date) => date.toISOString().slice(0, 10);
  const median = (values: number[]) => {
    if (values.length === 0) return null;
    // Two-sided 95 %: each bound one-sided at 97.5 %.
    const interval = quantileInterval(values, 0.5, 97.5);
    return { p50: interval.value as number, low: interval.low, high: interval.high, n: values.length };
  };
  const loadByDay = daysOf(recorded.period).flatMap((day) => {
    const runs = recorded.probe.filter((pair) => dayOf(pair.measuredAt) === day);
    const old = median(runs.flatMap((pair) => pair.oldLoadsMs));
    const fresh = median(runs.flatMap((pair) => pair.newLoadsMs));
    return old || fresh ? [{ day, old, new: fresh }] : [];
  });
  const confidence = thresholds.rollback.evidence.confidencePercent;
  const errorByDay =
    'missing' in recorded.requests
      ? []
      : recorded.requests.byDay
          .filter((day) => day.requests > 0)
          .map((day) => ({
            ...day,
            ratePercent: (day.errors / day.requests) * 100,
            highPercent: rateEvidence(day.errors, day.requests, confidence, 'requests').high as number,
          }));
  const backups = 'missing' in now.backups ? [] : now.backups.filter((backup) => backup.startedAt <= recorded.period.end);
  const complete = backups.filter((backup) => backup.complete).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const backupAge: ChartData['backupAge'] = [];
  for (let at = recorded.period.start.getTime(); at <= recorded.period.end.getTime(); at += 3_600_000) {
    const newest = complete.filter((backup) => backup.startedAt.getTime() <= at).at(-1);
    if (newest) backupAge.push({ at: new Date(at), hours: (at - newest.startedAt.getTime()) / 3_600_000 });
  }
  return {
    loadByDay,
    errorByDay,
    errorThresholds: {
      targetPercent: thresholds.quality.errorRateTargetPercent,
      monitorPercent: thresholds.rollback.monitor.errorRatePercent,
      stagedPercent: thresholds.rollback.staged.errorRatePercent,
      immediatePercent: thresholds.rollback.immediate.errorRatePercent,
    },
    cacheWindows: recorded.cacheWindows
      .filter((record) => record.state === 'ok' && record.lookups && record.hits !== null)
      .map((record) => ({
        at: record.windowEnd,
        hitRatioPercent: ((record.hits as number) / (record.lookups as number)) * 100,
        table: record.cacheTable,
      })),
    cacheTargetPercent: thresholds.cache.targetHitRatioPercent,
    backups: backups
      .filter((backup: BackupObject) => backup.startedAt >= recorded.period.start)
      .map((backup) => ({
        at: backup.startedAt,
        sizeBytes: backup.sizeBytes,
        complete: backup.complete,
        database: backup.database,
      })),
    backupAge,
    backupStaleHours: thresholds.backup.staleAfterHours,
  };
}

/** The whole report of a period: the scorecard with trends, the recommendations, the alerts, the timeline and the charts' data. */
export function buildReport(input: ReportInput, generatedAt = new Date()): Report {
  const previousRows = scorecardOf({ ...input, recorded: input.previousRecorded });
  const rows = withTrends(scorecardOf(input), previousRows);
  const verdicts: Record<Verdict, number> = { met: 0, missed: 0, not_shown: 0, no_data: 0, not_measured: 0 };
  for (const row of rows) verdicts[row.verdict] += 1;
  return {
    period: input.recorded.period,
    previous: input.previousRecorded.period,
    generatedAt,
    rows,
    missed: rows.filter((row) => row.verdict === 'missed').map((row) => row.id),
    verdicts,
    recommendations: recommendationsOf(rows, input.thresholds),
    alerts: alertActivity(input.recorded),
    timeline: timelineOf(input.recorded),
    charts: chartsOf(input),
  };
}
