import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from './config';

/*
 * Clients are built once per container by the handler that needs them (at module scope) and
 * handed to the modules that use them. Endpoints come from the SDK's own AWS_ENDPOINT_URL_*
 * variables; Vigil only adds what a local endpoint needs on top.
 */

export function createS3Client(aws: Config['aws']): S3Client {
  if (!aws.s3Endpoint) return new S3Client({ region: aws.region });
  return new S3Client({
    region: aws.region,
    endpoint: aws.s3Endpoint,
    forcePathStyle: true,
    // Local S3 servers store the aws-chunked framing of a streamed upload as the object body
    // unless the SDK sends checksums only when an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** SNS carries alerts only; lib/alerts retries Publish itself (counted, logged, configurable), so the SDK does not. */
export function createSnsClient(aws: Config['aws']): SNSClient {
  return new SNSClient({ region: aws.region, maxAttempts: 1, ...(aws.snsEndpoint ? { endpoint: aws.snsEndpoint } : {}) });
}

export function createCloudWatchClient(aws: Config['aws']): CloudWatchClient {
  return new CloudWatchClient({ region: aws.region, ...(aws.cloudWatchEndpoint ? { endpoint: aws.cloudWatchEndpoint } : {}) });
}
