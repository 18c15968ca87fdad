import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Config } from '../../lib/config';

export function createCloudWatchClient(aws: Config['aws']): CloudWatchClient {
  return new CloudWatchClient({ region: aws.region, ...(aws.cloudWatchEndpoint ? { endpoint: aws.cloudWatchEndpoint } : {}) });
}
