import type { Alert } from '../../lib/alerts';
import { cacheKeys } from '../../lib/alerts/keys';
import type { Thresholds } from '../../lib/thresholds';
import type { OlapReport } from './olap';
import { type CacheWindow, describeShare } from './window';

export type AlertRequest =
  | { action: 'raise'; alert: Alert }
  | { action: 'resolve'; key: string }
  | { action: 'hold'; key: string; reason: string };

const windowLabel = (window: CacheWindow) =>
  `${window.windowStart ? window.windowStart.toISOString().slice(0, 16) : '?'}-${window.windowEnd.toISOString().slice(11, 16)}Z`;

/** When a window began: the condition it shows began no later. */
const windowBegan = (window: CacheWindow) => window.windowStart ?? window.windowEnd;

type Measured = Extract<CacheWindow, { state: 'ok' }>;

/** The most the hit ratio can be: a sampled window's upper bound, a whole table's count itself. */
const highestRatio = (window: Measured) => window.sample?.hitRatio.high ?? window.hitRatioPercent;

const count = (value: number) => Math.round(value).toLocaleString('en');
const percent = (value: number) => `${Number(value.toFixed(1))} %`;

/** A sampled window in plain words: its estimate, its interval and what it stands on. */
function sampleWords(window: Measured): string {
  const sample = window.sample;
  if (!sample) return `${percent(window.hitRatioPercent)} of ${count(window.lookups)} lookups, every entry counted`;
  return `${percent(window.hitRatioPercent)}, with ${sample.confidencePercent} % confidence between ${percent(sample.hitRatio.low)} and ${percent(sample.hitRatio.high)}, from ${count(sample.lookups)} lookups on ${count(sample.entries)} entries (a fixed ${describeShare(sample.fraction)} slice of about ${count(sample.tableEntriesEstimate)})`;
}

/**
 * Hit ratio under target in M of the last N windows raises (one bad window pages nobody); a
 * measured window with the ratio back decides resolution; a window without data decides nothing.
 * A window counts as under target when the most its ratio can be is: a whole table's count, or a
 * sampled window's upper bound (its estimate alone may be under while the table is not).
 * N windows in a row without data is its own, minor, alert: an unmeasurable cache is not a healthy one.
 */
export function hitRatioSteps(
  table: string,
  recentNewestFirst: CacheWindow[],
  options: { targetPercent: number; breaches: number; windows: number; now: Date },
): AlertRequest[] {
  const key = cacheKeys.hitRatio(table);
  const noDataKey = cacheKeys.noData(table);
  const recent = recentNewestFirst.slice(0, options.windows);
  const latest = recent[0];
  const breaching = recent.filter(
    (window): window is Measured => window.state === 'ok' && highestRatio(window) < options.targetPercent,
  );
  const requests: AlertRequest[] = [];
  if (breaching.length >= options.breaches && latest) {
    const newest = breaching[0] as Measured;
    const sampled = breaching.some((window) => window.sample);
    requests.push({
      action: 'raise',
      alert: {
        key,
        severity: 'major',
        title: `Cache hit ratio of ${table} under ${options.targetPercent} %`,
        summary: sampled
          ? `The hit ratio was under target in ${breaching.length} of the last ${recent.length} windows (source: ${newest.source}), each counted only when even its upper bound is under ${options.targetPercent} %. Latest: ${sampleWords(newest)}. Each window counts only its own lookups.`
          : `The hit ratio was under target in ${breaching.length} of the last ${recent.length} windows (source: ${newest.source}). Each window counts only its own lookups.`,
        measurements: breaching.map((window) => ({
          // Read with its value: "hit ratio to 03:15Z, 95 % interval 79.2 to 81.2 %, estimate 80.1 % (under 85 %)".
          name: window.sample
            ? `hit ratio to ${window.windowEnd.toISOString().slice(11, 16)}Z, ${window.sample.confidencePercent} % interval ${Number(window.sample.hitRatio.low.toFixed(1))} to ${percent(window.sample.hitRatio.high)}, estimate`
            : `hit ratio to ${window.windowEnd.toISOString().slice(11, 16)}Z`,
          value: window.hitRatioPercent,
          unit: '%',
          threshold: { operator: '<' as const, value: options.targetPercent },
          window: windowLabel(window),
          sampleCount: window.lookups,
        })),
        source: 'cache efficiency check',
        runbook: 'cache-hit-ratio',
        since: windowBegan(breaching.at(-1) as CacheWindow),
        action:
          'Look at misses and recalculations in the latest window (vigil.cache_windows); check cache TTL and invalidation of the last deploy.',
        observedAt: options.now,
      },
    });
  } else if (latest?.state === 'ok') {
    requests.push({ action: 'resolve', key });
  } else {
    requests.push({ action: 'hold', key, reason: latest ? `latest window has no data: ${latest.reason}` : 'no window yet' });
  }
  // A warm-up after a restart is expected: its windows are not "cannot be measured".
  const unmeasured = (window: CacheWindow) => window.state === 'no_data' && !window.details?.warming;
  if (recent.length >= options.windows && recent.every(unmeasured) && latest?.state === 'no_data') {
    requests.push({
      action: 'raise',
      alert: {
        key: noDataKey,
        severity: 'minor',
        title: `Cache hit ratio of ${table} cannot be measured`,
        summary: `The last ${recent.length} windows had no data. Latest reason: ${latest.reason}`,
        measurements: [{ name: 'hit ratio', value: null, unit: '%', missingReason: latest.reason, window: windowLabel(latest) }],
        source: 'cache efficiency check',
        runbook: 'cache-no-data',
        since: windowBegan(recent.at(-1) as CacheWindow),
        action: 'Check that the dashboard gets traffic and that the counters query (CACHE_COUNTERS_QUERY) still returns one row.',
        observedAt: options.now,
      },
    });
  } else if (latest?.state === 'ok') {
    requests.push({ action: 'resolve', key: noDataKey });
  }
  return requests;
}

