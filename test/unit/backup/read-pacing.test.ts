import { describe, expect, it } from 'vitest';
import { defaultReadPacing, ReadPacing } from '../../../functions/backup/read-pacing';

const KiB = 1024;
const offered = 8 * 1024 * KiB;

describe('read-pacing ReadPacing', () => {
  it('reads again at once after a read that filled what was offered or found a backlog', () => {
    const pacing = new ReadPacing();
    expect(pacing.next(64 * KiB, 64 * KiB, 0)).toBe(0);
    expect(pacing.next(defaultReadPacing.backlogBytes, offered, 1)).toBe(0);
  });

  it('waits firstWaitMs before the rate is known', () => {
    expect(new ReadPacing().next(4 * KiB, offered, 0)).toBe(defaultReadPacing.firstWaitMs);
  });

  it('spaces reads so that about targetBytes arrive between them, at the rate seen', () => {
    const pacing = new ReadPacing();
    pacing.next(4 * KiB, offered, 0);
    // 20 KiB in 2 ms: 10 KiB/ms, so 96 KiB take 9.6 ms.
    expect(pacing.next(20 * KiB, offered, 2)).toBeCloseTo(9.6, 5);
  });

  it('keeps every wait between minWaitMs and maxWaitMs', () => {
    const fast = new ReadPacing();
    fast.next(4 * KiB, offered, 0);
    // 100 KiB in 0.01 ms: the rate says 0.01 ms, the floor says 1 ms.
    expect(fast.next(100 * KiB, offered, 0.01)).toBe(defaultReadPacing.minWaitMs);
    const slow = new ReadPacing();
    slow.next(4 * KiB, offered, 0);
    // 1 KiB in 100 ms: the rate says 9.6 s, the ceiling says 20 ms.
    expect(slow.next(KiB, offered, 100)).toBe(defaultReadPacing.maxWaitMs);
  });

  it('follows a changing rate through a moving average, not the last read alone', () => {
    const pacing = new ReadPacing({ ...defaultReadPacing, maxWaitMs: 1_000 });
    pacing.next(4 * KiB, offered, 0);
    const steady = pacing.next(10 * KiB, offered, 1); // 10 KiB/ms
    const slower = pacing.next(5 * KiB, offered, 2); // 5 KiB/ms seen once: 0.7 * 10 + 0.3 * 5 = 8.5
    expect(steady).toBeCloseTo(9.6, 5);
    expect(slower).toBeCloseTo(96 / 8.5, 5);
  });

  it('counts the bytes of reads that went again at once toward the rate', () => {
    const pacing = new ReadPacing();
    pacing.next(4 * KiB, offered, 0);
    pacing.next(200 * KiB, offered, 5); // a backlog: at once
    // 200 + 40 KiB over 10 ms since the last paced read: 24 KiB/ms, 4 ms for 96 KiB.
    expect(pacing.next(40 * KiB, offered, 10)).toBeCloseTo(4, 5);
  });
});
