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

/** `pg_restore --list`, to be fed an archive on stdin: the archive must parse and list entries. */
export interface ArchiveLister {
  path: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A child's stdin, written with backpressure. Once the child closes it (pg_restore --list is done
 * with the table of contents), writes are dropped: the caller keeps reading. `write` answers
 * undefined when the caller may go on at once, else a promise of when it may (the chunk stays
 * referenced until written: its bytes must not change before).
 */
function stdinWriter(stdin: Writable) {
  let open = true;
  const closed = () => {
    open = false;
  };
  stdin.on('error', closed);
  stdin.on('close', closed);
  return {
    write(chunk: Buffer): Promise<void> | undefined {
      if (!open || stdin.write(chunk)) return undefined;
      return new Promise((resolve) => {
        const resume = () => {
          stdin.off('drain', resume);
          stdin.off('close', resume);
          resolve();
        };
        stdin.on('drain', resume);
        stdin.on('close', resume);
      });
    },
    end(): void {
      if (open) stdin.end();
    },
  };
}

/**
 * Spawns `pg_restore --list` to read the archive from stdin; it reads the table of contents and
 * exits. `signal` kills it.
 */
export function startLister(lister: ArchiveLister, signal?: AbortSignal) {
  const child = spawn(lister.path, ['--list'], { stdio: ['pipe', 'pipe', 'pipe'], env: lister.env, signal });
  const stderr = stderrTail(child);
  const ended = childEnded(child);
  ended.catch(() => {});
  let listing = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    listing += text;
  });
  const stdin = stdinWriter(child.stdin);
  return {
    child,
    /** Hands it a chunk; undefined, or a promise resolved, once it may take more (or has closed its input, done with the TOC). */
    write: stdin.write,
    /** Its entry count, once it exited 0. */
    async finish(): Promise<number> {
      stdin.end();
      await toolSucceeded('pg_restore --list', ended, stderr);
      return listing.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(';')).length;
    },
  };
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
  const writer = stdinWriter(stdin);
  for await (const chunk of source) {
    onChunk(chunk);
    await writer.write(chunk);
  }
  if (options.end) writer.end();
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
  const lister = startLister({ path: pgRestorePath, env: toolEnv }, signal);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let entries: number;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      await lister.write(chunk);
    }
    entries = await lister.finish();
  } catch (error) {
    lister.child.kill('SIGKILL');
    throw error;
  }
  return { sizeBytes, sha256: hash.digest('hex'), entries };
}
