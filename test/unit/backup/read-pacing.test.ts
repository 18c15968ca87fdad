import { describe, expect, it } from 'vitest';
import { defaultReadPacing, ReadPacing } from '../../../functions/backup/read-pacing';

const KiB = 1024;
const MiB = 1024 * KiB;
const offered = 8 * MiB;
const { startBytes, targetBytes, firstWaitMs, minWaitMs, maxWaitMs } = defaultReadPacing;

/**
 * pg_dump writing at `rateAt(ms)` bytes per ms into a connection that holds `capacity` bytes (it
 * waits while the connection is full), read as `ReadPacing` says, on a simulated clock: a read
 * happens once at least one 4 KiB write is waiting, as a socket's reads do.
 */
function simulate(capacity: number, rateAt: (ms: number) => number, durationMs: number) {
  const pacing = new ReadPacing();
  const stepMs = 0.05;
  let now = 0;
  let waiting = 0;
  let blockedMs = 0;
  let reads = 0;
  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= stepMs) {
      if (waiting >= capacity) blockedMs += stepMs;
      else waiting = Math.min(capacity, waiting + rateAt(now) * stepMs);
      now += stepMs;
    }
  };
  while (now < durationMs) {
    while (waiting < 4 * KiB && now < durationMs) advance(stepMs);
    const bytes = Math.min(waiting, offered);
    waiting -= bytes;
    reads += 1;
    const waitMs = pacing.next(bytes, offered, now);
    advance(waitMs === 0 ? stepMs : waitMs);
  }
  return { reads, blockedShare: blockedMs / durationMs };
}

