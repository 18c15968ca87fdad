import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ConfiguredQueryError, runConfiguredQuery } from '../../lib/configured-query';
import { type Database, quoteQualifiedName } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import {
  censusEvidence,
  type Evidence,
  meanEvidence,
  medianEvidence,
  rateEvidence,
  scaleEvidence,
  shiftEvidence,
} from '../../lib/evidence';
import { errorSummary, logger } from '../../lib/logger';
import { probeUserAgentPattern } from '../../lib/synthetic';
import type { RollbackConfig } from './config';
import type { SignalReading } from './matrix';

export interface SignalSources {
  db: Database;
  cloudWatch?: CloudWatchClient;
  config: RollbackConfig;
  now: Date;
  /** Complaints an hour stated by the person asking (POST body), when given. */
  complaintsPerHour?: number;
  /** The one-sided confidence of every bound (thresholds.rollback.evidence). */
  confidencePercent: number;
}

const minutesAgo = (date: Date, now: Date) => Math.round((now.getTime() - date.getTime()) / 6000) / 10;
const noData = (
  name: SignalReading['name'],
  unit: string,
  source: string,
  reason: string,
  extra: Partial<SignalReading> = {},
): SignalReading => ({
  name,
  value: null,
  unit,
  source,
  reason,
  ...extra,
});

type Measured = Pick<SignalReading, 'source' | 'window' | 'sampleCount' | 'dataWindow'>;

/** 5xx / requests, in percent, with its exact binomial bounds: the same reading from the request log or from CloudWatch. */
export function errorRateReading(errors: number, requests: number, measured: Measured, confidencePercent: number): SignalReading {
  return {
    name: 'errorRatePercent',
    value: (errors / requests) * 100,
    unit: '%',
    ...measured,
    details: { errors },
    evidence: rateEvidence(errors, requests, confidencePercent, 'requests'),
  };
}

/** The average response time and its bounds, from the spread of what was averaged. */
export function responseReading(
  averageMs: number,
  p95Ms: number | null,
  measured: Measured,
  spread: { sdMs: number | null; n: number; counted: string },
  confidencePercent: number,
): SignalReading {
  return {
    name: 'avgResponseMs',
    value: averageMs,
    unit: 'ms',
    ...measured,
    details: { p95Ms },
    evidence: meanEvidence(averageMs, spread.sdMs, spread.n, confidencePercent, spread.counted),
  };
}

/** Cache failures (misses and errors) of all lookups in a window, with their exact binomial bounds. */
export function cacheFailureReading(
  failures: number,
  lookups: number,
  measured: Measured & { measuredAt?: string },
  confidencePercent: number,
): SignalReading {
  return {
    name: 'cacheFailurePercent',
    value: (failures / lookups) * 100,
    unit: '%',
    ...measured,
    sampleCount: lookups,
    details: { failures },
    evidence: rateEvidence(failures, lookups, confidencePercent, 'lookups'),
  };
}

/**
 * Cache failures of a window counted on a fixed slice of the cache table's keys (a sample of its
 * entries): the estimate's own bound, from the spread between the slice's entries (the standard
 * error cacheEfficiency stored), with n the slice's entries, the sampled units. A binomial bound on
 * the slice's lookups would treat a hot entry's hundred lookups as a hundred independent ones.
 */
export function sampledCacheFailureReading(
  failurePercent: number,
  sample: {
    standardErrorPoints: number;
    entries: number;
    lookups: number;
    failures: number;
    fraction: number;
    /** The spread's effective degrees of freedom, as cacheEfficiency took them; null: n - 1 (a window stored before it kept them). */
    degreesOfFreedom: number | null;
  },
  measured: Measured & { measuredAt?: string },
  confidencePercent: number,
): SignalReading {
  const evidence = meanEvidence(
    failurePercent,
    sample.standardErrorPoints * Math.sqrt(sample.entries),
    sample.entries,
    confidencePercent,
    'cache entries of the sampled slice',
    sample.degreesOfFreedom ?? undefined,
  );
  return {
    name: 'cacheFailurePercent',
    value: failurePercent,
    unit: '%',
    ...measured,
    sampleCount: sample.lookups,
    details: { failures: sample.failures, sampledShare: sample.fraction, sampledEntries: sample.entries },
    evidence: {
      ...evidence,
      method: `a sample of the cache table (a fixed slice of its keys, ${Number((sample.fraction * 100).toPrecision(2))} % of them): Student's t bound on the ratio estimate, from the spread between the slice's entries${evidence.degreesOfFreedom !== undefined ? ` (${Math.round(evidence.degreesOfFreedom)} effective degrees of freedom)` : ''}`,
      low: evidence.low === null ? null : Math.max(0, evidence.low),
      high: evidence.high === null ? null : Math.min(100, evidence.high),
    },
  };
}

