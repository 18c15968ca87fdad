import { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config';
import { boundedRequestHandler } from './timeouts';

/** SNS carries alerts only; lib/alerts retries Publish itself (counted, logged, configurable), so the SDK does not. */
export function createSnsClient(aws: Config['aws']): SNSClient {
  return new SNSClient({
    region: aws.region,
    maxAttempts: 1,
    requestHandler: boundedRequestHandler('sns'),
    ...(aws.snsEndpoint ? { endpoint: aws.snsEndpoint } : {}),
  });
}
