/*
 * What the report reads, as plain data: the rows the other functions stored over a period (probe
 * runs, cache windows, decisions, alert notifications), the app's own logs counted over it, and
 * what is there now (backups in the bucket, partitions, large cache entries). The scorecard is a
 * function of this alone, so a recorded week can be replayed in a test.
 */

export type PeriodKind = 'day' | 'week';

export interface Period {
  kind: PeriodKind;
  start: Date;
  end: Date;
}

/** One probe run that compared the old page with the new: both pages' successful loads, in ms. */
export interface ProbeRunPair {
  runId: string;
  measuredAt: Date;
  oldScenario: string;
  newScenario: string;
  callsOld: number;
  callsNew: number;
  oldLoadsMs: number[];
  newLoadsMs: number[];
  /** Loads attempted, successful or not. */
  oldSamples: number;
  newSamples: number;
}

/** A window the cache function measured (its primary source), or no_data with why. */
export interface CacheWindowRecord {
  cacheTable: string;
  windowStart: Date | null;
  windowEnd: Date;
  state: 'ok' | 'no_data';
  reason: string | null;
  lookups: number | null;
  hits: number | null;
}

/** The app's request log over the period, without the probe's own requests where the log can tell. */
export type RequestCounts =
  | {
      table: string;
      requests: number;
      errors: number;
      /** Whether the probe's requests could be left out (the log records the User-Agent). */
      probeLeftOut: boolean;
      meanResponseMs: number | null;
      sdResponseMs: number | null;
      byDay: Array<{ day: string; requests: number; errors: number }>;
    }
  | { table: string; missing: string };

export type QueryTimes =
  | { table: string; queries: number; meanMs: number | null; sdMs: number | null }
  | { table: string; missing: string };

export interface DecisionRecord {
  decidedAt: Date;
  trigger: 'schedule' | 'http' | 'cli';
  action: string;
  effectiveAction: string | null;
}

export interface NotificationRecord {
  key: string;
  kind: string;
  severity: string;
  sentAt: Date;
  title: string;
}

export interface AlertStateRecord {
  key: string;
  status: 'firing' | 'resolved';
  incidentStartedAt: Date;
  resolvedAt: Date | null;
  title: string;
}

/** A dump in the backup bucket: complete when its manifest (written last, after the checks) is beside it. */
export interface BackupObject {
  database: string;
  key: string;
  startedAt: Date;
  sizeBytes: number;
  complete: boolean;
}

export interface PartitionedTable {
  table: string;
  partitions: number;
  /** Monthly partitions (named <table>_YYYY_MM) of months after the current one. */
  futureMonths: number;
}

export interface RecordedPeriod {
  period: Period;
  probe: ProbeRunPair[];
  cacheWindows: CacheWindowRecord[];
  requests: RequestCounts;
  queries: QueryTimes;
  decisions: DecisionRecord[];
  notifications: NotificationRecord[];
  /** Alert keys that changed in the period or were firing at its end. */
  alertStates: AlertStateRecord[];
}

/** What is there when the report is made: read once, not per period. */
export interface RecordedNow {
  at: Date;
  backups: BackupObject[] | { missing: string };
  partitions: PartitionedTable[];
  largeCacheEntries: { table: string; count: number; overKb: number } | { table: string; missing: string };
}