/** The share of the new page's probe loads that succeeded: under half, shown, is the page down. */
export function newPageSuccessReading(
  successes: number,
  loads: number,
  measured: Measured & { measuredAt?: string; page: string },
  confidencePercent: number,
): SignalReading {
  const { page, ...rest } = measured;
  return {
    name: 'newPageSuccessPercent',
    value: (successes / loads) * 100,
    unit: '%',
    ...rest,
    sampleCount: loads,
    details: { successes, samples: loads, page },
    evidence: rateEvidence(successes, loads, confidencePercent, 'loads'),
  };
}

/**
 * How much slower the new page loads than its baseline, in percent (negative: faster). Against
 * the old page of the same run: the probe's Hodges-Lehmann shift and its interval, as percent of
 * the old page's median. Against the source documents' 4.0 s (the old page did not load): the new
 * page's median with its order-statistic bounds.
 */
export function slowerThanBaselineReading(
  input:
    | { against: 'old page'; shiftMs: number; lowMs: number | null; highMs: number | null; baselineMs: number; loads: number }
    | { against: 'source documents'; newLoadTimesMs: number[]; newP50Ms: number; baselineMs: number },
  measured: Measured & { measuredAt?: string; page: string },
  confidencePercent: number,
): SignalReading {
  const { page, ...rest } = measured;
  const percentOf = (ms: number) => (ms / input.baselineMs) * 100;
  const evidence: Evidence =
    input.against === 'old page'
      ? scaleEvidence(shiftEvidence(input.lowMs, input.highMs, input.loads, 95), percentOf, 100 / input.baselineMs)
      : scaleEvidence(
          medianEvidence(input.newLoadTimesMs, confidencePercent),
          (ms) => percentOf(ms - input.baselineMs),
          100 / input.baselineMs,
        );
  const value = input.against === 'old page' ? percentOf(input.shiftMs) : percentOf(input.newP50Ms - input.baselineMs);
  return {
    name: 'slowerThanBaselinePercent',
    value,
    unit: '%',
    ...rest,
    sampleCount: evidence.n,
    details: { baselineMs: input.baselineMs, page, against: input.against },
    evidence,
  };
}

async function tableExists(db: Database, name: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    quoteQualifiedName(name),
  ]);
  return Boolean(rows[0]?.present);
}

async function hasColumn(db: Database, table: string, column: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped) AS present',
    [quoteQualifiedName(table), column],
  );
  return Boolean(rows[0]?.present);
}

/** Requests the probe made in the window, from its own runs: what the app's log holds of Vigil's when it cannot tell. */
async function probeRequestsIn(db: Database, windowMinutes: number): Promise<number | null> {
  if (!(await tableExists(db, 'vigil.probe_results'))) return null;
  const { rows } = await db.query<{ requests: string | null }>(
    `SELECT sum(samples * coalesce((details->>'calls')::int, 1)) AS requests FROM vigil.probe_results
     WHERE measured_at > now() - make_interval(mins => $1)`,
    [windowMinutes],
  );
  return rows[0]?.requests === null || rows[0]?.requests === undefined ? 0 : Number(rows[0].requests);
}

/**
 * Error rate (5xx / requests) and response time from the app's request log, over the window,
 * without Vigil's probe: rows whose User-Agent is the probe's are left out when the log records
 * it; when it does not, the answer says how many of the requests the probe made.
 */
