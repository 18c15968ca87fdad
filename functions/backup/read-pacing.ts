const KiB = 1024;

export interface ReadPacingOptions {
  /** The most a read aims to find waiting: under what the connection holds once its buffers have grown. */
  targetBytes: number;
  /** What the first reads aim for: under what any socket holds before its buffers grow. */
  startBytes: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** Before the rate is known. */
  firstWaitMs: number;
}

/**
 * pg_dump writes its output 4 KiB at a time into a loopback TCP connection (dump-upload.ts), whose
 * buffers the kernel grows to megabytes as they are read (Linux's defaults: up to 4 MiB sent and
 * 6 MiB received). A read every ~1 MiB is about 2.7 ms of pg_dump's writing at 400 MB/s, 70 ms at
 * this machine's 15 MB/s: a tenth of the wake-ups a Unix socket's 176 KiB allowed. Before the
 * buffers have grown (and wherever they cannot), the aim starts at 64 KiB and follows what the
 * reads find.
 */
export const defaultReadPacing: ReadPacingOptions = {
  targetBytes: 1024 * KiB,
  startBytes: 64 * KiB,
  minWaitMs: 1,
  maxWaitMs: 100,
  firstWaitMs: 5,
};

/** A read that found at least this share of what it aimed for found it. */
const foundShare = 0.9;
/** After a read that found what it aimed for, the next aims this much higher (up to targetBytes). */
const growth = 1.25;

/**
 * When to read pg_dump's output next. Each read costs a wake-up of the process, so reads are
 * spaced out: the wait is what it takes, at the rate seen so far (a moving average over the
 * previous waits), for the aimed-for bytes to arrive. A read that filled the space offered goes
 * again at once.
 *
 * The aim starts at `startBytes` and grows by a quarter after every read that found it, up to
 * `targetBytes`. A read that found less is either pg_dump writing more slowly (its bytes vary) or
 * the connection's buffer full, pg_dump waiting: then the read finds what the buffer holds, about
 * the most any read has found. Such a read halves the aim (to half of what it found), and the rate
 * is not taken from it (it measures the buffer, not pg_dump), so a buffer smaller than the aim
 * never lengthens the waits after it: the reads settle under what the buffer holds, wherever that is.
 */
export class ReadPacing {
  private rateBytesPerMs = 0;
  private sinceMs?: number;
  private bytesSince = 0;
  private aimBytes: number;
  private largestBytes = 0;

  constructor(private readonly options: ReadPacingOptions = defaultReadPacing) {
    this.aimBytes = options.startBytes;
  }

  /** What the next paced read aims to find waiting. */
  get aim(): number {
    return this.aimBytes;
  }

  /** After a read of `bytes` (of `offeredBytes` it could take) at `nowMs`: how long to wait before the next, 0 for at once. */
  next(bytes: number, offeredBytes: number, nowMs: number): number {
    this.bytesSince += bytes;
    if (bytes >= offeredBytes) return 0;
    const { targetBytes, minWaitMs, maxWaitMs, firstWaitMs } = this.options;
    const found = this.bytesSince;
    const measured = this.sinceMs !== undefined && nowMs > this.sinceMs;
    const full = measured && found < foundShare * this.aimBytes && found >= foundShare * this.largestBytes;
    let waitMs = firstWaitMs;
    if (full) {
      // pg_dump may be waiting: the next read goes at once, and the rate is measured afresh from here.
      this.aimBytes = Math.max(4 * KiB, found / 2);
      waitMs = 0;
    } else if (measured) {
      if (found >= foundShare * this.aimBytes) this.aimBytes = Math.min(targetBytes, this.aimBytes * growth);
      const sample = found / (nowMs - (this.sinceMs as number));
      this.rateBytesPerMs = this.rateBytesPerMs === 0 ? sample : 0.7 * this.rateBytesPerMs + 0.3 * sample;
      waitMs = this.rateBytesPerMs > 0 ? this.aimBytes / this.rateBytesPerMs : maxWaitMs;
    }
    this.largestBytes = Math.max(this.largestBytes, found);
    this.sinceMs = nowMs;
    this.bytesSince = 0;
    return full ? 0 : Math.min(maxWaitMs, Math.max(minWaitMs, waitMs));
  }
}
