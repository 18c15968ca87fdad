import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ConfiguredQueryError, runConfiguredQuery } from '../../lib/configured-query';
import { type Database, quoteQualifiedName } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import type { RollbackConfig } from './config';
import type { SignalReading } from './matrix';

export interface SignalSources {
  db: Database;
  cloudWatch?: CloudWatchClient;
  config: RollbackConfig;
  now: Date;
  /** Complaints an hour stated by the person asking (POST body), when given. */
  complaintsPerHour?: number;
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

type Measured = Pick<SignalReading, 'source' | 'window' | 'sampleCount'>;

/** 5xx / requests, in percent: the same reading from the request log or from CloudWatch. */
function errorRateReading(errors: number, requests: number, measured: Measured): SignalReading {
  return {
    name: 'errorRatePercent',
    value: (errors / requests) * 100,
    unit: '%',
    ...measured,
    details: { errors },
  };
}

function responseReading(averageMs: number, p95Ms: number | null, measured: Measured): SignalReading {
  return { name: 'avgResponseMs', value: averageMs, unit: 'ms', ...measured, details: { p95Ms } };
}

async function tableExists(db: Database, name: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    quoteQualifiedName(name),
  ]);
  return Boolean(rows[0]?.present);
}

/** Error rate (5xx / requests) and response time from the app's request log, over the window. */
async function requestSignalsFromDatabase({ db, config }: SignalSources): Promise<SignalReading[]> {
  const source = `${config.logTable} (server-side request log)`;
  const window = `last ${config.windowMinutes} min`;
  if (!(await tableExists(db, config.logTable))) {
    const reason = `table ${config.logTable} not found (ROLLBACK_LOG_TABLE)`;
    return [noData('errorRatePercent', '%', source, reason), noData('avgResponseMs', 'ms', source, reason)];
  }
  const { rows } = await db.query<{ requests: string; errors: string; avg_ms: number | null; p95_ms: number | null }>(
    `SELECT count(*) AS requests, count(*) FILTER (WHERE status_code >= 500) AS errors,
            avg(response_time_ms)::float8 AS avg_ms, percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)::float8 AS p95_ms
     FROM ${quoteQualifiedName(config.logTable)}
     WHERE "timestamp" > now() - make_interval(mins => $1) AND "timestamp" <= now()`,
    [config.windowMinutes],
  );
  const row = rows[0] as { requests: string; errors: string; avg_ms: number | null; p95_ms: number | null };
  const requests = Number(row.requests);
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
  const measured = { source, window, sampleCount: requests };
  return [
    errorRateReading(Number(row.errors), requests, measured),
    row.avg_ms === null
      ? noData('avgResponseMs', 'ms', source, `no response time recorded in the ${window}`, measured)
      : responseReading(row.avg_ms, row.p95_ms, measured),
  ];
}

/** The same two signals from CloudWatch metrics (e.g. the API's Count, 5XXError and Latency). */
export async function requestSignalsFromCloudWatch({ cloudWatch, config, now }: SignalSources): Promise<SignalReading[]> {
  const queries = config.cloudWatchQueries;
  const source = 'CloudWatch GetMetricData';
  const window = `last ${config.windowMinutes} min`;
  if (!cloudWatch || !queries) {
    const reason = 'no CloudWatch queries configured (ROLLBACK_CLOUDWATCH_QUERIES)';
    return [noData('errorRatePercent', '%', source, reason), noData('avgResponseMs', 'ms', source, reason)];
  }
  const periodSeconds = config.windowMinutes * 60;
  const stat = (id: string, query: typeof queries.requests) => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: query.namespace,
        MetricName: query.metricName,
        Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: periodSeconds,
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
      ],
    }),
  );
  const sum = (id: string) => {
    const values = response.MetricDataResults?.find((result) => result.Id === id)?.Values ?? [];
    return values.length ? values.reduce((total, value) => total + value, 0) : null;
  };
  const first = (id: string) => response.MetricDataResults?.find((result) => result.Id === id)?.Values?.[0] ?? null;
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
  const measured = { source, window, sampleCount: requests };
  return [
    errors === null
      ? noData('errorRatePercent', '%', source, `no datapoints for ${queries.errors.metricName} in the ${window}`, {
          window,
          sampleCount: requests,
        })
      : errorRateReading(errors, requests, measured),
    latency === null
      ? noData('avgResponseMs', 'ms', source, `no datapoints for ${queries.latencyAverage.metricName} in the ${window}`, {
          window,
          sampleCount: requests,
        })
      : responseReading(latency, toMs(first('latencyp95')), measured),
  ];
}