describe('read-pacing ReadPacing', () => {
  it('reads again at once after a read that filled what was offered', () => {
    expect(new ReadPacing().next(64 * KiB, 64 * KiB, 0)).toBe(0);
  });

  it('waits firstWaitMs before the rate is known', () => {
    expect(new ReadPacing().next(4 * KiB, offered, 0)).toBe(firstWaitMs);
  });

  it('spaces reads so that what it aims for arrives between them, at the rate seen; the aim starts at startBytes', () => {
    const pacing = new ReadPacing();
    pacing.next(64 * KiB, offered, 0);
    expect(pacing.aim).toBe(startBytes);
    // 20 KiB in 2 ms, short of the aim but far from the most found: 10 KiB/ms, and the aim stays.
    expect(pacing.next(20 * KiB, offered, 2)).toBeCloseTo(startBytes / (10 * KiB), 5);
    expect(pacing.aim).toBe(startBytes);
  });

  it('grows the aim by a quarter after each read that found it, up to targetBytes', () => {
    const pacing = new ReadPacing({ ...defaultReadPacing, maxWaitMs: 10_000 });
    let nowMs = 0;
    pacing.next(4 * KiB, offered, nowMs);
    const aims: number[] = [];
    for (let read = 0; read < 20; read += 1) {
      const found = pacing.aim;
      nowMs += found / (10 * KiB);
      pacing.next(found, offered, nowMs);
      aims.push(pacing.aim);
    }
    expect(aims[0]).toBe(startBytes * 1.25);
    expect(aims[1]).toBe(startBytes * 1.25 ** 2);
    expect(Math.max(...aims)).toBe(targetBytes);
    expect(aims.at(-1)).toBe(targetBytes);
  });

  it('keeps every wait between minWaitMs and maxWaitMs', () => {
    const fast = new ReadPacing();
    fast.next(4 * KiB, offered, 0);
    // 100 KiB in 0.01 ms: the rate says a fraction of a ms, the floor says minWaitMs.
    expect(fast.next(100 * KiB, offered, 0.01)).toBe(minWaitMs);
    const slow = new ReadPacing();
    slow.next(4 * KiB, offered, 0);
    // 1 KiB in 100 ms: the rate says 6.4 s, the ceiling says maxWaitMs.
    expect(slow.next(KiB, offered, 100)).toBe(maxWaitMs);
  });

  it('follows a changing rate through a moving average, not the last read alone', () => {
    const pacing = new ReadPacing({ ...defaultReadPacing, maxWaitMs: 1_000 });
    pacing.next(64 * KiB, offered, 0);
    const steady = pacing.next(10 * KiB, offered, 1); // 10 KiB/ms
    const slower = pacing.next(5 * KiB, offered, 2); // 5 KiB/ms seen once: 0.7 * 10 + 0.3 * 5 = 8.5
    expect(steady).toBeCloseTo(startBytes / (10 * KiB), 5);
    expect(slower).toBeCloseTo(startBytes / (8.5 * KiB), 5);
  });

  it('after a read that found a full buffer (short of the aim, as much as the most ever found): halves the aim, reads at once, takes no rate from it', () => {
    const pacing = new ReadPacing({ ...defaultReadPacing, maxWaitMs: 10_000 });
    pacing.next(4 * KiB, offered, 0);
    // Two reads that find their aim at 10 KiB/ms: the aim grows to startBytes * 1.25^2 = 100 KiB.
    pacing.next(64 * KiB, offered, 6.4);
    pacing.next(80 * KiB, offered, 14.4);
    expect(pacing.aim).toBe(100 * KiB);
    // The buffer holds 80 KiB: the read finds 80 KiB in 10 ms, short of 90 % of 100 KiB, the most ever found.
    expect(pacing.next(80 * KiB, offered, 24.4)).toBe(0);
    expect(pacing.aim).toBe(40 * KiB);
    // The rate is still 10 KiB/ms (a full buffer's 8 KiB/ms was not taken): measured afresh from the full read.
    expect(pacing.next(10 * KiB, offered, 25.4)).toBeCloseTo(40 / 10, 5);
  });

  it('keeps a slow writer from looking like a full buffer: a short read well under the most ever found keeps the aim', () => {
    const pacing = new ReadPacing({ ...defaultReadPacing, maxWaitMs: 10_000 });
    pacing.next(4 * KiB, offered, 0);
    pacing.next(64 * KiB, offered, 6.4);
    pacing.next(80 * KiB, offered, 14.4);
    // 10 KiB where 100 were aimed for: pg_dump slowed down; the wait follows the slower rate.
    expect(pacing.next(10 * KiB, offered, 24.4)).toBeGreaterThan(0);
    expect(pacing.aim).toBe(100 * KiB);
  });

  it('never makes pg_dump wait where the connection holds a megabyte or more, and reads about once per aim', () => {
    for (const capacity of [6 * MiB, 1.25 * MiB]) {
      for (const bytesPerMs of [15_000, 40_000, 150_000]) {
        const { reads, blockedShare } = simulate(capacity, () => bytesPerMs, 20_000);
        expect(blockedShare, `${capacity} bytes, ${bytesPerMs} bytes/ms`).toBe(0);
        // 20 s of writing over reads of targetBytes, with the reads that grew the aim: a few more.
        expect(reads).toBeLessThan(((bytesPerMs * 20_000) / targetBytes) * 1.1 + 20);
      }
    }
  });

  it('lets pg_dump wait at most about 6 % of the time where the connection holds less than the aim', () => {
    for (const capacity of [176 * KiB, 64 * KiB]) {
      for (const bytesPerMs of [15_000, 40_000]) {
        const { blockedShare } = simulate(capacity, () => bytesPerMs, 20_000);
        expect(blockedShare, `${capacity} bytes, ${bytesPerMs} bytes/ms`).toBeLessThan(0.06);
      }
    }
  });

  it('is not thrown off by a writer that stops for two seconds or writes in bursts', () => {
    const paused = simulate(6 * MiB, (ms) => (ms > 5_000 && ms < 7_000 ? 100 : 15_000), 20_000);
    expect(paused.blockedShare).toBe(0);
    expect(paused.reads).toBeLessThan(400);
    const bursty = simulate(6 * MiB, (ms) => (Math.floor(ms / 37) % 3 === 0 ? 40_000 : 5_000), 20_000);
    expect(bursty.blockedShare).toBe(0);
    expect(bursty.reads).toBeLessThan(400);
  });
});
