import { SNSClient } from '@aws-sdk/client-sns';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { Config } from '../config';
import { errorSummary, logger } from '../logger';
import { boundedRequestHandler } from './timeouts';

/**
 * SNS carries alerts. Retries are the SDK's standard strategy (throttling, 5xx, timeouts and
 * network errors; exponential backoff with jitter; a retry quota), `attempts` in all
 * (VIGIL_ALERT_PUBLISH_ATTEMPTS); each attempt is bounded by lib/aws/timeouts.ts. A failed attempt
 * that will be retried is logged here, with the alert it carried, so a slow delivery shows why.
 */
export function createSnsClient(aws: Config['aws'], attempts: number): SNSClient {
  const client = new SNSClient({
    region: aws.region,
    maxAttempts: attempts,
    retryMode: 'standard',
    requestHandler: boundedRequestHandler('sns'),
    ...(aws.snsEndpoint ? { endpoint: aws.snsEndpoint } : {}),
  });
  // Inside the retry middleware: it sees every attempt, numbered by the SDK's own amz-sdk-request header.
  type Args = { request: unknown; input: object };
  const logAttempts = (next: (args: Args) => Promise<unknown>) => async (args: Args) => {
    try {
      return await next(args);
    } catch (error) {
      const header = (args.request as { headers?: Record<string, string> }).headers?.['amz-sdk-request'] ?? '';
      const attempt = Number(/attempt=(\d+)/.exec(header)?.[1] ?? 1);
      const input = args.input as { MessageAttributes?: Record<string, { StringValue?: string }> };
      // What the standard strategy retries: throttling, transient (network, timeouts) and 5xx errors.
      const classified = error as Parameters<typeof isThrottlingError>[0];
      const retried = isThrottlingError(classified) || isTransientError(classified) || isServerError(classified);
      if (retried && attempt < attempts) {
        logger.warn('alert publish failed, retrying', {
          service: 'SNS',
          alertKey: input.MessageAttributes?.alert_key?.StringValue,
          attempt,
          of: attempts,
          error: errorSummary(error),
        });
      }
      throw error;
    }
  };
  client.middlewareStack.addRelativeTo(logAttempts as Parameters<SNSClient['middlewareStack']['add']>[0], {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: 'vigilAttemptLog',
  });
  return client;
}
