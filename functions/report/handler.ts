import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import { createAlerter } from '../../lib/alerts';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { authenticate, callerOf, type HttpEvent, httpErrors, isHttpEvent, jsonResponse } from '../../lib/http';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit, metrics } from '../../lib/metrics';
import { isManualEvent, isScheduledEvent, scheduledSlot } from '../../lib/slots';
import { reportConfig } from './config';
import { digestAlert } from './digest';
import type { PeriodKind } from './recorded';
import type { Report } from './report';
import { requestedPeriod, scheduledPeriod } from './request';
import { type MadeReport, makeReport } from './run';

const config = loadConfig([reportConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime', 'http']);
const db = createDatabase(config.database);
const s3 = config.report.bucket ? createS3Client(config.aws) : undefined;
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

export async function reportNow(
  kind: PeriodKind,
  end: Date,
  options: { trigger: 'schedule' | 'http' | 'cli'; requestedBy: string; publish: boolean },
): Promise<MadeReport> {
  const thresholds = await loadThresholds(config.thresholds);
  return makeReport({ db, s3, config: config.report, thresholds, stage: config.runtime.stage }, kind, end, options);
}

/** The scorecard's headline figures, where it measured them, and its verdict counts: what the dashboard draws. */
function emitReportMetrics(report: Report) {
  const dimensions = { Period: report.period.kind };
  emitMetric(dimensions, 'ScorecardPromisesMet', MetricUnit.Count, report.verdicts.met);
  emitMetric(dimensions, 'ScorecardPromisesMissed', MetricUnit.Count, report.verdicts.missed);
  const value = (id: string) => report.rows.find((row) => row.id === id || row.id.startsWith(`${id}:`))?.value ?? null;
  const loadReduction = value('load-reduction-p50');
  if (loadReduction !== null) emitMetric(dimensions, 'ScorecardLoadReductionP50', MetricUnit.Percent, loadReduction);
  const hitRatio = value('cache-hit-ratio');
  if (hitRatio !== null) emitMetric(dimensions, 'ScorecardCacheHitRatio', MetricUnit.Percent, hitRatio);
  const errorRate = value('error-rate');
  if (errorRate !== null) emitMetric(dimensions, 'ScorecardErrorRate', MetricUnit.Percent, errorRate);
}

/** What an answer says of a report: the scorecard whole, the page's link, no HTML. */
const answerOf = (made: MadeReport) => ({
  reportId: made.id,
  period: made.report.period,
  generatedAt: made.report.generatedAt,
  verdicts: made.report.verdicts,
  missed: made.report.missed,
  rows: made.report.rows,
  recommendations: made.report.recommendations,
  alerts: made.report.alerts,
  ...(made.page ? { page: { location: made.page.location, url: made.page.url, expiresAt: made.page.expiresAt } } : {}),
});

/**
 * Daily and weekly: the period that ends at the slot, stored, its page published and the digest
 * sent to ops (info, by email). A manual run (npm run invoke) is answered and stored, not sent.
 */
export async function onSchedule(event?: unknown) {
  const kind = scheduledPeriod(event);
  if (isManualEvent(event) || !isScheduledEvent(event)) {
    const made = await reportNow(kind, new Date(), { trigger: 'cli', requestedBy: 'npm run invoke (manual)', publish: false });
    logger.info(`report (manual run, not sent): ${made.report.verdicts.missed} missed`, { reportId: made.id });
    return answerOf(made);
  }
  const made = await reportNow(kind, new Date(event.time), { trigger: 'schedule', requestedBy: 'schedule', publish: true });
  emitReportMetrics(made.report);
  const digest = await alerter.sendDigest(digestAlert(made.report, config.runtime.stage, made.page));
  logger.info(`report of the ${kind} to ${made.report.period.end.toISOString()}: ${made.report.missed.length} missed`, {
    reportId: made.id,
    missed: made.report.missed,
    messageId: digest.messageId,
  });
  return { ...answerOf(made), digest };
}

/** GET /report?period=day|week: the scorecard of the period ending now, stored and its page published. */
export async function onRequest(event: HttpEvent) {
  const made = await reportNow(requestedPeriod(event), new Date(), {
    trigger: 'http',
    requestedBy: callerOf(event),
    publish: true,
  });
  return jsonResponse(200, answerOf(made));
}

// Each period its own slot, so a daily and a weekly run at the same minute are not taken for one another.
const dailyPipeline = middy(onSchedule)
  .use(injectLambdaContext(logger))
  .use(scheduledSlot('report', db))
  .use(logMetrics(metrics));
const weeklyPipeline = middy(onSchedule)
  .use(injectLambdaContext(logger))
  .use(scheduledSlot('report:week', db))
  .use(logMetrics(metrics));

const httpPipeline = middy<HttpEvent>()
  .use(injectLambdaContext(logger))
  .use(httpHeaderNormalizer())
  .use(httpErrors())
  .use(authenticate({ apiToken: config.http.apiToken }))
  .handler(onRequest);

/** One function, three triggers: the daily and weekly schedules and the HTTP route. */
export const handler = (event: unknown, context: Context) => {
  if (isHttpEvent(event)) return httpPipeline(event, context);
  return scheduledPeriod(event) === 'week' ? weeklyPipeline(event, context) : dailyPipeline(event, context);
};
