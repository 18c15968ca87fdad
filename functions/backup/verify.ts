import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { childEnded, stderrTail, toolSucceeded } from './pg-tools';

export interface ReadBack {
  sizeBytes: number;
  sha256: string;
  /** Entries of the archive's table of contents, as `pg_restore --list` prints them. */
  entries: number;
}

export async function openObject(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Readable> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  return object.Body as Readable;
}

/** Writes a stream into a child's stdin with backpressure; stops writing (and keeps reading) once the child closes it. */
export async function feed(
  source: AsyncIterable<Buffer>,
  stdin: Writable,
  onChunk: (chunk: Buffer) => void,
  options: { end: boolean } = { end: true },
): Promise<void> {
  let open = true;
  stdin.on('error', () => {
    open = false;
  });
  stdin.on('close', () => {
    open = false;
  });
  for await (const chunk of source) {
    onChunk(chunk);
    if (open && !stdin.write(chunk)) {
      await new Promise<void>((resolve) => {
        const resume = () => {
          stdin.off('drain', resume);
          stdin.off('close', resume);
          resolve();
        };
        stdin.on('drain', resume);
        stdin.on('close', resume);
      });
    }
  }
  if (open && options.end) stdin.end();
}

/**
 * Reads the stored object back in full: its SHA-256 and size, and the entry count of
 * `pg_restore --list` over the same bytes (`toolEnv`: toolEnvironment()). A dump that pg_restore
 * cannot read is not a backup.
 */
export async function readBack(
  s3: S3Client,
  bucket: string,
  key: string,
  pgRestorePath: string,
  toolEnv: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<ReadBack> {
  const body = await openObject(s3, bucket, key, signal);
  const child = spawn(pgRestorePath, ['--list'], { stdio: ['pipe', 'pipe', 'pipe'], env: toolEnv, signal });
  const stderr = stderrTail(child);
  const ended = childEnded(child);
  ended.catch(() => {});
  let listing = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    listing += text;
  });
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    await feed(body, child.stdin, (chunk) => {
      hash.update(chunk);
      sizeBytes += chunk.length;
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  await toolSucceeded('pg_restore --list', ended, stderr);
  const entries = listing.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(';')).length;
  return { sizeBytes, sha256: hash.digest('hex'), entries };
}
