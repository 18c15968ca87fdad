import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import { createAlerter } from '../../lib/alerts';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { authenticate, callerOf, type HttpEvent, httpErrors, isHttpEvent, jsonResponse, parseJsonBody } from '../../lib/http';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit } from '../../lib/metrics';
import { isManualEvent, scheduledSlot } from '../../lib/slots';
import { advisesRollback, scheduledAlertRequests } from './alerting';
import { createCloudWatchClient } from './cloudwatch-client';
import { rollbackConfig } from './config';
import { type DecisionAnswer, evaluateRollback, type Trigger } from './evaluate';
import { actions, type SignalName } from './matrix';
import { decisionRequestSchema } from './request';
import { rollbackBeganAt } from './store';

const config = loadConfig([rollbackConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime', 'http']);
const db = createDatabase(config.database);
const cloudWatch = config.rollback.requestsSource === 'cloudwatch' ? createCloudWatchClient(config.aws) : undefined;
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

export async function decideNow(
  trigger: Trigger,
  requestedBy: string,
  input: { overrides?: Partial<Record<SignalName, number>>; complaintsPerHour?: number } = {},
) {
  const thresholds = await loadThresholds(config.thresholds);
  return evaluateRollback({ db, cloudWatch, config: config.rollback, thresholds, trigger, requestedBy, ...input });
}

/**
 * For the dashboard: the effective action as a level (0 continue, 1 monitor, 2 staged, 3
 * immediate; insufficient data emits no level) and every measured signal. Unmeasured ones leave a gap.
 */
function emitDecisionMetrics(answer: DecisionAnswer) {
  const level = (actions as readonly string[]).indexOf(answer.scheduled.effective);
  if (level >= 0) emitMetric({}, 'RollbackDecisionLevel', MetricUnit.NoUnit, level);
  for (const signal of answer.signals) {
    if (signal.value !== null && !signal.overridden)
      emitMetric({ Signal: signal.name }, 'RollbackSignal', MetricUnit.NoUnit, signal.value);
  }
}

/** Scheduled: moves the streaks, stores the decision, and alerts on staged (major) and immediate (critical). */
export async function onSchedule(event?: unknown): Promise<DecisionAnswer> {
  if (isManualEvent(event)) {
    // A person's run (npm run invoke): the answer now, stored as asked from the command line; the
    // streaks, the scheduled answer and its alert are left to the schedule.
    const answer = await decideNow('cli', 'npm run invoke (manual)');
    logger.info(`rollback decision (manual run): ${answer.action} now, ${answer.scheduled.effective} scheduled`);
    return answer;
  }
  const answer = await decideNow('schedule', 'schedule');
  emitDecisionMetrics(answer);
  const effective = answer.scheduled.effective;
  // When the advised rollback began costs a query: asked only when one is advised.
  const since = advisesRollback(answer) ? await rollbackBeganAt(db) : undefined;
  const requests = scheduledAlertRequests(answer, since);
  if (requests.length > 0) await alerter.apply(requests);
  logger.info(`rollback decision: ${answer.action} now, ${effective} scheduled (${answer.scheduled.note})`, {
    decisionId: answer.decisionId,
  });
  return answer;
}

/** GET /rollback/decision, POST /rollback/decision (complaints, or overrides for a what-if). */
export async function onRequest(event: HttpEvent) {
  const body = event.requestContext.http.method === 'POST' ? parseJsonBody(event, decisionRequestSchema) : {};
  const answer = await decideNow(
    'http',
    callerOf(event),
    body as { overrides?: Partial<Record<SignalName, number>>; complaintsPerHour?: number },
  );
  return jsonResponse(200, answer);
}

const schedulePipeline = middy(onSchedule).use(injectLambdaContext(logger)).use(scheduledSlot('rollbackDecision', db));

const httpPipeline = middy<HttpEvent>()
  .use(injectLambdaContext(logger))
  .use(httpHeaderNormalizer())
  .use(httpErrors())
  .use(authenticate({ apiToken: config.http.apiToken }))
  .handler(onRequest);

/** One function, two triggers: the schedule and the HTTP routes. */
export const handler = (event: unknown, context: Context) =>
  isHttpEvent(event) ? httpPipeline(event, context) : schedulePipeline(event, context);
