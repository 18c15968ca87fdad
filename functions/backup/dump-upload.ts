import { spawn } from 'node:child_process';
import { type AddressInfo, connect, createServer, type OnReadOpts, type Socket } from 'node:net';
import { VigilError } from '../../lib/errors';
import { FirstFailure, PartFiller } from './part-filler';
import type { PartUploader, UploadTarget } from './part-upload';
import { childEnded, stderrTail, toolSucceeded } from './pg-tools';
import { type ArchiveLister, startLister } from './verify';

export { PartChecksums } from './part-filler';
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

/**
 * A connected pair of loopback TCP sockets: `writer` becomes pg_dump's stdout, `reader` is read
 * with `onread`, straight into the part buffers (no allocation per read, no copy). TCP, not a Unix
 * socket or a pipe: the kernel grows a TCP connection's buffers to megabytes as the reads need,
 * where a Unix socket holds about 176 KiB of pg_dump's 4 KiB writes and a pipe 64 KiB, so Node
 * wakes to read about a tenth as often (read-pacing.ts). The listener takes one connection, the
 * one from `reader`'s own port; any other (another process on the host that connected first) is
 * closed unread, so the dump goes nowhere else. `listening` (tests) runs before `reader` connects.
 */
export async function dumpChannel(
  onread: OnReadOpts,
  listening: (port: number) => Promise<void> = async () => {},
): Promise<{ reader: Socket; writer: Socket }> {
  const server = createServer({ pauseOnConnect: true });
  // Connections are held until the reader's own port is known, then all but its one are closed.
  const held: Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: loopback, exclusive: true }, resolve);
    });
    const { port } = server.address() as AddressInfo;
    let isReader: ((socket: Socket) => boolean) | undefined;
    let acceptReader: (socket: Socket) => void = () => {};
    const accepted = new Promise<Socket>((resolve, reject) => {
      acceptReader = resolve;
      server.on('error', reject);
    });
    accepted.catch(() => {});
    const consider = (socket: Socket) => {
      if (!isReader) held.push(socket);
      else if (isReader(socket)) acceptReader(socket);
      else socket.destroy();
    };
    server.on('connection', consider);
    await listening(port);
    const reader = connect({ port, host: loopback, onread });
    await new Promise<void>((resolve, reject) => {
      reader.once('connect', resolve);
      reader.once('error', reject);
    });
    isReader = (socket) => socket.remotePort === reader.localPort && socket.remoteAddress === reader.localAddress;
    for (const socket of held.splice(0)) consider(socket);
    let timer: NodeJS.Timeout | undefined;
    const unaccepted = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("the loopback connection for pg_dump's output was not accepted in 10 s")),
        10_000,
      );
    });
    try {
      return { reader, writer: await Promise.race([accepted, unaccepted]) };
    } catch (error) {
      reader.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    for (const socket of held) socket.destroy();
    server.close();
  }
}

const loopback = '127.0.0.1';

/** pg_dump, writing to `stdout`: its exit and the tail of its stderr. Killed on the transfer's first failure. */
function startDump(command: DumpCommand, stdout: Socket, failure: FirstFailure) {
  const child = spawn(command.path, command.args, { env: command.env, stdio: ['ignore', stdout, 'pipe'] });
  failure.onStop(() => child.kill('SIGKILL'));
  // pg_dump holds its own end now: with ours closed, its exit ends the stream.
  stdout.destroy();
  const stderr = stderrTail(child);
  const exited = childEnded(child);
  exited.catch(() => {});
  return { succeeded: () => toolSucceeded('pg_dump', exited, stderr), stderr };
}

/** `pg_restore --list` reading the archive as it streams. Killed on the transfer's first failure. */
function startListing(lister: ArchiveLister, failure: FirstFailure) {
  const listing = startLister(lister);
  failure.onStop(() => listing.child.kill('SIGKILL'));
  return listing;
}

/**
 * After a failure: the multipart upload aborted, and the error to throw. It names what started the
 * failure: the watchdog, else the first failure (pg_dump's own words, the first refused S3
 * request); what failed after it follows, never in its place.
 */
async function abortedUpload(uploader: PartUploader, signal: AbortSignal, first: Error): Promise<Error> {
  const abortRefused = await uploader.abort();
  const root: Error = signal.aborted && signal.reason instanceof Error ? signal.reason : first;
  if (!abortRefused) return root;
  return new DumpUploadError(root, [
    `the multipart upload could not be aborted (its parts stay until the bucket's lifecycle rule removes incomplete uploads): ${abortRefused.message}`,
  ]);
}

/**
 * Streams pg_dump's stdout into an S3 multipart upload, hashing it on the way. It fails closed:
 * the last part goes up only once pg_dump has exited 0 and `pg_restore --list` has read the
 * archive, and only then is the upload completed; any failure (pg_dump's, a refused part, the
 * watchdog's `signal`) aborts the multipart upload, so no object is left.
 *
 * Node's share of the work is kept small (part-filler.ts): the bytes are read into a fixed set of
 * part buffers, reused (no allocation or copy per read, no concatenation), each part is hashed
 * (SHA-256) and checksummed (CRC32) once, whole, and its CRC32 is sent with it, so the SDK
 * computes none and signs no payload hash.
 */
export async function dumpToS3(
  command: DumpCommand,
  target: UploadTarget,
  signal: AbortSignal,
  lister: ArchiveLister,
): Promise<DumpUploaded> {
  signal.throwIfAborted();
  const failure = new FirstFailure();
  const filler = new PartFiller(target, failure);
  const channel = await dumpChannel(filler.readOptions());
  const readDone = filler.readFrom(channel.reader);
  const dump = startDump(command, channel.writer, failure);
  const listing = startListing(lister, failure);
  filler.feedTo(listing.write);
  const onAbort = () => failure.fail(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await failure.guard(readDone);
    await failure.guard(dump.succeeded());
    const entries = await failure.guard(listing.finish());
    // An archive pg_restore cannot list is not a backup: the upload must not complete.
    if (entries === 0) throw new Error('pg_restore --list found no entries in the dump');
    const { answer, multipart } = await filler.finish();
    const stored = answer.ChecksumCRC32;
    return {
      sizeBytes: filler.sizeBytes,
      sha256: filler.sha256(),
      parts: filler.partNumber,
      entries,
      checksum: { algorithm: 'CRC32', computed: filler.combinedChecksum(multipart), ...(stored ? { stored } : {}) },
      stderr: dump.stderr(),
    };
  } catch (error) {
    failure.fail(error as Error);
    throw await abortedUpload(filler.uploader, signal, failure.error ?? (error as Error));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
