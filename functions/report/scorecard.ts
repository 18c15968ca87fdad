import { type Evidence, meanEvidence, rateEvidence, samplesToDecide } from '../../lib/evidence';
import { percentile, quantileInterval, reductionPercent, shiftEstimateOfMany } from '../../lib/stats';
import type { Thresholds } from '../../lib/thresholds';
import { atWords, periodWords } from './period';
import type { BackupObject, ProbeRunPair, RecordedNow, RecordedPeriod } from './recorded';
import { formatNumber, plural, withUnit } from './words';

/*
 * The rollout scorecard: one row per promise the source documents make, each measured over the
 * period with its n, its window, its bounds where it has them, the target and a verdict. A promise
 * is met or missed only when the bounds are past the target (as the rollback matrix judges); when
 * they straddle it the row is "not shown yet" and says how many more samples would decide, if what
 * was seen held. A promise Vigil cannot measure says so; nothing is ever filled in.
 */

export type Verdict = 'met' | 'missed' | 'not_shown' | 'no_data' | 'not_measured';

export interface Target {
  operator: '>=' | '<=';
  value: number;
}

export interface ScorecardRow {
  id: string;
  /** The promise in plain words. */
  promise: string;
  /** Where the promise is made. */
  source: string;
  value: number | null;
  unit: string;
  /** The figure as printed, when one number does not say it (backups kept per tier). */
  display?: string;
  n: number | null;
  counted: string | null;
  window: string;
  interval: { low: number | null; high: number | null; confidencePercent: number; method: string } | null;
  target: Target | null;
  verdict: Verdict;
  /** Why the verdict: the figures it stands on, what was missing, or what n would decide. */
  why: string;
  /** Measured over the period (a trend compares it with the previous one), or at the report's time. */
  measuredOver: 'period' | 'now';
  /** The row against the previous period, in words ("91.2 % (n = 96 windows), down from 93.0 %"); set by withTrends(). */
  trend?: string;
  /** The change alone ("down from 93.0 %"). */
  change?: string;
}

const targetWords = (target: Target, unit: string) =>
  `${target.operator === '>=' ? 'at least' : 'at most'} ${withUnit(target.value, unit)}`;

const satisfies = (value: number, target: Target) => (target.operator === '>=' ? value >= target.value : value <= target.value);

/**
 * Met, missed or not shown yet, from the one-sided bounds: met when the bound on the wrong side is
 * still on the right side of the target, missed when the bound on the right side is past it.
 */
function judge(
  value: number,
  evidence: Evidence,
  target: Target,
  unit: string,
  counted: string,
): { verdict: Verdict; why: string } {
  const { low, high } = evidence;
  const worst = target.operator === '>=' ? low : high;
  const best = target.operator === '>=' ? high : low;
  const bounds = `${evidence.confidencePercent} % bounds ${low === null ? 'none' : withUnit(low, unit)} to ${high === null ? 'none' : withUnit(high, unit)}`;
  if (worst !== null && satisfies(worst, target)) return { verdict: 'met', why: `${bounds} (${evidence.method})` };
  if (best !== null && !satisfies(best, target)) return { verdict: 'missed', why: `${bounds} (${evidence.method})` };
  const needed = samplesToDecide(evidence, value, target.value);
  return {
    verdict: 'not_shown',
    why:
      needed === null
        ? `${bounds} hold the target; the estimate sits on it, so more data alone will not decide`
        : `${bounds} hold the target; about ${plural(needed, counted.replace(/s$/, ''), counted)} would decide it if what was seen holds`,
  };
}

function censusJudge(value: number, target: Target): Verdict {
  return satisfies(value, target) ? 'met' : 'missed';
}

/** The fewest samples for which a one-sided order-statistic bound of the q-quantile exists at this confidence. */
function fewestForQuantileBound(q: number, confidencePercent: number): number {
  const confidence = confidencePercent / 100;
  let n = 1;
  while (1 - Math.max(q, 1 - q) ** n < confidence) n += 1;
  return n;
}

type RowBase = Pick<ScorecardRow, 'id' | 'promise' | 'source' | 'unit' | 'window' | 'target' | 'measuredOver'>;

