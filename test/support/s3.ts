import { S3Client } from '@aws-sdk/client-s3';
import { type LocalAws, localCredentials } from '../../local/local-aws';

/** A client of the local S3 (fauxqs) the way the tests read and seed it: its endpoint, path style, local credentials. */
export function localS3Client(sns: Pick<LocalAws, 'region' | 'endpoint'>): S3Client {
  return new S3Client({ region: sns.region, endpoint: sns.endpoint, forcePathStyle: true, credentials: localCredentials });
}
