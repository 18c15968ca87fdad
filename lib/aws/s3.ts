import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config';
import { boundedRequestHandler } from './timeouts';

/*
 * Clients are built once per container by the handler that needs them (at module scope) and
 * handed to the modules that use them. Endpoints come from the SDK's own AWS_ENDPOINT_URL_*
 * variables; Vigil only adds what a local endpoint needs on top. One module per client, so a
 * function's bundle holds only the clients it imports (bench: bundle).
 */

export function createS3Client(aws: Config['aws']): S3Client {
  const requestHandler = boundedRequestHandler('s3');
  if (!aws.s3Endpoint) return new S3Client({ region: aws.region, requestHandler });
  return new S3Client({
    region: aws.region,
    requestHandler,
    endpoint: aws.s3Endpoint,
    forcePathStyle: true,
    // Local S3 servers store the aws-chunked framing of a streamed upload as the object body
    // unless the SDK sends checksums only when an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