const noData = (base: RowBase, why: string, extra: Partial<ScorecardRow> = {}): ScorecardRow => ({
  ...base,
  value: null,
  n: null,
  counted: null,
  interval: null,
  verdict: 'no_data',
  why,
  ...extra,
});

const notMeasured = (id: string, promise: string, source: string, why: string): ScorecardRow => ({
  id,
  promise,
  source,
  unit: '',
  window: '-',
  target: null,
  measuredOver: 'now',
  value: null,
  n: null,
  counted: null,
  interval: null,
  verdict: 'not_measured',
  why,
});

export interface ScorecardInput {
  recorded: RecordedPeriod;
  now: RecordedNow;
  thresholds: Thresholds;
  /** Where the backups were listed, for the reasons (s3://bucket/prefix). */
  backupLocation?: string;
}

/** The four load-time promises: the median and p95 reductions, the new page's p95, the calls. */
function loadTimeBases(window: string, thresholds: Thresholds) {
  const source = 'the overhaul guide, Success Metrics Tracking';
  const p50: RowBase = {
    id: 'load-reduction-p50',
    promise: 'Dashboard load time 80 % shorter than the old page (median)',
    source,
    unit: '%',
    window,
    target: { operator: '>=', value: thresholds.dashboard.targetLoadReductionPercent },
    measuredOver: 'period',
  };
  const p95: RowBase = { ...p50, id: 'load-reduction-p95', promise: 'Dashboard load time 80 % shorter than the old page (p95)' };
  const load: RowBase = {
    id: 'dashboard-load-p95',
    promise: 'The new dashboard loads within 1.0 s (p95)',
    source: 'the overhaul guide, Post-Deployment Validation',
    unit: 'ms',
    window,
    target: { operator: '<=', value: thresholds.dashboard.targetLoadMs },
    measuredOver: 'period',
  };
  const calls: RowBase = {
    id: 'api-calls',
    promise: 'API calls per dashboard load cut by 87.5 % (8 calls to 1)',
    source,
    unit: '%',
    window,
    target: { operator: '>=', value: thresholds.dashboard.targetApiCallReductionPercent },
    measuredOver: 'period',
  };
  return { p50, p95, load, calls };
}

const loadsCounted = 'loads of each page';

function callsRow(base: RowBase, pairs: readonly ProbeRunPair[], latest: ProbeRunPair): ScorecardRow {
  const callsReduction = reductionPercent(latest.callsNew, latest.callsOld) as number;
  return {
    ...base,
    value: callsReduction,
    display: `${withUnit(callsReduction, '%')} (${latest.callsOld} calls to ${latest.callsNew})`,
    n: pairs.length,
    counted: 'probe runs',
    interval: null,
    verdict: censusJudge(callsReduction, base.target as Target),
    why: `the old page makes ${plural(latest.callsOld, 'call')} and the new page ${plural(latest.callsNew, 'call')}, as the probe loads them`,
  };
}

/**
 * The median: 1 - new/old as the probe reports it, bounded by the probe's own Hodges-Lehmann
 * interval of the shift new - old, as a share of the old page's median.
 */
function medianReductionRow(base: RowBase, oldLoads: number[], newLoads: number[], pages: string): ScorecardRow {
  const n = Math.min(oldLoads.length, newLoads.length);
  const oldP50 = percentile(oldLoads, 50).value as number;
  const newP50 = percentile(newLoads, 50).value as number;
  const p50 = reductionPercent(newP50, oldP50) as number;
  const shift = shiftEstimateOfMany(oldLoads, newLoads);
  const asReduction = (ms: number | null) => (ms === null ? null : (-ms / oldP50) * 100);
  const low = asReduction(shift.high);
  const high = asReduction(shift.low);
  const evidence: Evidence = {
    kind: 'shift',
    method: "Hodges-Lehmann interval of the shift new - old, the probe's own, as a share of the old page's median",
    n,
    counted: loadsCounted,
    confidencePercent: 97.5,
    low,
    high,
    ...(low !== null && high !== null ? { spread: (high - low) / 2 } : {}),
  };
  const judged = judge(p50, evidence, base.target as Target, '%', loadsCounted);
  return {
    ...base,
    value: p50,
    n,
    counted: loadsCounted,
    interval: { low, high, confidencePercent: 97.5, method: evidence.method },
    verdict: judged.verdict,
    why: `median ${formatNumber(newP50)} ms new against ${formatNumber(oldP50)} ms old (${pages}); ${judged.why}`,
  };
}

