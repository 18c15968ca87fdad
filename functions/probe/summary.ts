import { redact, safeUrl } from '../../lib/redact';
import { median, type Percentile, percentile, reductionPercent, type ShiftEstimate, shiftEstimate } from '../../lib/stats';
import type { Thresholds } from '../../lib/thresholds';
import type { Sample } from './timing';

export type BudgetState = 'ok' | 'degraded' | 'failed' | 'down' | 'not_measured';

export interface Budget {
  degradedMs: number;
  failMs: number;
}

export interface ProbeSummary {
  kind: 'target' | 'scenario';
  name: string;
  url?: string;
  /** For a scenario: requests per page load. */
  calls: number;
  samples: number;
  successes: number;
  successPercent: number;
  /** "Load time": total of a request (start to last byte); for a page, its critical path. */
  loadTimeMeans:
    | 'request total: DNS + connect + TLS + time to first byte + download'
    | 'page critical path: first request start to last byte of the last request';
  p50: Percentile;
  p95: Percentile;
  p99: Percentile;
  /** The load times of the successful samples, in ms, in the order they were taken. */
  loadTimesMs: number[];
  /** Medians over the successful samples of each phase (targets only). */
  phaseMediansMs?: {
    dns: number | null;
    connect: number | null;
    tls: number | null;
    ttfb: number | null;
    download: number | null;
    total: number | null;
  };
  newConnectionPercent?: number;
  bytesMedian?: number | null;
  failures: Array<{ kind: string; count: number; example: string }>;
  /** Samples the run's deadline left untaken, and why; absent when every sample was taken. */
  notTaken?: { count: number; reason: string };
  /** Time all samples took, one after another (the floor of a run's wall time). */
  sampleTimeMs: number;
  budget: Budget & { statistic: 'p95' | 'p50' | 'none'; valueMs: number | null; state: BudgetState };
}

/** A page load or request is down-rated below this share of successful samples. */
export const downBelowSuccessPercent = 50;

function budgetOf(
  p50: Percentile,
  p95: Percentile,
  successPercent: number,
  budget: Budget,
  samples: number,
): ProbeSummary['budget'] {
  // p95 when the samples carry it, else the median; a run mostly failing is down, whatever its times.
  const statistic = p95.value !== null ? 'p95' : p50.value !== null ? 'p50' : 'none';
  const valueMs = p95.value ?? p50.value;
  let state: BudgetState = 'ok';
  if (samples === 0) state = 'not_measured';
  else if (successPercent < downBelowSuccessPercent) state = 'down';
  else if (valueMs !== null && valueMs > budget.failMs) state = 'failed';
  else if (valueMs !== null && valueMs > budget.degradedMs) state = 'degraded';
  // Failed samples within an otherwise passing run degrade it (Checkly: retries are degraded).
  else if (successPercent < 100) state = 'degraded';
  return { ...budget, statistic, valueMs, state };
}

function failuresOf(failures: Array<{ kind: string; message: string }>): ProbeSummary['failures'] {
  const byKind = new Map<string, { count: number; example: string }>();
  for (const failure of failures) {
    // An error can quote the URL it failed on: stored and shown redacted, like the URL itself.
    const entry = byKind.get(failure.kind) ?? { count: 0, example: redact(failure.message) };
    entry.count += 1;
    byKind.set(failure.kind, entry);
  }
  return [...byKind.entries()].map(([kind, entry]) => ({ kind, ...entry }));
}

const phaseMedian = (samples: Sample[], phase: keyof Sample['phases']) => {
  const values = samples.map((sample) => sample.phases[phase]).filter((value): value is number => value !== null);
  return values.length ? Math.round((median(values) as number) * 1000) / 1000 : null;
};

/** part / whole in percent, two decimals; 0 of nothing is 0. */
const sharePercent = (part: number, whole: number) => (whole ? Math.round((part / whole) * 10_000) / 100 : 0);

export function summarizeTarget(name: string, url: string, samples: Sample[], budget: Budget): ProbeSummary {
  const succeeded = samples.filter((sample) => sample.ok);
  const totals = succeeded.map((sample) => sample.phases.totalMs as number);
  const successPercent = sharePercent(succeeded.length, samples.length);
  const p50 = percentile(totals, 50);
  const p95 = percentile(totals, 95);
  return {
    kind: 'target',
    name,
    // Stored, alerted and answered without user-info and with credential-like parameters masked.
    url: safeUrl(url),
    calls: 1,
    samples: samples.length,
    successes: succeeded.length,
    successPercent,
    loadTimeMeans: 'request total: DNS + connect + TLS + time to first byte + download',
    p50,
    p95,
    p99: percentile(totals, 99),
    loadTimesMs: totals,
    phaseMediansMs: {
      dns: phaseMedian(succeeded, 'dnsMs'),
      connect: phaseMedian(succeeded, 'connectMs'),
      tls: phaseMedian(succeeded, 'tlsMs'),
      ttfb: phaseMedian(succeeded, 'ttfbMs'),
      download: phaseMedian(succeeded, 'downloadMs'),
      total: phaseMedian(succeeded, 'totalMs'),
    },
    newConnectionPercent: sharePercent(samples.filter((sample) => sample.newConnection).length, samples.length),
    bytesMedian: median(succeeded.map((sample) => sample.bytes)),
    failures: failuresOf(samples.flatMap((sample) => (sample.failure ? [sample.failure] : []))),
    sampleTimeMs: Math.round(samples.reduce((sum, sample) => sum + (sample.endedAt - sample.startedAt), 0)),
    budget: budgetOf(p50, p95, successPercent, budget, samples.length),
  };
}