async function requestSignalsFromDatabase({ db, config, confidencePercent }: SignalSources): Promise<SignalReading[]> {
  const window = `last ${config.windowMinutes} min`;
  if (!(await tableExists(db, config.logTable))) {
    const source = `${config.logTable} (server-side request log)`;
    const reason = `table ${config.logTable} not found (ROLLBACK_LOG_TABLE)`;
    return [noData('errorRatePercent', '%', source, reason), noData('avgResponseMs', 'ms', source, reason)];
  }
  const tellsProbeApart = await hasColumn(db, config.logTable, config.logUserAgentColumn);
  const synthetic = tellsProbeApart ? `coalesce(${quoteQualifiedName(config.logUserAgentColumn)} LIKE $2, false)` : 'false';
  const { rows } = await db.query<{
    requests: string;
    errors: string;
    synthetic_requests: string;
    avg_ms: number | null;
    sd_ms: number | null;
    p95_ms: number | null;
    window_start: Date;
    window_end: Date;
  }>(
    `WITH windowed AS (
       SELECT status_code, response_time_ms, ${synthetic} AS synthetic
       FROM ${quoteQualifiedName(config.logTable)}
       WHERE "timestamp" > now() - make_interval(mins => $1) AND "timestamp" <= now())
     SELECT count(*) FILTER (WHERE NOT synthetic) AS requests,
            count(*) FILTER (WHERE NOT synthetic AND status_code >= 500) AS errors,
            count(*) FILTER (WHERE synthetic) AS synthetic_requests,
            (avg(response_time_ms) FILTER (WHERE NOT synthetic))::float8 AS avg_ms,
            (stddev_samp(response_time_ms) FILTER (WHERE NOT synthetic))::float8 AS sd_ms,
            (percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) FILTER (WHERE NOT synthetic))::float8 AS p95_ms,
            now() - make_interval(mins => $1) AS window_start, now() AS window_end
     FROM windowed`,
    tellsProbeApart ? [config.windowMinutes, probeUserAgentPattern] : [config.windowMinutes],
  );
  const row = rows[0] as (typeof rows)[number];
  const requests = Number(row.requests);
  const probeRequests = tellsProbeApart ? Number(row.synthetic_requests) : await probeRequestsIn(db, config.windowMinutes);
  const source = tellsProbeApart
    ? `${config.logTable} (server-side request log, without the probe's ${probeRequests} requests)`
    : `${config.logTable} (server-side request log; it has no ${config.logUserAgentColumn} column to leave the probe's requests out: the probe made about ${probeRequests ?? 'an unknown number'} of them)`;
  if (requests < config.minRequests) {
    const reason =
      requests === 0
        ? `no requests in the ${window}: an error rate of 0 % would be a guess`
        : `only ${requests} requests in the ${window}; at least ${config.minRequests} are needed (ROLLBACK_MIN_REQUESTS)`;
    return [
      noData('errorRatePercent', '%', source, reason, { window, sampleCount: requests }),
      noData('avgResponseMs', 'ms', source, reason, { window, sampleCount: requests }),
    ];
  }
  const measured: Measured = {
    source,
    window,
    sampleCount: requests,
    dataWindow: { start: row.window_start.toISOString(), end: row.window_end.toISOString() },
  };
  const errorRate = errorRateReading(Number(row.errors), requests, measured, confidencePercent);
  errorRate.details = { ...errorRate.details, probeRequests, probeRequestsLeftOut: tellsProbeApart };
  return [
    errorRate,
    row.avg_ms === null
      ? noData('avgResponseMs', 'ms', source, `no response time recorded in the ${window}`, measured)
      : responseReading(
          row.avg_ms,
          row.p95_ms,
          measured,
          { sdMs: row.sd_ms, n: requests, counted: 'requests' },
          confidencePercent,
        ),
  ];
}

/** The sample standard deviation; null under two values. */
function sampleDeviation(values: number[]): number | null {
  if (values.length < 2) return null;
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  return Math.sqrt(values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1));
}