/** Cache failure rate (misses / lookups) of the latest cacheEfficiency window. */
async function cacheSignal({ db, config, now }: SignalSources): Promise<SignalReading> {
  const source = 'cacheEfficiency (vigil.cache_windows)';
  if (!(await tableExists(db, 'vigil.cache_windows')))
    return noData('cacheFailurePercent', '%', source, 'the cacheEfficiency function has never run here');
  const { rows } = await db.query<{
    window_start: Date | null;
    window_end: Date;
    state: string;
    no_data_reason: string | null;
    lookups: string | null;
    cache_failure_rate: string | null;
  }>(
    `SELECT window_start, window_end, state, no_data_reason, lookups, cache_failure_rate FROM vigil.cache_windows
     WHERE cache_table = $1 AND primary_source ORDER BY window_end DESC, id DESC LIMIT 1`,
    [config.cacheTable],
  );
  const latest = rows[0];
  if (!latest) return noData('cacheFailurePercent', '%', source, `no cache window of ${config.cacheTable} yet`);
  const window = `${latest.window_start?.toISOString() ?? '?'} - ${latest.window_end.toISOString()}`;
  const age = minutesAgo(latest.window_end, now);
  if (age > config.inputMaxAgeMinutes) {
    return noData(
      'cacheFailurePercent',
      '%',
      source,
      `the latest cache window ended ${age} min ago (over ${config.inputMaxAgeMinutes} min)`,
      {
        window,
        measuredAt: latest.window_end.toISOString(),
      },
    );
  }
  if (latest.state !== 'ok') {
    return noData('cacheFailurePercent', '%', source, `the latest cache window has no data: ${latest.no_data_reason}`, {
      window,
      measuredAt: latest.window_end.toISOString(),
    });
  }
  if (latest.cache_failure_rate === null) {
    return noData('cacheFailurePercent', '%', source, 'the latest cache window has no failure rate recorded', {
      window,
      measuredAt: latest.window_end.toISOString(),
    });
  }
  return {
    name: 'cacheFailurePercent',
    value: Number(latest.cache_failure_rate),
    unit: '%',
    source,
    window,
    sampleCount: Number(latest.lookups),
    measuredAt: latest.window_end.toISOString(),
  };
}

/**
 * From the latest probe comparison: how much slower the new page loads than the 4.0 s baseline
 * (negative: faster), and which share of its loads succeeded (under half: the page is down).
 */