/** One page load: its requests' samples. The load fails when any of its requests fails. */
export interface PageLoad {
  requests: Array<{ target: string; sample: Sample }>;
  /** Critical path: first request start to the last byte of the last request. */
  loadTimeMs: number | null;
  failure?: { kind: string; message: string };
}

export function summarizeScenario(name: string, calls: number, loads: PageLoad[], budget: Budget): ProbeSummary {
  const succeeded = loads.filter((load) => !load.failure);
  const times = succeeded.map((load) => load.loadTimeMs as number);
  const successPercent = sharePercent(succeeded.length, loads.length);
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  return {
    kind: 'scenario',
    name,
    calls,
    samples: loads.length,
    successes: succeeded.length,
    successPercent,
    loadTimeMeans: 'page critical path: first request start to last byte of the last request',
    p50,
    p95,
    p99: percentile(times, 99),
    loadTimesMs: times,
    failures: failuresOf(loads.flatMap((load) => (load.failure ? [load.failure] : []))),
    sampleTimeMs: Math.round(
      loads.reduce(
        (sum, load) =>
          sum +
          Math.max(...load.requests.map((request) => request.sample.endedAt)) -
          Math.min(...load.requests.map((request) => request.sample.startedAt)),
        0,
      ),
    ),
    budget: budgetOf(p50, p95, successPercent, budget, loads.length),
  };
}

export interface PageComparison {
  oldScenario: string;
  newScenario: string;
  callsOld: number;
  callsNew: number;
  apiCallReductionPercent: number;
  loadTimeMs: {
    old: { p50: number | null; p95: number | null; n: number };
    new: { p50: number | null; p95: number | null; n: number };
  };
  /** New minus old, measured in the same run, page slots interleaved: the shift, its 95 % interval and the verdict. */
  difference: ShiftEstimate;
  /** What "slower than baseline" is measured against: the old page of this run when it loaded, else the source's 4.0 s. */
  baselineMs: number;
  baselineSource: 'old page measured in this run' | 'source documents (no successful load of the old page)';
  /** The 4.0 s of the source documents, for the rollout's own target (80 % less). */
  sourceBaselineMs: number;
  /** 1 - new / 4.0 s baseline of the source documents (target 80 %). */
  reductionVsBaselinePercent: { p50: number | null; p95: number | null };
  /** 1 - new / the old page measured in the same run. */
  reductionVsMeasuredOldPercent: { p50: number | null; p95: number | null };
  targets: { loadTimeMs: number; goalMs: number; reductionPercent: number; apiCallReductionPercent: number };
}

export function comparePages(oldPage: ProbeSummary, newPage: ProbeSummary, dashboard: Thresholds['dashboard']): PageComparison {
  const measuredOld = oldPage.p50.value;
  return {
    oldScenario: oldPage.name,
    newScenario: newPage.name,
    callsOld: oldPage.calls,
    callsNew: newPage.calls,
    apiCallReductionPercent: reductionPercent(newPage.calls, oldPage.calls) as number,
    loadTimeMs: {
      old: { p50: oldPage.p50.value, p95: oldPage.p95.value, n: oldPage.successes },
      new: { p50: newPage.p50.value, p95: newPage.p95.value, n: newPage.successes },
    },
    difference: shiftEstimate(oldPage.loadTimesMs, newPage.loadTimesMs),
    baselineMs: measuredOld ?? dashboard.baselineLoadMs,
    baselineSource:
      measuredOld !== null ? 'old page measured in this run' : 'source documents (no successful load of the old page)',
    sourceBaselineMs: dashboard.baselineLoadMs,
    reductionVsBaselinePercent: {
      p50: reductionPercent(newPage.p50.value, dashboard.baselineLoadMs),
      p95: reductionPercent(newPage.p95.value, dashboard.baselineLoadMs),
    },
    reductionVsMeasuredOldPercent: {
      p50: reductionPercent(newPage.p50.value, oldPage.p50.value),
      p95: reductionPercent(newPage.p95.value, oldPage.p95.value),
    },
    targets: {
      loadTimeMs: dashboard.targetLoadMs,
      goalMs: dashboard.goalLoadMs,
      reductionPercent: dashboard.targetLoadReductionPercent,
      apiCallReductionPercent: dashboard.targetApiCallReductionPercent,
    },
  };
}

const verdictWords = {
  faster: 'is faster than',
  slower: 'is SLOWER than',
  not_distinguishable: 'cannot be told apart from',
} as const;

/** The comparison in one line, as the console, the log and the alerts say it. */
export function comparisonLine(comparison: PageComparison): string {
  const { old, new: fresh } = comparison.loadTimeMs;
  const { difference } = comparison;
  const loads = `p50 ${fresh.p50 ?? 'n/a'} ms (n = ${fresh.n}, ${comparison.callsNew} call) vs ${old.p50 ?? 'n/a'} ms (n = ${old.n}, ${comparison.callsOld} calls)`;
  const head = `new page ${comparison.newScenario} ${verdictWords[difference.verdict]} the old ${comparison.oldScenario}: ${loads}`;
  if (difference.estimateMs === null || difference.low === null) return `${head}; ${difference.reason}`;
  const sign = difference.estimateMs > 0 ? '+' : '';
  const interval = `95 % interval ${difference.low} to ${difference.high} ms (Hodges-Lehmann)`;
  return `${head}; difference ${sign}${difference.estimateMs} ms, ${interval}${difference.verdict === 'not_distinguishable' ? ', which includes 0' : ''}`;
}