/** The same two signals from CloudWatch metrics (e.g. the API's Count, 5XXError and Latency). */
export async function requestSignalsFromCloudWatch({
  cloudWatch,
  config,
  now,
  confidencePercent,
}: SignalSources): Promise<SignalReading[]> {
  const queries = config.cloudWatchQueries;
  const source = 'CloudWatch GetMetricData';
  if (!cloudWatch || !queries) {
    const reason = 'no CloudWatch queries configured (ROLLBACK_CLOUDWATCH_QUERIES)';
    return [noData('errorRatePercent', '%', source, reason), noData('avgResponseMs', 'ms', source, reason)];
  }
  const periodSeconds = config.windowMinutes * 60;
  const stat = (id: string, query: typeof queries.requests, period = periodSeconds) => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: query.namespace,
        MetricName: query.metricName,
        Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: period,
      Stat: query.stat,
    },
  });
  const response = await cloudWatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - periodSeconds * 1000),
      EndTime: now,
      MetricDataQueries: [
        stat('requests', queries.requests),
        stat('errors', queries.errors),
        stat('latency', queries.latencyAverage),
        ...(queries.latencyP95 ? [stat('latencyp95', queries.latencyP95)] : []),
        // The average a minute at a time: its spread is what bounds the window's average.
        stat('latencyminutes', queries.latencyAverage, 60),
      ],
    }),
  );
  return cloudWatchReadings(response.MetricDataResults ?? [], { config, queries, now, confidencePercent });
}

/** The error rate and the average response time from GetMetricData's results (ids as queried above). */
function cloudWatchReadings(
  results: Array<{ Id?: string; Values?: number[] }>,
  {
    config,
    queries,
    now,
    confidencePercent,
  }: Pick<SignalSources, 'config' | 'now' | 'confidencePercent'> & {
    queries: NonNullable<RollbackConfig['cloudWatchQueries']>;
  },
): SignalReading[] {
  const source = 'CloudWatch GetMetricData';
  const window = `last ${config.windowMinutes} min`;
  const periodSeconds = config.windowMinutes * 60;
  const sum = (id: string) => {
    const values = results.find((result) => result.Id === id)?.Values ?? [];
    return values.length ? values.reduce((total, value) => total + value, 0) : null;
  };
  const first = (id: string) => results.find((result) => result.Id === id)?.Values?.[0] ?? null;
  const requests = sum('requests');
  const errors = sum('errors');
  const toMs = (value: number | null) => (value === null ? null : queries.latencyUnit === 'Seconds' ? value * 1000 : value);
  const latency = toMs(first('latency'));
  if (requests === null || requests < config.minRequests) {
    const reason =
      requests === null
        ? `no datapoints for ${queries.requests.metricName} in the ${window}`
        : `only ${requests} requests in the ${window}; at least ${config.minRequests} are needed`;
    return [
      noData('errorRatePercent', '%', source, reason, { window }),
      noData('avgResponseMs', 'ms', source, reason, { window }),
    ];
  }
  const measured: Measured = {
    source,
    window,
    sampleCount: requests,
    dataWindow: { start: new Date(now.getTime() - periodSeconds * 1000).toISOString(), end: now.toISOString() },
  };
  const minutes = (results.find((result) => result.Id === 'latencyminutes')?.Values ?? []).map((value) => toMs(value) as number);
  return [
    errors === null
      ? noData('errorRatePercent', '%', source, `no datapoints for ${queries.errors.metricName} in the ${window}`, {
          window,
          sampleCount: requests,
        })
      : errorRateReading(errors, requests, measured, confidencePercent),
    latency === null
      ? noData('avgResponseMs', 'ms', source, `no datapoints for ${queries.latencyAverage.metricName} in the ${window}`, {
          window,
          sampleCount: requests,
        })
      : responseReading(
          latency,
          toMs(first('latencyp95')),
          measured,
          { sdMs: sampleDeviation(minutes), n: minutes.length, counted: 'minutes' },
          confidencePercent,
        ),
  ];
}

/**
 * Cache failure rate ((misses + errors) / lookups) of the latest cacheEfficiency window: a
 * binomial bound on a window that counted every lookup (the counters, or the whole table), the
 * sample's own bound on a window of a slice of the table. The app's counters cannot tell the
 * probe's lookups apart: the answer says how many it made at most.
 */