async function probeSignals({ db, config, now }: SignalSources): Promise<[SignalReading, SignalReading]> {
  const source = 'probe (vigil.probe_comparisons)';
  const both = (reason: string, extra: Partial<SignalReading> = {}): [SignalReading, SignalReading] => [
    noData('slowerThanBaselinePercent', '%', source, reason, extra),
    noData('newPageSuccessPercent', '%', 'probe (vigil.probe_results)', reason, extra),
  ];
  if (!(await tableExists(db, 'vigil.probe_comparisons'))) return both('the probe function has never run here');
  const { rows } = await db.query<{
    measured_at: Date;
    new_scenario: string;
    new_p50_ms: string | null;
    baseline_ms: string;
    baseline_source: string | null;
    samples: number | null;
    successes: number | null;
  }>(
    `SELECT c.measured_at, c.new_scenario, c.new_p50_ms, c.baseline_ms, c.baseline_source, r.samples, r.successes
     FROM vigil.probe_comparisons c
     LEFT JOIN vigil.probe_results r ON r.run_id = c.run_id AND r.name = c.new_scenario AND r.measured_at = c.measured_at
     ORDER BY c.measured_at DESC LIMIT 1`,
  );
  const latest = rows[0];
  if (!latest) return both('no probe comparison of the old and new pages yet');
  const age = minutesAgo(latest.measured_at, now);
  const measuredAt = latest.measured_at.toISOString();
  if (age > config.inputMaxAgeMinutes) {
    return both(`the latest probe run is ${age} min old (over ${config.inputMaxAgeMinutes} min)`, { measuredAt });
  }
  const window = `latest probe run of the new page ${latest.new_scenario}`;
  const success: SignalReading =
    latest.samples === null || latest.successes === null || latest.samples === 0
      ? noData(
          'newPageSuccessPercent',
          '%',
          'probe (vigil.probe_results)',
          `no probe result of ${latest.new_scenario} in that run`,
          {
            measuredAt,
          },
        )
      : {
          name: 'newPageSuccessPercent',
          value: (latest.successes / latest.samples) * 100,
          unit: '%',
          source: 'probe (vigil.probe_results)',
          window,
          sampleCount: latest.samples,
          measuredAt,
          details: { successes: latest.successes, samples: latest.samples, page: latest.new_scenario },
        };
  if (latest.new_p50_ms === null) {
    return [
      noData('slowerThanBaselinePercent', '%', source, `the new page ${latest.new_scenario} had no successful load to time`, {
        measuredAt,
      }),
      success,
    ];
  }
  const baseline = Number(latest.baseline_ms);
  return [
    {
      name: 'slowerThanBaselinePercent',
      value: ((Number(latest.new_p50_ms) - baseline) / baseline) * 100,
      unit: '%',
      // Against the old page measured in the same run when it loaded, else the source documents' 4.0 s.
      source: `${source}, baseline: ${latest.baseline_source ?? 'source documents'} (${baseline} ms)`,
      window: `${window} (p50)`,
      sampleCount: latest.successes ?? undefined,
      measuredAt,
      details: { newPageP50Ms: Number(latest.new_p50_ms), baselineMs: baseline, page: latest.new_scenario },
    },
    success,
  ];
}

/** A configured query's one number, read in a read-only transaction. */
async function querySignal(
  db: Database,
  name: SignalReading['name'],
  unit: string,
  query: string | undefined,
  variable: string,
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
    return {
      name,
      value,
      unit,
      source,
      ...(row?.sample_count !== undefined && row.sample_count !== null ? { sampleCount: Number(row.sample_count) } : {}),
      measuredAt: new Date().toISOString(),
    };
  } catch (error) {
    logger.error('configured query failed', { variable, error: errorSummary(error) });
    const reason =
      error instanceof ConfiguredQueryError ? error.message : `${variable}: could not run (${(error as Error).message})`;
    return noData(name, unit, source, reason);
  }
}

/** Every signal of the matrix, each measured (raw, unrounded) or saying why not. */
export async function readSignals(sources: SignalSources): Promise<SignalReading[]> {
  const [requests, cache, probe, adoption, complaints] = await Promise.all([
    sources.config.requestsSource === 'cloudwatch' ? requestSignalsFromCloudWatch(sources) : requestSignalsFromDatabase(sources),
    cacheSignal(sources),
    probeSignals(sources),
    querySignal(sources.db, 'adoptionPercent', '%', sources.config.adoptionQuery, 'ROLLBACK_ADOPTION_QUERY'),
    sources.complaintsPerHour !== undefined
      ? Promise.resolve<SignalReading>({
          name: 'complaintsPerHour',
          value: sources.complaintsPerHour,
          unit: '/h',
          source: 'the request (stated by the caller)',
        })
      : querySignal(sources.db, 'complaintsPerHour', '/h', sources.config.complaintsQuery, 'ROLLBACK_COMPLAINTS_QUERY'),
  ]);
  return [...requests, cache, probe[0], complaints, adoption, probe[1]];
}
