import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type OnReadOpts, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { VigilError } from '../../lib/errors';
import { PartUploader, type UploadTarget } from './part-upload';
import { childEnded, stderrTail, toolSucceeded } from './pg-tools';
import { ReadPacing } from './read-pacing';
import { type ArchiveLister, startLister } from './verify';

export { serverSideEncryption, type UploadTarget } from './part-upload';

export interface DumpCommand {
  path: string;
  args: string[];
  env: NodeJS.ProcessEnv;
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
 * CRC32 per part of `partSizeBytes` and their combination as S3 gives a multipart object's
 * checksum: base64 of the CRC32 of the parts' big-endian CRC32s, "-<parts>"; a single-part
 * object's (one PutObject) is its own CRC32.
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

  /** A whole part at once (the last one may be shorter): its CRC32, as sent with it. */
  addPart(part: Buffer): number {
    if (this.filled !== 0) throw new Error('addPart after a partial update');
    const value = crc32(part) >>> 0;
    this.done.push(value);
    return value;
  }

  /** The object's checksum as S3 reports it; `multipart`: uploaded in parts, even a single one. */
  combined(options: { multipart?: boolean } = {}): string {
    const parts = this.filled > 0 || this.done.length === 0 ? [...this.done, this.current] : this.done;
    const bigEndian = (value: number) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value >>> 0);
      return bytes;
    };
    if (parts.length === 1 && !options.multipart) return bigEndian(parts[0] as number).toString('base64');
    return `${bigEndian(crc32(Buffer.concat(parts.map(bigEndian)))).toString('base64')}-${parts.length}`;
  }
}

/**
 * The failure that started it, with what failed after it (an abort of the multipart upload that
 * was refused too): the root cause is named first, never replaced by a cleanup's error.
 */
