import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { errorMessage, VigilError } from '../errors';
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

/**
 * Publishes a rendered alert. Throttling, 5xx, timeouts and network failures are retried by the
 * SNS client itself (lib/aws/sns.ts: the SDK's standard retry strategy, which logs each retry); a
 * request SNS refuses as invalid is not. What is left after the last attempt is an
 * AlertDeliveryError carrying how many attempts the SDK made.
 */
export async function publishAlert(sns: SNSClient, topicArn: string, rendered: RenderedMessage): Promise<string> {
  const command = new PublishCommand({
    TopicArn: topicArn,
    Subject: rendered.subject,
    Message: rendered.message,
    MessageStructure: 'json',
    MessageAttributes: rendered.attributes,
  });
  try {
    const { MessageId } = await sns.send(command);
    return MessageId ?? '';
  } catch (error) {
    const key = rendered.attributes.alert_key?.StringValue;
    const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    logger.error('alert could not be published', {
      service: 'SNS',
      alertKey: key,
      subject: rendered.subject,
      attempts,
      error: errorSummary(error),
    });
    throw new AlertDeliveryError(
      `SNS Publish of alert ${key} failed after ${attempts} attempt(s): ${errorMessage(error)}`,
      attempts,
      { cause: error },
    );
  }
}
