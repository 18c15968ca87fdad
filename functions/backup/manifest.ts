import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import * as z from 'zod';
import { errorMessage } from '../../lib/errors';
import { serverSideEncryption } from './dump-upload';
import { databasePrefix, dumpKeyOf, isDumpKey, isManifestKey, manifestKeyOf } from './keys';

export const manifestFormat = 'vigil-backup-manifest/1';

export const manifestSchema = z.object({
  format: z.literal(manifestFormat),
  key: z.string(),
  database: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  pgDumpVersion: z.string(),
  serverVersion: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: z.number().nonnegative(),
  /** Entries of `pg_restore --list` over the bytes uploaded (as they streamed, and on a read-back). */
  entries: z.number().int().nonnegative(),
  /**
   * How Vigil knows the stored object is the dump: S3's CRC32 of what it stored equal to the one
   * computed from the bytes read (`s3-checksum`), or a full read-back (`read-back`, with why).
   */
  verification: z
    .object({
      method: z.enum(['s3-checksum', 'read-back']),
      checksumCRC32: z.string().optional(),
      reason: z.string().optional(),
    })
    .optional(),
  parts: z.number().int().nonnegative(),
  partSizeBytes: z.number().int().positive(),
  encryption: z.object({ mode: z.enum(['SSE-S3', 'SSE-KMS']), kmsKeyId: z.string().optional() }),
  /** Rows per table (schema.table), counted in the snapshot pg_dump dumped. */
  tableRows: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** Why tableRows is absent. */
  tableRowsMissing: z.string().optional(),
});
export type Manifest = z.output<typeof manifestSchema>;

/** Written last: its presence is what makes the dump beside it a backup. */
export async function writeManifest(s3: S3Client, bucket: string, manifest: Manifest, kmsKeyId?: string): Promise<string> {
  const key = manifestKeyOf(manifest.key);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(manifest, null, 2)}\n`,
      ContentType: 'application/json',
      ...serverSideEncryption(kmsKeyId),
    }),
  );
  return key;
}

export async function readManifest(s3: S3Client, bucket: string, dumpKey: string): Promise<Manifest> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKeyOf(dumpKey) }));
  const text = await object.Body?.transformToString('utf8');
  return manifestSchema.parse(JSON.parse(text ?? ''));
}

export interface StoredObject {
  key: string;
  sizeBytes: number;
  lastModified: Date;
}

export interface BackupListing {
  /** Dumps with a readable manifest that matches them, newest first. */
  complete: Manifest[];
  /** Dumps without a manifest: a failed run whose clean-up failed, or one still running. */
  unfinished: StoredObject[];
  /** Manifests that cannot be read or do not match their dump; never deleted by Vigil. */
  broken: Array<{ key: string; reason: string }>;
}

async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (object.Key) {
        objects.push({ key: object.Key, sizeBytes: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) });
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

async function mapConcurrently<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

/** The history of one database's backups, from the manifests. */
export async function listBackups(s3: S3Client, bucket: string, prefix: string, database: string): Promise<BackupListing> {
  const objects = await listAll(s3, bucket, databasePrefix(prefix, database));
  const dumps = new Map(objects.filter((object) => isDumpKey(object.key)).map((object) => [object.key, object]));
  const manifestKeys = objects.filter((object) => isManifestKey(object.key)).map((object) => object.key);
  const listing: BackupListing = { complete: [], unfinished: [], broken: [] };
  const read = await mapConcurrently(manifestKeys, 8, async (key) => {
    const dump = dumps.get(dumpKeyOf(key));
    try {
      const manifest = await readManifest(s3, bucket, dumpKeyOf(key));
      if (!dump) return { key, reason: 'its dump is missing' };
      if (dump.sizeBytes !== manifest.sizeBytes) {
        return { key, reason: `its dump holds ${dump.sizeBytes} bytes, the manifest says ${manifest.sizeBytes}` };
      }
      return manifest;
    } catch (error) {
      return { key, reason: `unreadable: ${errorMessage(error).slice(0, 200)}` };
    }
  });
  const described = new Set(manifestKeys.map(dumpKeyOf));
  for (const entry of read) {
    if ('format' in entry) listing.complete.push(entry);
    else listing.broken.push(entry);
  }
  listing.complete.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  listing.unfinished = [...dumps.values()].filter((dump) => !described.has(dump.key));
  return listing;
}

/** Deletes keys in batches of 1,000, failing on the first key S3 would not delete. */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += 1000) {
    const batch = keys.slice(start, start + 1000);
    const result = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
    );
    const refused = result.Errors ?? [];
    if (refused.length > 0) {
      throw new Error(
        `S3 refused to delete ${refused.length} object(s): ${refused
          .slice(0, 3)
          .map((error) => `${error.Key} (${error.Code})`)
          .join(', ')}`,
      );
    }
  }
}