export class DumpUploadError extends VigilError {
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

/** Where a read lands when no part buffer is free (copied into the next one): the only copy made. */
const parkingBytes = 256 * 1024;

/**
 * A connected pair of Unix sockets: `writer` becomes pg_dump's stdout, `reader` is read with
 * `onread`, straight into the part buffers (no allocation per read, no copy). Made through a
 * listening socket in a private directory (mode 0700, removed at once), as Node makes no socket
 * pair of its own that can be read this way.
 */
async function dumpChannel(onread: OnReadOpts): Promise<{ reader: Socket; writer: Socket }> {
  const directory = await mkdtemp(join(tmpdir(), 'vigil-dump-'));
  const server = createServer({ pauseOnConnect: true });
  try {
    const path = join(directory, 'stdout');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const reader = connect({ path, onread });
    await new Promise<void>((resolve, reject) => {
      reader.once('connect', resolve);
      reader.once('error', reject);
    });
    return { reader, writer: await accepted };
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Streams pg_dump's stdout into an S3 multipart upload, hashing it on the way. It fails closed:
 * the last part goes up only once pg_dump has exited 0 and `pg_restore --list` has read the
 * archive, and only then is the upload completed; any failure (pg_dump's, a refused part, the
 * watchdog's `signal`) aborts the multipart upload, so no object is left.
 *
 * Node's share of the work is kept small: the bytes are read into a fixed set of part buffers,
 * reused (no allocation or copy per read, no concatenation), each part is hashed (SHA-256) and
 * checksummed (CRC32) once, whole, and its CRC32 is sent with it, so the SDK computes none and
 * signs no payload hash.
 */
// Over 80 lines: the pipe from pg_dump through reused part buffers to S3 and its teardown share the stream's state; not yet cut into stages (issue 33).
export async function dumpToS3(
  command: DumpCommand,
  target: UploadTarget,
  signal: AbortSignal,
  lister: ArchiveLister,
): Promise<DumpUploaded> {
  signal.throwIfAborted();
  const hash = createHash('sha256');
  const checksums = new PartChecksums(target.partSizeBytes);
  const parking = Buffer.allocUnsafeSlow(Math.min(parkingBytes, target.partSizeBytes));
  let sizeBytes = 0;
  let partNumber = 0;
  let filled = 0;
  let listerWaits = false;
  const pacing = new ReadPacing();
  let batchTimer: NodeJS.Timeout | undefined;
  let ended = false;
  let child: ChildProcess | undefined;
  let listing: ReturnType<typeof startLister> | undefined;
  let reader: Socket | undefined;

  // The first failure is the root cause; everything stops at once.
  let failure: Error | undefined;
  let rejectFailed: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => {});
  const guard = <T>(work: Promise<T>) => Promise.race([work, failed]);
  function fail(error: Error) {
    if (failure) return;
    failure = error;
    child?.kill('SIGKILL');
    listing?.child.kill('SIGKILL');
    clearTimeout(batchTimer);
    reader?.destroy();
    rejectFailed(error);
  }

  const uploader = new PartUploader(target, fail, () => {
    if (!part) {
      part = uploader.take();
      filled = 0;
    }
    resumeReading();
  });
  let part = uploader.take();

  // Once the reader is paused (its callback returned false), only this starts it again.
  function resumeReading() {
    if (part && !listerWaits && !batchTimer && !failure && !ended) reader?.resume();
  }
  const partFull = (full: Buffer) => {
    hash.update(full);
    partNumber += 1;
    uploader.enqueue({ buffer: full, sizeBytes: full.length, crc32: checksums.addPart(full), partNumber });
    part = uploader.take();
    filled = 0;
  };
  // `bytes` were read into `into`: the free end of `part`, or the parking buffer when none was free.
  const landed = (bytes: number, into: Uint8Array): boolean => {
    const current = part as Buffer;
    // Read into parking while no part was free: `part` is a fresh one now, larger than parking.
    if (into === parking) parking.copy(current, filled, 0, bytes);
    const chunk = current.subarray(filled, filled + bytes);
    sizeBytes += bytes;
    filled += bytes;
    const listerReady = listing?.write(chunk);
    if (listerReady) {
      listerWaits = true;
      listerReady.then(() => {
        listerWaits = false;
        resumeReading();
      });
    }
    if (filled === current.length) partFull(current);
    if (!part || listerWaits || failure) return false;
    const waitMs = pacing.next(bytes, into.length, performance.now());
    if (waitMs === 0) return true;
    batchTimer = setTimeout(() => {
      batchTimer = undefined;
      resumeReading();
    }, waitMs);
    return false;
  };

  const channel = await dumpChannel({ buffer: () => (part ? part.subarray(filled) : parking), callback: landed });
  reader = channel.reader;
  const readDone = new Promise<void>((resolve, reject) => {
    channel.reader.once('end', () => {
      ended = true;
      resolve();
    });
    channel.reader.once('error', reject);
  });
  readDone.catch(() => {});
  child = spawn(command.path, command.args, { env: command.env, stdio: ['ignore', channel.writer, 'pipe'] });
  // pg_dump holds its own end now: with ours closed, its exit ends the stream.
  channel.writer.destroy();
  const stderr = stderrTail(child);
  const exited = childEnded(child);
  exited.catch(() => {});
  const archive = startLister(lister);
  listing = archive;
  const onAbort = () => fail(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  signal.addEventListener('abort', onAbort, { once: true });

  try {
    await guard(readDone);
    await guard(toolSucceeded('pg_dump', exited, stderr));
    const entries = await guard(archive.finish());
    // An archive pg_restore cannot list is not a backup: the upload must not complete.
    if (entries === 0) throw new Error('pg_restore --list found no entries in the dump');
    // The end is read only while a part buffer is held (reading pauses without one); a dump that
    // ended on a part's boundary leaves it empty.
    const last = part ? part.subarray(0, filled) : Buffer.alloc(0);
    const multipart = partNumber > 0;
    let answer: { ChecksumCRC32?: string };
    if (multipart) {
      if (last.length > 0) partFull(last);
      await guard(uploader.settled());
      answer = await guard(uploader.complete());
    } else {
      hash.update(last);
      answer = await guard(uploader.putSingle(last, checksums.addPart(last)));
      partNumber = 1;
    }
    const stored = answer.ChecksumCRC32;
    return {
      sizeBytes,
      sha256: hash.digest('hex'),
      parts: partNumber,
      entries,
      checksum: { algorithm: 'CRC32', computed: checksums.combined({ multipart }), ...(stored ? { stored } : {}) },
      stderr: stderr(),
    };
  } catch (error) {
    fail(error as Error);
    const abortRefused = await uploader.abort();
    // Say what started the failure: the watchdog, else the first failure (pg_dump's own words, the
    // first refused S3 request); what failed after it follows, never in its place.
    const root: Error = signal.aborted && signal.reason instanceof Error ? signal.reason : (failure ?? (error as Error));
    if (abortRefused) {
      throw new DumpUploadError(root, [
        `the multipart upload could not be aborted (its parts stay until the bucket's lifecycle rule removes incomplete uploads): ${abortRefused.message}`,
      ]);
    }
    throw root;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
