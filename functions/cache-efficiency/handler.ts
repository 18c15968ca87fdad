import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createAlerter } from '../../lib/alerts';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { MetricUnit, metrics } from '../../lib/metrics';
import { isManualEvent, scheduledSlot } from '../../lib/slots';
import { hitRatioSteps, olapSteps } from './alerting';
import { cacheConfig } from './config';
import { type CacheMeasurement, measureCacheEfficiency, recentWindows } from './measure';

const config = loadConfig([cacheConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime']);
const db = createDatabase(config.database);
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

/** Only measured values become metrics: a window without data leaves a gap CloudWatch can see. */
function emitMetrics(measurement: CacheMeasurement) {
  metrics.addDimension('CacheTable', measurement.table);
  const primary = measurement.windows.find((window) => window.source === measurement.primarySource);
  if (primary?.state === 'ok') {
    metrics.addMetric('CacheHitRatio', MetricUnit.Percent, primary.hitRatioPercent);
    metrics.addMetric('CacheFailureRate', MetricUnit.Percent, primary.cacheFailureRatePercent);
    metrics.addMetric('CacheLookups', MetricUnit.Count, primary.lookups);
    if (primary.errorRatePercent !== null) metrics.addMetric('CacheErrorRate', MetricUnit.Percent, primary.errorRatePercent);
  }
  if (measurement.olap.state === 'ok') {
    metrics.addMetric('OlapStalenessSeconds', MetricUnit.Seconds, Math.round(measurement.olap.stalenessMinutes * 60));
    const worst = measurement.olap.healthByTenant[0];
    if (worst) metrics.addMetric('OlapHealthScoreMin', MetricUnit.NoUnit, worst.healthScore);
  }
}

/** Every 15 minutes: the cache hit ratio of the window since the previous run, and the OLAP cache. */
export async function runCacheEfficiency(event?: unknown) {
  if (isManualEvent(event)) {
    // A window runs from one scheduled run to the next: a person's run in between would cut one
    // short and move where the next begins. It answers with the latest windows instead.
    const windows = await recentWindows(db, config.cache.table, config.cache.alertWindows);
    logger.info(`cache efficiency (manual run): the latest ${windows.length} windows of ${config.cache.table}, nothing measured`);
    return {
      manual: true,
      note: 'windows are measured on the schedule only (a manual run would cut one short); the latest are listed',
      windows,
    };
  }
  const thresholds = await loadThresholds(config.thresholds);
  const measurement = await measureCacheEfficiency(db, config.cache, thresholds, {
    concurrentScan: config.database.poolMax >= 2,
  });
  if (!measurement) {
    logger.info('another cacheEfficiency run holds the lock; skipped', { table: config.cache.table });
    return { skipped: true, reason: `another run is measuring ${config.cache.table}` };
  }
  emitMetrics(measurement);
  const recent = await recentWindows(db, config.cache.table, config.cache.alertWindows);
  const alerts = await alerter.apply([
    ...hitRatioSteps(config.cache.table, recent, {
      targetPercent: thresholds.cache.targetHitRatioPercent,
      breaches: config.cache.alertBreaches,
      windows: config.cache.alertWindows,
      now: measurement.measuredAt,
    }),
    ...olapSteps(measurement.olap, thresholds.cache, measurement.measuredAt),
  ]);
  const primary = measurement.windows.find((window) => window.source === measurement.primarySource);
  const interval =
    primary?.state === 'ok' && primary.sample
      ? `, 95 % interval ${primary.sample.hitRatio.low}-${primary.sample.hitRatio.high} %, on ${primary.sample.entries} entries of a fixed slice (${primary.sample.fraction} of the keys)`
      : '';
  logger.info(
    primary?.state === 'ok'
      ? `cache window ${config.cache.table}: hit ratio ${primary.hitRatioPercent} % of ${primary.lookups} lookups (${primary.source})${interval}`
      : `cache window ${config.cache.table}: no data (${primary?.reason})`,
    { windows: measurement.windows, olap: measurement.olap, census: measurement.census },
  );
  return { ...measurement, targetHitRatioPercent: thresholds.cache.targetHitRatioPercent, alerts };
}

export const handler = middy(runCacheEfficiency)
  .use(injectLambdaContext(logger))
  .use(scheduledSlot('cacheEfficiency', db))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
