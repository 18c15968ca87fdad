import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { BackupObject } from './recorded';

/*
 * The backups, as the bucket lists them. Listing only: the dumps and their manifests are encrypted
 * with a key only the backup function may use, and the bucket policy lets no one else read them.
 * A key says the database and when the dump started (<prefix>/<database>/<yyyy>/<mm>/<dd>/
 * <database>-<ISO time>.dump); a manifest beside it, written last, says it is complete.
 */

const dumpKey =
  /^[^/]+(?:\/[^/]+)*?\/([^/]+)\/\d{4}\/\d{2}\/\d{2}\/[^/]+-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\.dump$/;

export async function listBackups(s3: S3Client, bucket: string, prefix: string): Promise<BackupObject[]> {
  const objects: Array<{ key: string; sizeBytes: number }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key) objects.push({ key: object.Key, sizeBytes: object.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const manifests = new Set(objects.filter((object) => object.key.endsWith('.manifest.json')).map((object) => object.key));
  return objects.flatMap((object) => {
    const match = dumpKey.exec(object.key);
    if (!match) return [];
    return [
      {
        database: match[1] as string,
        key: object.key,
        startedAt: new Date(match[2] as string),
        sizeBytes: object.sizeBytes,
        complete: manifests.has(`${object.key.slice(0, -'.dump'.length)}.manifest.json`),
      },
    ];
  });
}
