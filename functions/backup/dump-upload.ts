import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { childEnded, PgToolError, stderrTail, toolSucceeded } from './pg-tools';
import { type ArchiveLister, startLister } from './verify';

export interface DumpCommand {
  path: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export interface UploadTarget {
  s3: S3Client;
  bucket: string;
  key: string;
  kmsKeyId?: string;
  queueSize: number;
  partSizeBytes: number;
  metadata?: Record<string, string>;
}

export interface DumpUploaded {
  sizeBytes: number;
  sha256: string;
  parts: number;
  /** Entries of the archive's table of contents, as `pg_restore --list` printed them while it streamed. */
  entries: number;
  /**
   * S3's CRC32 of what it stored (per part, verified by S3 against the checksum sent with each
   * part, combined as S3 combines them) beside the same computed here from the bytes read; `stored`
   * is absent when the server returned none (then only a read-back can prove what it holds).
   */
  checksum: { algorithm: 'CRC32'; computed: string; stored?: string };
  /** pg_dump's stderr on success (warnings), trimmed. */
  stderr: string;
}

/**
 * CRC32 per part of `partSizeBytes` (the parts lib-storage cuts) and their combination as S3 gives
 * a multipart object's checksum: base64 of the CRC32 of the parts' big-endian CRC32s, "-<parts>";
 * a single-part object's is its own CRC32.
 */
export class PartChecksums {
  private readonly done: number[] = [];
  private current = 0;
  private filled = 0;
  constructor(private readonly partSizeBytes: number) {}

  update(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.partSizeBytes - this.filled);
      this.current = crc32(chunk.subarray(offset, offset + take), this.current);
      this.filled += take;
      offset += take;
      if (this.filled === this.partSizeBytes) {
        this.done.push(this.current);
        this.current = 0;
        this.filled = 0;
      }
    }
  }

  /** The object's checksum as S3 reports it. */
  combined(): string {
    const parts = this.filled > 0 || this.done.length === 0 ? [...this.done, this.current] : this.done;
    const bigEndian = (value: number) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value >>> 0);
      return bytes;
    };
    if (parts.length === 1) return bigEndian(parts[0] as number).toString('base64');
    return `${bigEndian(crc32(Buffer.concat(parts.map(bigEndian)))).toString('base64')}-${parts.length}`;
  }
}

/**
 * The failure that started it, with what failed after it (an abort of the multipart upload that
 * was refused too): the root cause is named first, never replaced by a cleanup's error.
 */
export class DumpUploadError extends Error {
  constructor(
    readonly root: Error,
    readonly secondary: string[],
  ) {
    super(root.message, { cause: root });
    this.name = 'DumpUploadError';
  }
}

const MiB = 1024 * 1024;
const minPartBytes = 8 * MiB;
const maxPartBytes = 5 * 1024 * MiB;
const maxParts = 10_000;

/**
 * The part size for a dump of a database of `databaseBytes`: a custom-format dump is compressed
 * and holds no index data, so it is almost always smaller than the database; sizing parts for one
 * and a half times the database keeps the upload under S3's 10,000 parts with room to spare.
 * Memory held is about (queueSize + 1) parts.
 */
export function partSizeFor(databaseBytes: number): number {
  const needed = Math.ceil((databaseBytes * 1.5) / maxParts);
  return Math.min(maxPartBytes, Math.max(minPartBytes, Math.ceil(needed / MiB) * MiB));
}

export function serverSideEncryption(kmsKeyId: string | undefined) {
  return kmsKeyId
    ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId }
    : { ServerSideEncryption: 'AES256' as const };
}

/**
 * Streams pg_dump's stdout into an S3 multipart upload, hashing it on the way. It fails closed:
 * the end of the stream is held back until pg_dump has exited, and only an exit status of 0 lets
 * the upload complete; any failure (pg_dump's, a refused part, the watchdog's `signal`) destroys
 * the stream so lib-storage aborts the multipart upload, and no object is left.
 */
