import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { VigilError } from '../errors';
import { errorSummary, logger } from '../logger';
import type { RenderedMessage } from './render';

/** SNS refused or could not be reached after every retry: the caller's invocation must fail. */
export class AlertDeliveryError extends VigilError {
  readonly attempts: number;

  constructor(message: string, attempts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertDeliveryError';
    this.attempts = attempts;
  }
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Throttling, a 5xx, or a network failure, as the AWS SDK itself classifies them; a 4xx such as InvalidParameter is not. */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const classified = error as Parameters<typeof isThrottlingError>[0];
  return isThrottlingError(classified) || isTransientError(classified) || isServerError(classified);
}

/** Publishes a rendered alert, retrying throttling and server errors with exponential backoff and jitter. */
export async function publishAlert(
  sns: SNSClient,
  topicArn: string,
  rendered: RenderedMessage,
  retry: RetryPolicy,
): Promise<string> {
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const command = new PublishCommand({
    TopicArn: topicArn,
    Subject: rendered.subject,
    Message: rendered.message,
    MessageStructure: 'json',
    MessageAttributes: rendered.attributes,
  });
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { MessageId } = await sns.send(command);
      return MessageId ?? '';
    } catch (error) {
      const key = rendered.attributes.alert_key?.StringValue;
      if (!isRetryable(error) || attempt >= retry.attempts) {
        logger.error('alert could not be published', {
          service: 'SNS',
          alertKey: key,
          subject: rendered.subject,
          attempt,
          error: errorSummary(error),
        });
        throw new AlertDeliveryError(
          `SNS Publish of alert ${key} failed after ${attempt} attempt(s): ${(error as Error).message}`,
          attempt,
          {
            cause: error,
          },
        );
      }
      const delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      const jittered = delay / 2 + Math.random() * (delay / 2);
      logger.warn('alert publish failed, retrying', {
        service: 'SNS',
        alertKey: key,
        attempt,
        delayMs: Math.round(jittered),
        error: errorSummary(error),
      });
      await sleep(jittered);
    }
  }
}
