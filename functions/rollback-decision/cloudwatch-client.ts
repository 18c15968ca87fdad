import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { boundedRequestHandler } from '../../lib/aws/timeouts';
import type { Config } from '../../lib/config';

export function createCloudWatchClient(aws: Config['aws']): CloudWatchClient {
  return new CloudWatchClient({
    region: aws.region,
    requestHandler: boundedRequestHandler('cloudWatch'),
    ...(aws.cloudWatchEndpoint ? { endpoint: aws.cloudWatchEndpoint } : {}),
  });
}