export async function dumpToS3(
  command: DumpCommand,
  target: UploadTarget,
  signal: AbortSignal,
  lister: ArchiveLister,
): Promise<DumpUploaded> {
  signal.throwIfAborted();
  const child = spawn(command.path, command.args, { env: command.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = stderrTail(child);
  const ended = childEnded(child);
  ended.catch(() => {});
  const listing = startLister(lister);

  const hash = createHash('sha256');
  const checksums = new PartChecksums(target.partSizeBytes);
  let sizeBytes = 0;
  let entries = 0;
  // One pass over the bytes: hashed, checksummed per part, listed by pg_restore and uploaded.
  const gate = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      checksums.update(chunk);
      sizeBytes += chunk.length;
      listing.write(chunk).then(() => done(null, chunk), done);
    },
    flush(done) {
      toolSucceeded('pg_dump', ended, stderr)
        .then(() => listing.finish())
        .then((listed) => {
          // An archive pg_restore cannot list is not a backup: the upload must not complete.
          if (listed === 0) throw new Error('pg_restore --list found no entries in the dump');
          entries = listed;
        })
        .then(() => done(), done);
    },
  });

  const fail = (error: Error) => {
    child.kill('SIGKILL');
    listing.child.kill('SIGKILL');
    gate.destroy(error);
  };
  const onAbort = () => fail(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  signal.addEventListener('abort', onAbort, { once: true });

  // Every refused request, in order: the first is the root cause, the rest (the abort) follow it.
  const refused: Array<{ command: string; error: Error }> = [];
  // One refused part stops the feed at once, rather than after the other parts have gone up.
  const s3 = new Proxy(target.s3, {
    get(client, property, receiver) {
      if (property !== 'send') return Reflect.get(client, property, receiver);
      return (...args: Parameters<S3Client['send']>) =>
        (client.send as (...sent: typeof args) => Promise<unknown>)(...args).catch((error: Error) => {
          refused.push({ command: args[0]?.constructor?.name ?? 'S3 request', error });
          fail(error);
          throw error;
        });
    },
  });
  let parts = 0;
  const upload = new Upload({
    client: s3,
    queueSize: target.queueSize,
    partSize: target.partSizeBytes,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: gate,
      ContentType: 'application/vnd.postgresql.custom-dump',
      // S3 checks each part against its CRC32 and reports the object's: what it stored is what was read.
      ChecksumAlgorithm: 'CRC32',
      ...serverSideEncryption(target.kmsKeyId),
      ...(target.metadata ? { Metadata: target.metadata } : {}),
    },
  });
  upload.on('httpUploadProgress', (progress) => {
    parts = Math.max(parts, progress.part ?? 0);
  });

  const [piped, uploaded] = await Promise.allSettled([pipeline(child.stdout, gate), upload.done()]);
  signal.removeEventListener('abort', onAbort);
  const end = await ended.catch(() => undefined);
  if (piped.status === 'rejected' || uploaded.status === 'rejected') {
    if (!end || end.code === null) child.kill('SIGKILL');
    listing.child.kill('SIGKILL');
    // Say what started the failure: the watchdog, pg_dump's own words, the first refused S3
    // request, else the upload's error; what failed after it follows, never in its place.
    const firstRefusal = refused.find((entry) => entry.command !== 'AbortMultipartUploadCommand')?.error;
    const reason: Error = signal.aborted
      ? signal.reason
      : piped.status === 'rejected' && piped.reason instanceof PgToolError
        ? piped.reason
        : (firstRefusal ?? (uploaded.status === 'rejected' ? uploaded.reason : (piped as PromiseRejectedResult).reason));
    const secondary = refused
      .filter((entry) => entry.error !== reason && entry.command === 'AbortMultipartUploadCommand')
      .map(
        (entry) =>
          `the multipart upload could not be aborted (its parts stay until the bucket's lifecycle rule removes incomplete uploads): ${entry.error.message}`,
      );
    throw secondary.length ? new DumpUploadError(reason, secondary) : reason;
  }
  const stored = (uploaded.value as { ChecksumCRC32?: string }).ChecksumCRC32;
  return {
    sizeBytes,
    sha256: hash.digest('hex'),
    parts,
    entries,
    checksum: { algorithm: 'CRC32', computed: checksums.combined(), ...(stored ? { stored } : {}) },
    stderr: stderr(),
  };
}
