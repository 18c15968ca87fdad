import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Period } from './recorded';

/** reports/<day|week>/<end of the period>.html */
export const pageKeyOf = (prefix: string, period: Period) =>
  `${prefix}/${period.kind}/${period.end
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')}.html`;

/**
 * The page into the bucket, and a link to it signed for `linkSeconds`. SSE-S3 (AES256) named on the
 * request: the bucket's default key is the backups', which only the backup function may use.
 */
export async function publishPage(
  s3: S3Client,
  bucket: string,
  key: string,
  html: string,
  linkSeconds: number,
  now = new Date(),
): Promise<{ key: string; url: string; expiresAt: Date; location: string }> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: html,
      ContentType: 'text/html; charset=utf-8',
      ServerSideEncryption: 'AES256',
    }),
  );
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: linkSeconds });
  return { key, url, expiresAt: new Date(now.getTime() + linkSeconds * 1000), location: `s3://${bucket}/${key}` };
}