/** The analytics deliverable: OLAP cache stale above 10 min and health score under 60 are critical. */
export function olapSteps(olap: OlapReport, cache: Thresholds['cache'], now: Date): AlertRequest[] {
  const staleKey = cacheKeys.olapStale;
  const healthKey = cacheKeys.olapHealth;
  if (olap.state === 'no_data') {
    return [
      { action: 'hold', key: staleKey, reason: olap.reason },
      { action: 'hold', key: healthKey, reason: olap.reason },
    ];
  }
  const requests: AlertRequest[] = [];
  if (olap.stalenessMinutes > cache.olapStalenessAlertMinutes) {
    requests.push({
      action: 'raise',
      alert: {
        key: staleKey,
        severity: 'critical',
        title: `OLAP cache ${olap.table} not refreshed for ${Math.round(olap.stalenessMinutes)} min`,
        summary: `The dashboard's hourly aggregates were last updated at ${olap.lastUpdated.toISOString()}; the target is under ${cache.olapStalenessTargetMinutes} min.`,
        measurements: [
          {
            name: 'staleness',
            value: olap.stalenessMinutes,
            unit: 'min',
            threshold: { operator: '>', value: cache.olapStalenessAlertMinutes },
          },
        ],
        source: 'cache efficiency check',
        runbook: 'olap-stale',
        // Stale from the moment the last refresh became older than the limit.
        since: new Date(olap.lastUpdated.getTime() + cache.olapStalenessAlertMinutes * 60_000),
        action: 'Check the job that refreshes the OLAP cache (its schedule and its last error); run it by hand.',
        observedAt: now,
      },
    });
  } else {
    requests.push({ action: 'resolve', key: staleKey });
  }
  const unhealthy = olap.healthByTenant.filter((tenant) => tenant.healthScore < cache.healthScoreAlert);
  if (unhealthy.length > 0) {
    requests.push({
      action: 'raise',
      alert: {
        key: healthKey,
        severity: 'critical',
        title: `Health score under ${cache.healthScoreAlert} for ${unhealthy.length} tenant(s)`,
        summary: `Average health score over the last hour's buckets of ${olap.table}; target >= ${cache.healthScoreTarget}.`,
        measurements: unhealthy.map((tenant) => ({
          name: `health score, tenant ${tenant.tenantId}`,
          value: tenant.healthScore,
          unit: '',
          threshold: { operator: '<' as const, value: cache.healthScoreAlert },
          window: 'last hour',
          sampleCount: tenant.buckets,
        })),
        source: 'cache efficiency check',
        runbook: 'olap-health',
        action: 'Look at error rate and p95 of the tenant in performance_metrics_cache; consider the rollback decision.',
        observedAt: now,
      },
    });
  } else if (olap.healthByTenant.length > 0) {
    requests.push({ action: 'resolve', key: healthKey });
  } else {
    requests.push({ action: 'hold', key: healthKey, reason: 'no hour bucket in the last hour' });
  }
  return requests;
}