/** The p95: each page's p95 bounded by its order statistics, the reduction by the far ends of both. */
function p95ReductionRow(base: RowBase, oldLoads: number[], newLoads: number[]): ScorecardRow {
  const n = Math.min(oldLoads.length, newLoads.length);
  const oldP95 = quantileInterval(oldLoads, 0.95, 97.5);
  const newP95 = quantileInterval(newLoads, 0.95, 97.5);
  if (oldP95.value === null || newP95.value === null) {
    return noData(base, `a p95 needs at least 20 loads of each page; ${plural(n, 'load')} of the fewer`);
  }
  const p95 = reductionPercent(newP95.value, oldP95.value) as number;
  const low = newP95.high !== null && oldP95.low !== null ? (1 - newP95.high / oldP95.low) * 100 : null;
  const high = newP95.low !== null && oldP95.high !== null ? (1 - newP95.low / oldP95.high) * 100 : null;
  const method = "order-statistic bounds of each page's p95 (distribution-free), combined at their far ends";
  const evidence: Evidence = {
    kind: 'shift',
    method,
    n,
    counted: loadsCounted,
    confidencePercent: 95,
    low,
    high,
    ...(low !== null && high !== null ? { spread: (high - low) / 2 } : {}),
  };
  const judged =
    low === null || high === null
      ? {
          verdict: 'not_shown' as const,
          why: `the p95's bounds need at least ${fewestForQuantileBound(0.95, 97.5)} loads of each page`,
        }
      : judge(p95, evidence, base.target as Target, '%', loadsCounted);
  return {
    ...base,
    value: p95,
    n,
    counted: loadsCounted,
    interval: { low, high, confidencePercent: 95, method },
    verdict: judged.verdict,
    why: `p95 ${formatNumber(newP95.value)} ms new against ${formatNumber(oldP95.value)} ms old; ${judged.why}`,
  };
}

/** The new page's own p95 against the load-time target, bounded by its order statistics. */
function newPageLoadRow(
  base: RowBase,
  newLoads: number[],
  confidence: number,
  pairs: readonly ProbeRunPair[],
  latest: ProbeRunPair,
): ScorecardRow {
  const newBound = quantileInterval(newLoads, 0.95, confidence);
  if (newBound.value === null) {
    return noData(base, `a p95 needs at least 20 loads; ${plural(newLoads.length, 'load')} of the new page`);
  }
  const method = 'order-statistic bound of the p95 (distribution-free)';
  const evidence: Evidence = {
    kind: 'median',
    method,
    n: newLoads.length,
    counted: 'loads',
    confidencePercent: confidence,
    low: newBound.low,
    high: newBound.high,
    ...(newBound.low !== null && newBound.high !== null ? { spread: (newBound.high - newBound.low) / 2 } : {}),
  };
  const judged =
    newBound.low === null || newBound.high === null
      ? {
          verdict: 'not_shown' as const,
          why: `the p95's bounds need at least ${fewestForQuantileBound(0.95, confidence)} loads`,
        }
      : judge(newBound.value, evidence, base.target as Target, 'ms', 'loads');
  return {
    ...base,
    value: newBound.value,
    n: newLoads.length,
    counted: 'loads',
    interval: { low: newBound.low, high: newBound.high, confidencePercent: confidence, method },
    verdict: judged.verdict,
    why: `${latest.newScenario}, ${plural(newLoads.length, 'successful load')} of ${plural(
      pairs.reduce((sum, pair) => sum + pair.newSamples, 0),
      'attempt',
    )}; ${judged.why}`,
  };
}

