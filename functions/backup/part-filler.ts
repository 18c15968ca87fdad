import { createHash } from 'node:crypto';
import type { OnReadOpts, Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import { PartUploader, type UploadTarget } from './part-upload';
import { ReadPacing } from './read-pacing';

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
 * The first failure of a transfer is its root cause: it stops every part of the transfer at once
 * (each registered with `onStop`), and every wait raced with `guard` ends with it.
 */
export class FirstFailure {
  error?: Error;
  private readonly stops: (() => void)[] = [];
  private rejectFailed: (error: Error) => void = () => {};
  private readonly failed = new Promise<never>((_, reject) => {
    this.rejectFailed = reject;
  });

  constructor() {
    this.failed.catch(() => {});
  }

  /** `stop` runs on the first failure, or at once when the transfer has already failed. */
  onStop(stop: () => void): void {
    if (this.error) stop();
    else this.stops.push(stop);
  }

  readonly fail = (error: Error): void => {
    if (this.error) return;
    this.error = error;
    for (const stop of this.stops) stop();
    this.rejectFailed(error);
  };

  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed]);
  }
}

/** Where a read lands when no part buffer is free (copied into the next one): the only copy made. */
const parkingBytes = 256 * 1024;

/** Takes each chunk read; a promise when it may take no more until that promise resolves. */
export type ChunkSink = (chunk: Buffer) => Promise<void> | undefined;

/**
 * Fills S3 parts from a socket read with `onread`: the socket reads straight into the free end of
 * the part being filled (no allocation per read, no copy), each full part is hashed (SHA-256) and
 * checksummed (CRC32) once, whole, and handed to the uploader, whose buffers come back for reuse.
 * Reading pauses while no part buffer is free, while the sink (pg_restore --list) is full, and
 * between reads as `ReadPacing` spaces them; only `resumeReading` starts it again.
 */
export class PartFiller {
  sizeBytes = 0;
  partNumber = 0;
  readonly uploader: PartUploader;
  private readonly hash = createHash('sha256');
  private readonly checksums: PartChecksums;
  private readonly parking: Buffer;
  private readonly pacing = new ReadPacing();
  private part: Buffer | undefined;
  private filled = 0;
  private sinkWaits = false;
  private batchTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private reader: Socket | undefined;
  private sink: ChunkSink = () => undefined;

  constructor(
    target: UploadTarget,
    private readonly failure: FirstFailure,
  ) {
    this.checksums = new PartChecksums(target.partSizeBytes);
    this.parking = Buffer.allocUnsafeSlow(Math.min(parkingBytes, target.partSizeBytes));
    this.uploader = new PartUploader(target, failure.fail, () => this.bufferFreed());
    this.part = this.uploader.take();
    failure.onStop(() => {
      clearTimeout(this.batchTimer);
      this.reader?.destroy();
    });
  }

  /** The socket's `onread`: where the next read lands and what follows it. */
  readOptions(): OnReadOpts {
    return {
      buffer: () => (this.part ? this.part.subarray(this.filled) : this.parking),
      callback: (bytes, into) => this.landed(bytes, into),
    };
  }

  /** Reads `reader` (made with `readOptions()`); resolves at its end. */
  readFrom(reader: Socket): Promise<void> {
    this.reader = reader;
    const done = new Promise<void>((resolve, reject) => {
      reader.once('end', () => {
        this.ended = true;
        resolve();
      });
      reader.once('error', reject);
    });
    done.catch(() => {});
    return done;
  }

  /** Every chunk read is also handed to `sink`. */
  feedTo(sink: ChunkSink): void {
    this.sink = sink;
  }

  /**
   * After the end was read: the rest goes up (the last part, or the whole dump as one PutObject
   * when it never filled a part), and the upload is completed. Resolves with S3's answer.
   */
  async finish(): Promise<{ answer: { ChecksumCRC32?: string }; multipart: boolean }> {
    // The end is read only while a part buffer is held (reading pauses without one); a dump that
    // ended on a part's boundary leaves it empty.
    const last = this.part ? this.part.subarray(0, this.filled) : Buffer.alloc(0);
    if (this.partNumber > 0) {
      if (last.length > 0) this.partFull(last);
      await this.failure.guard(this.uploader.settled());
      return { answer: await this.failure.guard(this.uploader.complete()), multipart: true };
    }
    this.hash.update(last);
    this.partNumber = 1;
    return { answer: await this.failure.guard(this.uploader.putSingle(last, this.checksums.addPart(last))), multipart: false };
  }

  sha256(): string {
    return this.hash.digest('hex');
  }

  combinedChecksum(multipart: boolean): string {
    return this.checksums.combined({ multipart });
  }

  private bufferFreed(): void {
    if (!this.part) {
      this.part = this.uploader.take();
      this.filled = 0;
    }
    this.resumeReading();
  }

  private resumeReading(): void {
    if (this.part && !this.sinkWaits && !this.batchTimer && !this.failure.error && !this.ended) this.reader?.resume();
  }

  private partFull(full: Buffer): void {
    this.hash.update(full);
    this.partNumber += 1;
    const partNumber = this.partNumber;
    this.uploader.enqueue({ buffer: full, sizeBytes: full.length, crc32: this.checksums.addPart(full), partNumber });
    this.part = this.uploader.take();
    this.filled = 0;
  }

  /** `bytes` were read into `into`: the free end of the part, or the parking buffer when none was free. False pauses reading. */
  private landed(bytes: number, into: Uint8Array): boolean {
    const current = this.part as Buffer;
    // Read into parking while no part was free: the part is a fresh one now, larger than parking.
    if (into === this.parking) this.parking.copy(current, this.filled, 0, bytes);
    const chunk = current.subarray(this.filled, this.filled + bytes);
    this.sizeBytes += bytes;
    this.filled += bytes;
    const sinkReady = this.sink(chunk);
    if (sinkReady) {
      this.sinkWaits = true;
      sinkReady.then(() => {
        this.sinkWaits = false;
        this.resumeReading();
      });
    }
    if (this.filled === current.length) this.partFull(current);
    if (!this.part || this.sinkWaits || this.failure.error) return false;
    return this.paced(bytes, into.length);
  }

  /** True to read again at once; else the next read waits as the pacing says. */
  private paced(bytes: number, offeredBytes: number): boolean {
    const waitMs = this.pacing.next(bytes, offeredBytes, performance.now());
    if (waitMs === 0) return true;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      this.resumeReading();
    }, waitMs);
    return false;
  }
}