async function cacheSignal(sources: SignalSources): Promise<SignalReading> {
  if (!(await tableExists(sources.db, 'vigil.cache_windows')))
    return noData('cacheFailurePercent', '%', cacheSource, 'the cacheEfficiency function has never run here');
  return cacheSignalOf(await latestCacheWindow(sources.db, sources.config.cacheTable), sources);
}

const cacheSource = 'cacheEfficiency (vigil.cache_windows)';

interface CacheWindowRow {
  window_start: Date | null;
  window_end: Date;
  state: string;
  no_data_reason: string | null;
  lookups: string | null;
  misses: string | null;
  errors: string | null;
  sample_fraction: number | null;
  sample_entries: string | null;
  standard_error: number | null;
  degrees_of_freedom: number | null;
  probe_requests: string | null;
}

/** The latest window of the primary source of the cache table, with the probe's requests in it. */
async function latestCacheWindow(db: Database, cacheTable: string): Promise<CacheWindowRow | undefined> {
  const { rows } = await db.query<CacheWindowRow>(
    `SELECT w.window_start, w.window_end, w.state, w.no_data_reason, w.lookups, w.misses, w.errors,
            w.sample_fraction, w.sample_entries, w.standard_error,
            (w.details->'slice'->>'degreesOfFreedom')::float8 AS degrees_of_freedom,
            -- vigil.probe_results comes with the same migrations as vigil.cache_windows.
            (SELECT coalesce(sum(r.samples * coalesce((r.details->>'calls')::int, 1)), 0) FROM vigil.probe_results r
              WHERE r.measured_at > w.window_start AND r.measured_at <= w.window_end) AS probe_requests
     FROM vigil.cache_windows w
     WHERE w.cache_table = $1 AND w.primary_source ORDER BY w.window_end DESC, w.id DESC LIMIT 1`,
    [cacheTable],
  );
  return rows[0];
}

/** The reading of that window; no data, saying why, when there is none, it is too old or it counted nothing. */
function cacheSignalOf(
  latest: CacheWindowRow | undefined,
  { config, now, confidencePercent }: Pick<SignalSources, 'config' | 'now' | 'confidencePercent'>,
): SignalReading {
  const source = cacheSource;
  if (!latest) return noData('cacheFailurePercent', '%', source, `no cache window of ${config.cacheTable} yet`);
  const window = `${latest.window_start?.toISOString() ?? '?'} - ${latest.window_end.toISOString()}`;
  const measuredAt = latest.window_end.toISOString();
  const age = minutesAgo(latest.window_end, now);
  if (age > config.inputMaxAgeMinutes) {
    return noData(
      'cacheFailurePercent',
      '%',
      source,
      `the latest cache window ended ${age} min ago (over ${config.inputMaxAgeMinutes} min)`,
      { window, measuredAt },
    );
  }
  if (latest.state !== 'ok') {
    return noData('cacheFailurePercent', '%', source, `the latest cache window has no data: ${latest.no_data_reason}`, {
      window,
      measuredAt,
    });
  }
  const lookups = Number(latest.lookups);
  if (latest.lookups === null || latest.misses === null || !(lookups > 0)) {
    return noData('cacheFailurePercent', '%', source, 'the latest cache window has no lookups recorded', {
      window,
      measuredAt,
    });
  }
  const failures = Number(latest.misses) + Number(latest.errors ?? 0);
  const measured = {
    source,
    window,
    measuredAt,
    ...(latest.window_start
      ? { dataWindow: { start: latest.window_start.toISOString(), end: latest.window_end.toISOString() } }
      : {}),
  };
  // A window of a slice of the table is an estimate: judged by the sample's own bound. One whose
  // spread is unknown (a single entry) has none: no bound rather than a false one.
  const sampled = latest.sample_fraction !== null && latest.sample_fraction < 1 && latest.sample_entries !== null;
  const reading = sampled
    ? sampledCacheFailureReading(
        (failures / lookups) * 100,
        {
          standardErrorPoints: latest.standard_error ?? Number.NaN,
          entries: Number(latest.sample_entries),
          lookups,
          failures,
          fraction: latest.sample_fraction as number,
          degreesOfFreedom: latest.degrees_of_freedom,
        },
        measured,
        confidencePercent,
      )
    : cacheFailureReading(failures, lookups, measured, confidencePercent);
  if (latest.probe_requests !== null) reading.details = { ...reading.details, probeLookupsAtMost: Number(latest.probe_requests) };
  return reading;
}