function loadTimeRows({ recorded, thresholds }: ScorecardInput): ScorecardRow[] {
  const bases = loadTimeBases(periodWords(recorded.period), thresholds);
  const pairs = recorded.probe;
  if (pairs.length === 0) {
    const why =
      'no probe run compared the old page with the new in the period (the probe needs a page of role old and one of role new)';
    return [noData(bases.p50, why), noData(bases.p95, why), noData(bases.load, why), noData(bases.calls, why)];
  }
  const oldLoads = pairs.flatMap((pair) => pair.oldLoadsMs);
  const newLoads = pairs.flatMap((pair) => pair.newLoadsMs);
  const latest = pairs.reduce((a, b) => (a.measuredAt > b.measuredAt ? a : b));
  const pages = `${latest.oldScenario} (old) and ${latest.newScenario} (new), ${plural(pairs.length, 'probe run')}`;
  const calls = callsRow(bases.calls, pairs, latest);
  if (oldLoads.length === 0 || newLoads.length === 0) {
    const why = `no successful load of the ${oldLoads.length === 0 ? 'old' : 'new'} page in ${plural(pairs.length, 'probe run')}`;
    return [noData(bases.p50, why), noData(bases.p95, why), ...(newLoads.length === 0 ? [noData(bases.load, why)] : []), calls];
  }
  return [
    medianReductionRow(bases.p50, oldLoads, newLoads, pages),
    p95ReductionRow(bases.p95, oldLoads, newLoads),
    newPageLoadRow(bases.load, newLoads, thresholds.rollback.evidence.confidencePercent, pairs, latest),
    calls,
  ];
}

