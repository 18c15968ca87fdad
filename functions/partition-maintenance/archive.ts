import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { quoteIdentifier } from '../../lib/db';

export interface ArchiveTarget {
  s3: S3Client;
  bucket: string;
  prefix: string;
}

/**
 * Streams a detached partition with COPY (text format: one line a row, newlines escaped) through
 * gzip into S3, then reads the object back and counts its lines against the table's rows. Only a
 * verified archive lets the caller drop the table.
 */
export async function archivePartition(
  client: pg.ClientBase,
  schema: string,
  table: string,
  parent: string,
  target: ArchiveTarget,
  hooks: { afterUpload?: () => void | Promise<void> } = {},
): Promise<{ key: string; rows: number; bytes: number }> {
  const qualified = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const rows = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`)).rows[0]?.n);
  const { rows: columns } = await client.query<{ name: string }>(
    'SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [qualified],
  );
  const key = `${target.prefix}/${schema}.${parent}/${table}.tsv.gz`;
  const copy = client.query(copyTo(`COPY ${qualified} TO STDOUT`));
  const gzip = createGzip();
  const upload = new Upload({
    client: target.s3,
    params: {
      Bucket: target.bucket,
      Key: key,
      Body: gzip,
      ContentType: 'text/tab-separated-values',
      ContentEncoding: 'gzip',
      ServerSideEncryption: 'AES256',
      Metadata: { rows: String(rows), columns: columns.map((column) => column.name).join(','), format: 'postgresql-copy-text' },
    },
  });
  let uploadFailure: unknown;
  const uploaded = upload.done().catch((error: unknown) => {
    uploadFailure = error;
    gzip.destroy(error as Error);
  });
  try {
    await pipeline(copy, gzip);
  } catch (error) {
    await upload.abort().catch(() => {});
    throw uploadFailure ?? error;
  }
  await uploaded;
  if (uploadFailure) throw uploadFailure;
  await hooks.afterUpload?.();

  // Read it back: the number of lines must be the number of rows.
  const object = await target.s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }));
  let lines = 0;
  let bytes = 0;
  await pipeline(
    object.Body as NodeJS.ReadableStream,
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        for (const byte of chunk) if (byte === 10) lines += 1;
        done();
      },
    }),
  );
  if (lines !== rows) throw new Error(`archive ${key} holds ${lines} rows, the partition ${rows}: not dropped`);
  return { key, rows, bytes };
}