/**
 * From the latest probe comparison: how much slower the new page loads than its baseline
 * (negative: faster), and which share of its loads succeeded (under half, shown: the page is down).
 */
async function probeSignals(sources: SignalSources): Promise<[SignalReading, SignalReading]> {
  if (!(await tableExists(sources.db, 'vigil.probe_comparisons'))) return noProbeData('the probe function has never run here');
  return probeSignalsOf(await latestProbeComparison(sources.db), sources);
}

const probeSource = 'probe (vigil.probe_comparisons)';

const noProbeData = (reason: string, extra: Partial<SignalReading> = {}): [SignalReading, SignalReading] => [
  noData('slowerThanBaselinePercent', '%', probeSource, reason, extra),
  noData('newPageSuccessPercent', '%', 'probe (vigil.probe_results)', reason, extra),
];

interface ProbeComparisonRow {
  measured_at: Date;
  new_scenario: string;
  new_p50_ms: string | null;
  baseline_ms: string;
  baseline_source: string | null;
  difference_ms: string | null;
  difference_low_ms: string | null;
  difference_high_ms: string | null;
  old_loads: string | null;
  samples: number | null;
  successes: number | null;
  load_times: unknown;
}

/** The latest comparison of the old and new pages, with the new page's result of that run. */
async function latestProbeComparison(db: Database): Promise<ProbeComparisonRow | undefined> {
  const { rows } = await db.query<ProbeComparisonRow>(
    `SELECT c.measured_at, c.new_scenario, c.new_p50_ms, c.baseline_ms, c.baseline_source,
            c.difference_ms, c.difference_low_ms, c.difference_high_ms, c.details->'loadTimeMs'->'old'->>'n' AS old_loads,
            r.samples, r.successes, r.details->'loadTimesMs' AS load_times
     FROM vigil.probe_comparisons c
     LEFT JOIN vigil.probe_results r ON r.run_id = c.run_id AND r.name = c.new_scenario AND r.measured_at = c.measured_at
     ORDER BY c.measured_at DESC LIMIT 1`,
  );
  return rows[0];
}

/** The two readings of that run; no data, saying why, when there is none or it is too old. */
function probeSignalsOf(
  latest: ProbeComparisonRow | undefined,
  { config, now, confidencePercent }: Pick<SignalSources, 'config' | 'now' | 'confidencePercent'>,
): [SignalReading, SignalReading] {
  const source = probeSource;
  const both = noProbeData;
  if (!latest) return both('no probe comparison of the old and new pages yet');
  const age = minutesAgo(latest.measured_at, now);
  const measuredAt = latest.measured_at.toISOString();
  if (age > config.inputMaxAgeMinutes) {
    return both(`the latest probe run is ${age} min old (over ${config.inputMaxAgeMinutes} min)`, { measuredAt });
  }
  const window = `latest probe run of the new page ${latest.new_scenario}`;
  // One run's loads are new data: a confirmation counts each run once.
  const measured = { window, measuredAt, page: latest.new_scenario, dataWindow: { start: measuredAt, end: measuredAt } };
  const success: SignalReading =
    latest.samples === null || latest.successes === null || latest.samples === 0
      ? noData(
          'newPageSuccessPercent',
          '%',
          'probe (vigil.probe_results)',
          `no probe result of ${latest.new_scenario} in that run`,
          { measuredAt },
        )
      : newPageSuccessReading(
          latest.successes,
          latest.samples,
          { ...measured, source: 'probe (vigil.probe_results)' },
          confidencePercent,
        );
  if (latest.new_p50_ms === null) {
    return [
      noData('slowerThanBaselinePercent', '%', source, `the new page ${latest.new_scenario} had no successful load to time`, {
        measuredAt,
      }),
      success,
    ];
  }
  const baselineMs = Number(latest.baseline_ms);
  const againstOld = latest.baseline_source === 'old page measured in this run' && latest.difference_ms !== null;
  const loadTimes = Array.isArray(latest.load_times) ? latest.load_times.filter((value) => typeof value === 'number') : [];
  const slower = againstOld
    ? slowerThanBaselineReading(
        {
          against: 'old page',
          shiftMs: Number(latest.difference_ms),
          lowMs: latest.difference_low_ms === null ? null : Number(latest.difference_low_ms),
          highMs: latest.difference_high_ms === null ? null : Number(latest.difference_high_ms),
          baselineMs,
          loads: Math.min(Number(latest.old_loads ?? 0), latest.successes ?? 0),
        },
        { ...measured, source: `${source}, baseline: the old page measured in the same run (median ${baselineMs} ms)` },
        confidencePercent,
      )
    : slowerThanBaselineReading(
        { against: 'source documents', newLoadTimesMs: loadTimes, newP50Ms: Number(latest.new_p50_ms), baselineMs },
        { ...measured, source: `${source}, baseline: ${latest.baseline_source ?? 'source documents'} (${baselineMs} ms)` },
        confidencePercent,
      );
  return [slower, success];
}