function cacheRows({ recorded, thresholds }: ScorecardInput): ScorecardRow[] {
  const window = periodWords(recorded.period);
  const confidence = thresholds.rollback.evidence.confidencePercent;
  const tables = [...new Set(recorded.cacheWindows.map((record) => record.cacheTable))].sort();
  const base = (table?: string): RowBase => ({
    id: table ? `cache-hit-ratio:${table}` : 'cache-hit-ratio',
    promise: `Cache hit ratio at least 85 %${table ? ` (${table})` : ''}`,
    source: 'the overhaul guide, Success Metrics Tracking',
    unit: '%',
    window,
    target: { operator: '>=', value: thresholds.cache.targetHitRatioPercent },
    measuredOver: 'period',
  });
  if (tables.length === 0) return [noData(base(), 'the cache function measured no window in the period')];
  return tables.map((table) => {
    const windows = recorded.cacheWindows.filter((record) => record.cacheTable === table);
    const measured = windows.filter((record) => record.state === 'ok' && record.lookups && record.hits !== null);
    const unmeasured = windows.filter((record) => record.state !== 'ok');
    const reasons = new Map<string, number>();
    for (const record of unmeasured) {
      const reason = (record.reason ?? 'no reason recorded').replace(/\d[\d.,]*/g, 'N');
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const commonest = [...reasons.entries()].sort((a, b) => b[1] - a[1])[0];
    const without = unmeasured.length ? `; ${plural(unmeasured.length, 'window')} without data (most: ${commonest?.[0]})` : '';
    if (measured.length === 0) return noData(base(table), `none of ${plural(windows.length, 'window')} had data${without}`);
    const hits = measured.reduce((sum, record) => sum + (record.hits as number), 0);
    const lookups = measured.reduce((sum, record) => sum + (record.lookups as number), 0);
    const value = (hits / lookups) * 100;
    const evidence = rateEvidence(hits, lookups, confidence, 'lookups');
    const judged = judge(value, evidence, base(table).target as Target, '%', 'lookups');
    return {
      ...base(table),
      value,
      n: measured.length,
      counted: 'windows',
      interval: { low: evidence.low, high: evidence.high, confidencePercent: confidence, method: evidence.method },
      verdict: judged.verdict,
      why: `${plural(hits, 'hit')} of ${plural(lookups, 'lookup')} in ${plural(measured.length, 'window')}${without}; ${judged.why}`,
    };
  });
}

function requestRows({ recorded, thresholds }: ScorecardInput): ScorecardRow[] {
  const window = periodWords(recorded.period);
  const confidence = thresholds.rollback.evidence.confidencePercent;
  const requests = recorded.requests;
  const errorBase: RowBase = {
    id: 'error-rate',
    promise: 'Error rate at most 0.1 % of requests',
    source: 'the overhaul guide, Success Metrics Tracking',
    unit: '%',
    window,
    target: { operator: '<=', value: thresholds.quality.errorRateTargetPercent },
    measuredOver: 'period',
  };
  const responseBase: RowBase = {
    id: 'api-response-time',
    promise: 'API response time within 625 ms on average (the top of its acceptable range)',
    source: 'the maintenance-window guide, Performance Validation Criteria',
    unit: 'ms',
    window,
    target: { operator: '<=', value: thresholds.quality.apiResponseMaxMs },
    measuredOver: 'period',
  };
  if ('missing' in requests) return [noData(errorBase, requests.missing), noData(responseBase, requests.missing)];
  const whose = requests.probeLeftOut
    ? `${requests.table}, without the probe's own requests`
    : `${requests.table}, which records no User-Agent: the probe's own requests are counted in`;
  if (requests.requests === 0) {
    const why = `no requests in ${requests.table} in the period: an error rate of 0 % would be a guess`;
    return [noData(errorBase, why), noData(responseBase, why)];
  }
  const errorRate = (requests.errors / requests.requests) * 100;
  const errorEvidence = rateEvidence(requests.errors, requests.requests, confidence, 'requests');
  const errorJudged = judge(errorRate, errorEvidence, errorBase.target as Target, '%', 'requests');
  const rows: ScorecardRow[] = [
    {
      ...errorBase,
      value: errorRate,
      n: requests.requests,
      counted: 'requests',
      interval: { low: errorEvidence.low, high: errorEvidence.high, confidencePercent: confidence, method: errorEvidence.method },
      verdict: errorJudged.verdict,
      why: `${plural(requests.errors, 'server error')} (5xx) in ${plural(requests.requests, 'request')} of ${whose}; ${errorJudged.why}`,
    },
  ];
  if (requests.meanResponseMs === null) rows.push(noData(responseBase, `no response time recorded in ${requests.table}`));
  else {
    const evidence = meanEvidence(requests.meanResponseMs, requests.sdResponseMs, requests.requests, confidence, 'requests');
    const judged = judge(requests.meanResponseMs, evidence, responseBase.target as Target, 'ms', 'requests');
    rows.push({
      ...responseBase,
      value: requests.meanResponseMs,
      n: requests.requests,
      counted: 'requests',
      interval: { low: evidence.low, high: evidence.high, confidencePercent: confidence, method: evidence.method },
      verdict: judged.verdict,
      why: `mean of ${plural(requests.requests, 'request')} of ${whose}; ${judged.why}`,
    });
  }
  return rows;
}

function queryRow({ recorded, thresholds }: ScorecardInput): ScorecardRow {
  const base: RowBase = {
    id: 'query-time',
    promise: 'Database query time within 125 ms on average (the top of its acceptable range)',
    source: 'the maintenance-window guide, Performance Validation Criteria',
    unit: 'ms',
    window: periodWords(recorded.period),
    target: { operator: '<=', value: thresholds.quality.queryTimeMaxMs },
    measuredOver: 'period',
  };
  const queries = recorded.queries;
  if ('missing' in queries) return noData(base, queries.missing);
  if (queries.queries === 0 || queries.meanMs === null) return noData(base, `no query logged in ${queries.table} in the period`);
  const confidence = thresholds.rollback.evidence.confidencePercent;
  const evidence = meanEvidence(queries.meanMs, queries.sdMs, queries.queries, confidence, 'queries');
  const judged = judge(queries.meanMs, evidence, base.target as Target, 'ms', 'queries');
  return {
    ...base,
    value: queries.meanMs,
    n: queries.queries,
    counted: 'queries',
    interval: { low: evidence.low, high: evidence.high, confidencePercent: confidence, method: evidence.method },
    verdict: judged.verdict,
    why: `mean of ${plural(queries.queries, 'query', 'queries')} logged in ${queries.table}; ${judged.why}`,
  };
}

const rollbackActions = new Set(['staged_rollback', 'immediate_rollback']);
const actionWords: Record<string, string> = {
  continue_deployment: 'continue',
  monitor_and_optimize: 'monitor and optimise',
  staged_rollback: 'staged rollback',
  immediate_rollback: 'immediate rollback',
};
export const decisionWords = (action: string) => actionWords[action] ?? action.replace(/_/g, ' ');

function decisionRow({ recorded }: ScorecardInput): ScorecardRow {
  const base: RowBase = {
    id: 'decisions',
    promise: 'The scheduled rollback decisions advise going on: no rollback advised',
    source: 'the overhaul guide, Rollback Decision Matrix; the maintenance-window guide, Day 6 go/no-go decision',
    unit: 'advised',
    window: periodWords(recorded.period),
    target: { operator: '<=', value: 0 },
    measuredOver: 'period',
  };
  const scheduled = recorded.decisions.filter((decision) => decision.trigger === 'schedule');
  const asked = recorded.decisions.length - scheduled.length;
  const askedWords = asked ? `; ${plural(asked, 'decision')} asked over HTTP or the command line, not counted` : '';
  if (scheduled.length === 0)
    return noData(base, `no scheduled decision in the period (is the rollback schedule on?)${askedWords}`);
  const byAction = new Map<string, number>();
  for (const decision of scheduled) {
    const action = decision.effectiveAction ?? decision.action;
    byAction.set(action, (byAction.get(action) ?? 0) + 1);
  }
  const advised = scheduled.filter((decision) => rollbackActions.has(decision.effectiveAction ?? '')).length;
  const counts = [...byAction.entries()].map(([action, count]) => `${decisionWords(action)} ${count}`).join(', ');
  return {
    ...base,
    value: advised,
    display: `${plural(advised, 'rollback')} advised`,
    n: scheduled.length,
    counted: 'scheduled decisions',
    interval: null,
    verdict: censusJudge(advised, base.target as Target),
    why: `${plural(scheduled.length, 'scheduled decision')}: ${counts}${askedWords}`,
  };
}

const dayMs = 86_400_000;
const isoWeekOf = (at: Date) => {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  day.setUTCDate(day.getUTCDate() + 4 - (day.getUTCDay() || 7));
  const week = Math.ceil(((day.getTime() - Date.UTC(day.getUTCFullYear(), 0, 1)) / dayMs + 1) / 7);
  return `${day.getUTCFullYear()}-W${week}`;
};

/** Backups the GFS tiers keep (newest of each of the newest N days, ISO weeks, months), as the analytics deliverable keeps them. */
export function keptPerTier(complete: BackupObject[], keep: { daily: number; weekly: number; monthly: number }) {
  const count = (periodOf: (at: Date) => string, limit: number) =>
    Math.min(limit, new Set(complete.map((backup) => periodOf(backup.startedAt))).size);
  return {
    daily: count((at) => at.toISOString().slice(0, 10), keep.daily),
    weekly: count(isoWeekOf, keep.weekly),
    monthly: count((at) => at.toISOString().slice(0, 7), keep.monthly),
  };
}

type Keep = { daily: number; weekly: number; monthly: number };

const backupAgeBase = (end: Date, thresholds: Thresholds, database?: string): RowBase => ({
  id: database ? `backup-age:${database}` : 'backup-age',
  promise: `The newest backup is under 48 h old${database ? ` (${database})` : ''}`,
  source: 'the overhaul guide, weekly checklist (backup validation)',
  unit: 'h',
  window: atWords(end),
  target: { operator: '<=', value: thresholds.backup.staleAfterHours },
  measuredOver: 'period',
});

/** The age of a database's newest complete backup at the end of the period. */
function backupAgeRow(database: string, complete: BackupObject[], end: Date, thresholds: Thresholds): ScorecardRow {
  const base = backupAgeBase(end, thresholds, database);
  const newest = complete.reduce<BackupObject | undefined>((a, b) => (a && a.startedAt > b.startedAt ? a : b), undefined);
  if (!newest) return noData(base, `no complete backup of ${database} before ${atWords(end).slice(3)}`);
  const ageHours = (end.getTime() - newest.startedAt.getTime()) / 3_600_000;
  return {
    ...base,
    value: ageHours,
    n: complete.length,
    counted: 'complete backups',
    interval: null,
    verdict: censusJudge(ageHours, base.target as Target),
    why: `newest complete backup ${newest.key}, started ${newest.startedAt.toISOString().slice(0, 16)}Z`,
  };
}

/** The share of the period's backups that are complete (manifest beside the dump). */
function backupCompleteRow(database: string, inPeriod: BackupObject[], period: RecordedPeriod['period']): ScorecardRow {
  const base: RowBase = {
    id: `backup-complete:${database}`,
    promise: `Every backup of the period is complete and checked (${database})`,
    source: 'the overhaul guide, weekly checklist (backup validation); the operations guide, backups',
    unit: '%',
    window: periodWords(period),
    target: { operator: '>=', value: 100 },
    measuredOver: 'period',
  };
  if (inPeriod.length === 0) return noData(base, 'no backup was started in the period');
  const done = inPeriod.filter((backup) => backup.complete).length;
  const share = (done / inPeriod.length) * 100;
  return {
    ...base,
    value: share,
    display: `${done} of ${inPeriod.length}`,
    n: inPeriod.length,
    counted: 'backups',
    interval: null,
    verdict: censusJudge(share, base.target as Target),
    why: `a backup is complete when its manifest, written after the checksum and pg_restore --list checks, is beside it; ${
      inPeriod.length - done
    } without one`,
  };
}

/** The GFS tiers kept against the policy; a tier short only because the history is young is not shown yet. */
function backupRetentionRow(database: string, complete: BackupObject[], end: Date, keep: Keep): ScorecardRow {
  const kept = keptPerTier(complete, keep);
  const oldest = complete.reduce<BackupObject | undefined>((a, b) => (a && a.startedAt < b.startedAt ? a : b), undefined);
  const historyDays = oldest ? (end.getTime() - oldest.startedAt.getTime()) / dayMs : 0;
  // The history a full tier needs: N days, weeks or months, the newest one partly.
  const tiers = [
    { name: 'daily', kept: kept.daily, of: keep.daily, needsDays: keep.daily - 1 },
    { name: 'weekly', kept: kept.weekly, of: keep.weekly, needsDays: (keep.weekly - 1) * 7 },
    { name: 'monthly', kept: kept.monthly, of: keep.monthly, needsDays: (keep.monthly - 1) * 31 },
  ];
  const short = tiers.filter((tier) => tier.kept < tier.of);
  const tooYoung = short.filter((tier) => historyDays < tier.needsDays);
  return {
    id: `backup-retention:${database}`,
    promise: `Backups kept ${keep.daily} daily, ${keep.weekly} weekly, ${keep.monthly} monthly (${database})`,
    source: 'the analytics deliverable, backup retention',
    unit: 'backups',
    window: atWords(end),
    target: null,
    measuredOver: 'period',
    value: kept.daily + kept.weekly + kept.monthly,
    display: `${kept.daily} / ${kept.weekly} / ${kept.monthly}`,
    n: complete.length,
    counted: 'complete backups',
    interval: null,
    verdict: short.length === 0 ? 'met' : short.length > tooYoung.length ? 'missed' : 'not_shown',
    why: `daily ${kept.daily} of ${keep.daily}, weekly ${kept.weekly} of ${keep.weekly}, monthly ${kept.monthly} of ${keep.monthly}; the history holds ${formatNumber(
      Math.floor(historyDays * 10) / 10,
    )} days${
      tooYoung.length
        ? ` (too short yet for the ${tooYoung.map((tier) => `${tier.name} tier, which needs ${tier.needsDays} days`).join(' and the ')})`
        : ''
    }`,
  };
}

function backupRows({ recorded, now, thresholds, backupLocation }: ScorecardInput): ScorecardRow[] {
  const end = recorded.period.end;
  if ('missing' in now.backups) return [noData(backupAgeBase(end, thresholds), now.backups.missing)];
  const backups = now.backups;
  const databases = [...new Set(backups.map((backup) => backup.database))].sort();
  if (databases.length === 0) return [noData(backupAgeBase(end, thresholds), `no backup in ${backupLocation ?? 'the bucket'}`)];
  const keep: Keep = {
    daily: thresholds.backup.keepDaily,
    weekly: thresholds.backup.keepWeekly,
    monthly: thresholds.backup.keepMonthly,
  };
  return databases.flatMap((database) => {
    const all = backups.filter((backup) => backup.database === database && backup.startedAt <= end);
    const complete = all.filter((backup) => backup.complete);
    const inPeriod = all.filter((backup) => backup.startedAt >= recorded.period.start);
    return [
      backupAgeRow(database, complete, end, thresholds),
      backupCompleteRow(database, inPeriod, recorded.period),
      backupRetentionRow(database, complete, end, keep),
    ];
  });
}

function partitionRows({ now, thresholds }: ScorecardInput): ScorecardRow[] {
  const base = (table?: string): RowBase => ({
    id: table ? `partitions:${table}` : 'partitions',
    promise: `Monthly partitions ready ahead of the clock, and no more than ${thresholds.partitions.maxPerTable} kept${table ? ` (${table})` : ''}`,
    source: 'the analytics deliverable, partition creation and cleanup',
    unit: 'months ahead',
    window: atWords(now.at),
    target: { operator: '>=', value: thresholds.partitions.minFutureMonths },
    measuredOver: 'now',
  });
  if (now.partitions.length === 0) return [noData(base(), 'no monthly-partitioned table in the database')];
  return now.partitions.map((table) => {
    const tooMany = table.partitions > thresholds.partitions.maxPerTable;
    const ahead = table.futureMonths >= thresholds.partitions.minFutureMonths;
    return {
      ...base(table.table),
      value: table.futureMonths,
      display: `${plural(table.futureMonths, 'month')} ahead, ${plural(table.partitions, 'partition')}`,
      n: table.partitions,
      counted: 'partitions',
      interval: null,
      verdict: ahead && !tooMany ? 'met' : 'missed',
      why: `${plural(table.futureMonths, 'partition')} for months after this one (at least ${thresholds.partitions.minFutureMonths}); ${plural(
        table.partitions,
        'partition',
      )} in all (at most ${thresholds.partitions.maxPerTable})`,
    };
  });
}

function largeEntriesRow({ now, thresholds }: ScorecardInput): ScorecardRow {
  const entries = now.largeCacheEntries;
  const base: RowBase = {
    id: 'large-cache-entries',
    promise: `At most ${thresholds.cache.largeEntriesReviewAbove} cache entries over ${thresholds.cache.weeklyLargeEntryKb} KB`,
    source: 'the overhaul guide, weekly checklist (capacity planning)',
    unit: 'entries',
    window: atWords(now.at),
    target: { operator: '<=', value: thresholds.cache.largeEntriesReviewAbove },
    measuredOver: 'now',
  };
  if ('missing' in entries) return noData(base, entries.missing);
  return {
    ...base,
    value: entries.count,
    n: null,
    counted: null,
    interval: null,
    verdict: censusJudge(entries.count, base.target as Target),
    why: `${plural(entries.count, 'entry', 'entries')} of ${entries.table} over ${entries.overKb} KB, counted now`,
  };
}

/** The rows of the sources Vigil has no way to measure, each saying why. */
function unmeasurableRows(): ScorecardRow[] {
  const metrics = 'the overhaul guide, Success Metrics Tracking';
  return [
    notMeasured(
      'restore-check',
      'A backup restores (the rollback procedure is validated)',
      'the maintenance-window guide, Day 6 System Validation',
      'the weekly restore check reports to CloudWatch and by alert only; the report reads neither (see the backup function)',
    ),
    notMeasured(
      'page-navigation',
      'Page navigation 95 % faster',
      metrics,
      'Vigil times page loads from outside the browser; navigation inside the app is not seen',
    ),
    notMeasured(
      'code-lines',
      '4,100 or more lines of code removed',
      metrics,
      'a property of the source code, not of the running app',
    ),
    notMeasured('user-satisfaction', 'User satisfaction of at least 4.0 of 5', metrics, 'no rating of users reaches Vigil'),
    notMeasured(
      'bundle-size',
      'Front-end bundle at most 10 % larger',
      metrics,
      'a property of the build, not of the running app',
    ),
    notMeasured(
      'cache-adoption',
      'Cache adoption of at least 70 % of active users',
      'the overhaul guide, weekly checklist (user adoption)',
      "Vigil reads no list of the week's active users (the checklist counts them from transactions)",
    ),
    notMeasured(
      'host-resources',
      'Memory 1.5-2.5 GB and CPU 45-95 % under load, with 4 users at most',
      'the maintenance-window guide, Performance Validation Criteria',
      "ranges of another deployment's server (a 4-user installation); Vigil has no baseline of this host to hold them to",
    ),
  ];
}

/** Every row of the scorecard, in the order the digest and the page show them. */
export function scorecardOf(input: ScorecardInput): ScorecardRow[] {
  return [
    ...loadTimeRows(input),
    ...cacheRows(input),
    ...requestRows(input),
    queryRow(input),
    decisionRow(input),
    ...backupRows(input),
    ...partitionRows(input),
    largeEntriesRow(input),
    ...unmeasurableRows(),
  ];
}

export { targetWords };
