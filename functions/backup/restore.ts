import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { VigilError } from '../../lib/errors';
import { type Manifest, readManifest } from './manifest';
import { childEnded, stderrTail, toolMajorVersion, toolSucceeded, toolVersion } from './pg-tools';
import { feed, openObject } from './verify';

export class ChecksumMismatchError extends VigilError {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumMismatchError';
  }
}

/** pg_restore reads archives of its own major and older: the dump's pg_dump names the least it needs. */
export class RestoreToolTooOldError extends VigilError {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreToolTooOldError';
  }
}

/** The pg_restore major a backup needs, from its manifest's pgDumpVersion; undefined when it does not say. */
export const pgRestoreMajorFor = (manifest: Pick<Manifest, 'pgDumpVersion'>) => toolMajorVersion(manifest.pgDumpVersion);

export interface RestoreOptions {
  pgRestorePath: string;
  /** libpq environment naming the target database (PGDATABASE) and how to reach it. */
  env: NodeJS.ProcessEnv;
  /** Drop the objects of the dump that already exist in the target first (pg_restore --clean --if-exists). */
  clean?: boolean;
  signal?: AbortSignal;
}

export interface Restored {
  manifest: Manifest;
  sizeBytes: number;
  durationMs: number;
}

/**
 * Streams a backup from S3 into pg_restore, in one transaction. The object's SHA-256 is checked
 * against the manifest before pg_restore is handed the last chunk: a mismatch kills pg_restore,
 * so its transaction rolls back and the target is left as it was.
 */
export async function restoreBackup(s3: S3Client, bucket: string, dumpKey: string, options: RestoreOptions): Promise<Restored> {
  const started = performance.now();
  const manifest = await readManifest(s3, bucket, dumpKey);
  const needed = pgRestoreMajorFor(manifest);
  if (needed !== undefined) {
    // Before a byte is read: an archive of a newer pg_dump fails pg_restore late and unclearly.
    const tool = await toolVersion(options.pgRestorePath, options.env);
    if (tool.major < needed) {
      throw new RestoreToolTooOldError(
        `${dumpKey} was written by ${manifest.pgDumpVersion}: it needs pg_restore ${needed} or newer, and ${options.pgRestorePath} is ${tool.line}; set PG_RESTORE_PATH to a pg_restore ${needed}+`,
      );
    }
  }
  const body = await openObject(s3, bucket, dumpKey, options.signal);
  const database = options.env.PGDATABASE;
  if (!database) throw new VigilError('restore target names no database');
  const args = [
    '--no-owner',
    '--no-privileges',
    '--exit-on-error',
    '--single-transaction',
    ...(options.clean ? ['--clean', '--if-exists'] : []),
    `--dbname=${database}`,
  ];
  const child = spawn(options.pgRestorePath, args, {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: options.env,
    signal: options.signal,
  });
  const stderr = stderrTail(child);
  const ended = childEnded(child);
  ended.catch(() => {});

  const hash = createHash('sha256');
  let sizeBytes = 0;
  let held: Buffer | undefined;
  async function* holdingBackTheLastChunk() {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (held) yield held;
      held = chunk;
    }
  }
  try {
    await feed(
      holdingBackTheLastChunk(),
      child.stdin,
      (chunk) => {
        hash.update(chunk);
        sizeBytes += chunk.length;
      },
      // Ended below, with the last chunk, once the checksum is known.
      { end: false },
    );
    if (held) {
      hash.update(held);
      sizeBytes += held.length;
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== manifest.sha256 || sizeBytes !== manifest.sizeBytes) {
      throw new ChecksumMismatchError(
        `${dumpKey}: read ${sizeBytes} bytes with SHA-256 ${sha256}, the manifest says ${manifest.sizeBytes} bytes and ${manifest.sha256}; nothing was restored`,
      );
    }
  } catch (error) {
    child.kill('SIGKILL');
    await ended.catch(() => {});
    throw error;
  }
  child.stdin.end(held ?? Buffer.alloc(0));
  await toolSucceeded('pg_restore', ended, stderr);
  return { manifest, sizeBytes, durationMs: performance.now() - started };
}