/**
 * A configured query's one number, read in a read-only transaction. It counts every case (every
 * user, every ticket of the hour): a census, exact, not a sample with a bound.
 */
async function querySignal(
  db: Database,
  name: SignalReading['name'],
  unit: string,
  query: string | undefined,
  variable: string,
  counted: string,
): Promise<SignalReading> {
  const source = `${variable} query`;
  if (!query) return noData(name, unit, source, `no query configured (${variable})`);
  try {
    const { rows } = await runConfiguredQuery<{ value: unknown; sample_count?: unknown }>(db, variable, query);
    if (rows.length !== 1)
      return noData(name, unit, source, `${variable}: returned ${rows.length} rows; it must return exactly one`);
    const row = rows[0];
    const value = row?.value === null || row?.value === undefined ? Number.NaN : Number(row.value);
    if (!Number.isFinite(value)) return noData(name, unit, source, `${variable}: returned no numeric column "value"`);
    const sampleCount = row?.sample_count !== undefined && row.sample_count !== null ? Number(row.sample_count) : undefined;
    return {
      name,
      value,
      unit,
      source,
      ...(sampleCount !== undefined ? { sampleCount, evidence: censusEvidence(value, sampleCount, counted) } : {}),
      measuredAt: new Date().toISOString(),
    };
  } catch (error) {
    logger.error('configured query failed', { variable, error: errorSummary(error) });
    const reason = error instanceof ConfiguredQueryError ? error.message : `${variable}: could not run (${errorMessage(error)})`;
    return noData(name, unit, source, reason);
  }
}

/** Every signal of the matrix, each measured (raw, unrounded) or saying why not. */
export async function readSignals(sources: SignalSources): Promise<SignalReading[]> {
  const [requests, cache, probe, adoption, complaints] = await Promise.all([
    sources.config.requestsSource === 'cloudwatch' ? requestSignalsFromCloudWatch(sources) : requestSignalsFromDatabase(sources),
    cacheSignal(sources),
    probeSignals(sources),
    querySignal(sources.db, 'adoptionPercent', '%', sources.config.adoptionQuery, 'ROLLBACK_ADOPTION_QUERY', 'users'),
    sources.complaintsPerHour !== undefined
      ? Promise.resolve<SignalReading>({
          name: 'complaintsPerHour',
          value: sources.complaintsPerHour,
          unit: '/h',
          source: 'the request (stated by the caller)',
        })
      : querySignal(
          sources.db,
          'complaintsPerHour',
          '/h',
          sources.config.complaintsQuery,
          'ROLLBACK_COMPLAINTS_QUERY',
          'complaints counted',
        ),
  ]);
  return [...requests, cache, probe[0], complaints, adoption, probe[1]];
}
