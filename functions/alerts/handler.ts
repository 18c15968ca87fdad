import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import { createAlerter, type RequestOutcome } from '../../lib/alerts';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { issueFields } from '../../lib/config-fields';
import { createDatabase } from '../../lib/db';
import {
  authenticate,
  callerOf,
  type HttpEvent,
  httpError,
  httpErrors,
  isHttpEvent,
  jsonResponse,
  parseJsonBody,
} from '../../lib/http';
import { logger } from '../../lib/logger';
import { alarmStateChangeSchema, translateAlarmEvent } from './alarm';
import { admitTestAlert } from './test-limit';
import { routedTo, testRequestSchema } from './test-request';

const config = loadConfig(['alerts', 'aws', 'database', 'runtime', 'http']);
const db = createDatabase(config.database);
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

/** A Vigil alarm changed state: tell ops in plain words, and again when it recovers. */
export async function onAlarmStateChange(event: unknown): Promise<{ alarm: string; outcomes: RequestOutcome[] }> {
  const parsed = alarmStateChangeSchema.safeParse(event);
  if (!parsed.success) {
    // Not silently dropped: a failed invocation lands in the on-failure destination.
    throw new Error(`not a CloudWatch Alarm State Change event: ${issueFields(parsed.error.issues)}`);
  }
  const outcomes = await alerter.apply(translateAlarmEvent(parsed.data));
  logger.info('alarm state change handled', { alarm: parsed.data.detail.alarmName, outcomes });
  return { alarm: parsed.data.detail.alarmName, outcomes };
}

/** POST /alerts/test: ops check their email and SMS subscriptions end to end. */
export async function onTestRequest(event: HttpEvent) {
  const body = parseJsonBody(event, testRequestSchema);
  const caller = callerOf(event);
  const admission = await admitTestAlert(db, caller, config.alerts.testAlertsPerMinute);
  if (!admission.admitted) {
    throw httpError(
      429,
      {
        error: `at most ${admission.limit} test alerts a minute per caller; retry in ${admission.retryAfterSeconds} s`,
        retryAfterSeconds: admission.retryAfterSeconds,
      },
      { 'Retry-After': String(admission.retryAfterSeconds) },
    );
  }
  const outcome = await alerter.sendTest(body.severity, body.note ?? '', caller);
  return jsonResponse(202, { ...outcome, severity: body.severity, routedTo: routedTo(body.severity) });
}

const alarmPipeline = middy(onAlarmStateChange).use(injectLambdaContext(logger));

const httpPipeline = middy<HttpEvent>()
  .use(injectLambdaContext(logger))
  .use(httpHeaderNormalizer())
  .use(httpErrors())
  .use(authenticate({ apiToken: config.http.apiToken }))
  .handler(onTestRequest);

/** One function, two triggers: EventBridge alarm changes and the HTTP test route. */
export const handler = (event: unknown, context: Context) =>
  isHttpEvent(event) ? httpPipeline(event, context) : alarmPipeline(event, context);
