const KiB = 1024;

export interface ReadPacingOptions {
  /** What a read should find waiting: well under what the socket holds before pg_dump blocks. */
  targetBytes: number;
  /** A read this large found a backlog (pg_dump may have been blocked): read again at once. */
  backlogBytes: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** Before the rate is known. */
  firstWaitMs: number;
}

/**
 * pg_dump writes 176 KiB before a Unix socket's default buffer (212,992 bytes of 4 KiB writes) is
 * full and it blocks; a read every ~100 KiB keeps it from ever waiting at up to ~40 MB/s and, at
 * this machine's ~15 MB/s, reads about 2,700 times per GB of database instead of 15,000.
 */
export const defaultReadPacing: ReadPacingOptions = {
  targetBytes: 96 * KiB,
  backlogBytes: 128 * KiB,
  minWaitMs: 1,
  maxWaitMs: 20,
  firstWaitMs: 5,
};

/**
 * When to read pg_dump's output next. Each read costs a wake-up of the process, so short reads are
 * spaced out: the wait is what it takes, at the rate seen so far (a moving average over the
 * previous waits), for `targetBytes` to arrive. A read that filled the space offered or found a
 * backlog goes again at once.
 */
export class ReadPacing {
  private rateBytesPerMs = 0;
  private sinceMs?: number;
  private bytesSince = 0;

  constructor(private readonly options: ReadPacingOptions = defaultReadPacing) {}

  /** After a read of `bytes` (of `offeredBytes` it could take) at `nowMs`: how long to wait before the next, 0 for at once. */
  next(bytes: number, offeredBytes: number, nowMs: number): number {
    this.bytesSince += bytes;
    if (bytes >= offeredBytes || bytes >= this.options.backlogBytes) return 0;
    const { targetBytes, minWaitMs, maxWaitMs, firstWaitMs } = this.options;
    let waitMs = firstWaitMs;
    if (this.sinceMs !== undefined && nowMs > this.sinceMs) {
      const sample = this.bytesSince / (nowMs - this.sinceMs);
      this.rateBytesPerMs = this.rateBytesPerMs === 0 ? sample : 0.7 * this.rateBytesPerMs + 0.3 * sample;
      waitMs = this.rateBytesPerMs > 0 ? targetBytes / this.rateBytesPerMs : maxWaitMs;
    }
    this.sinceMs = nowMs;
    this.bytesSince = 0;
    return Math.min(maxWaitMs, Math.max(minWaitMs, waitMs));
  }
}
