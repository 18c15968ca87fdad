import { describe, expect, it } from 'vitest';
import { type AlertState, type DedupPolicy, decideFiring, decideResolved } from '../../../lib/alerts/dedup';
import type { Severity } from '../../../lib/alerts/types';
import { sampleAlert } from '../../support/alerts';

const policy: DedupPolicy = {
  repeatIntervalMs: 4 * 3600_000,
  flapWindowMs: 30 * 60_000,
  flapThreshold: 4,
  flapHoldMs: 10 * 60_000,
};
const at = (minutes: number) => new Date(Date.UTC(2026, 10, 22, 3, 0) + minutes * 60_000);

type Step = ['fire', number, Severity?] | ['ok', number];

/** Plays a sequence of check results for one key; returns what was sent at each step. */
function play(steps: Step[], rules: DedupPolicy = policy): Array<string | null> {
  let state: AlertState | undefined;
  return steps.map((step) => {
    const decision =
      step[0] === 'fire'
        ? decideFiring(state, sampleAlert({ severity: step[2] ?? 'major', observedAt: at(step[1]) }), at(step[1]), rules)
        : decideResolved(state, at(step[1]), rules);
    if (!decision) return null;
    state = decision.next;
    return decision.notify;
  });
}

/**
 * A night as the checks see it: the check runs every minute and reports the key firing or healthy
 * per `firingDuring`. Returns every message on-call receives, with its minute and what it says.
 */
function night(firingDuring: Array<[number, number]>, minutes: number) {
  let state: AlertState | undefined;
  const received: Array<{ minute: number; kind: string; merged: number; firings: number }> = [];
  const lies: number[] = [];
  for (let minute = 0; minute <= minutes; minute += 1) {
    const firing = firingDuring.some(([from, to]) => minute >= from && minute < to);
    const decision = firing
      ? decideFiring(state, sampleAlert({ observedAt: at(minute) }), at(minute), policy)
      : decideResolved(state, at(minute), policy);
    if (decision) {
      state = decision.next;
      if (decision.notify)
        received.push({
          minute,
          kind: decision.notify,
          merged: decision.change?.mergedChanges ?? 0,
          firings: decision.change?.firingsInLastHour ?? 0,
        });
    }
    // What on-call was last told may lag the truth only while a flapping key's hold runs.
    const toldFiring = state?.told?.status === 'firing';
    const lastMessage = received.at(-1)?.minute ?? 0;
    if (state && toldFiring !== firing && minute - lastMessage >= policy.flapHoldMs / 60_000) lies.push(minute);
  }
  return { received, lies, final: state };
}

describe('dedup: every change of state is told', () => {
  it('a scripted night: fire, resolve, fire again 5 min later, resolve, then 6 flaps in 10 min', () => {
    const { received, lies, final } = night(
      [
        [0, 10],
        [15, 20],
        // the flaps: firing at 22, 26 and 30, healthy at 24, 28 and 32
        [22, 24],
        [26, 28],
        [30, 32],
      ],
      50,
    );
    expect(received).toEqual([
      { minute: 0, kind: 'firing', merged: 0, firings: 1 },
      { minute: 10, kind: 'resolved', merged: 0, firings: 1 },
      { minute: 15, kind: 'refiring', merged: 0, firings: 2 },
      { minute: 20, kind: 'resolved', merged: 0, firings: 2 },
      // 4 messages in 30 min: the flaps at 22-28 are held; the hold (10 min) ends at 30, firing.
      { minute: 30, kind: 'refiring', merged: 4, firings: 5 },
      // healthy from 32: the resolve is held until 40, then told (it merges itself: 1 held change).
      { minute: 40, kind: 'resolved', merged: 1, firings: 5 },
    ]);
    expect(lies).toEqual([]);
    expect(final?.told?.status).toBe('resolved');
    expect(final?.status).toBe('resolved');
  });

  it('never leaves a key told wrong past one hold, over many random nights', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 300; trial += 1) {
      const spans: Array<[number, number]> = [];
      for (let minute = 0; minute < 120; ) {
        const length = 1 + Math.floor(random() * 8);
        if (random() < 0.5) spans.push([minute, minute + length]);
        minute += length;
      }
      const { lies, final, received } = night(spans, 140);
      expect(lies).toEqual([]);
      // Healthy from at most minute 128 and checked until 140 (past one hold): the last message is the resolve.
      expect(final === undefined || received.at(-1)?.kind === 'resolved').toBe(true);
    }
  });

  it('sends the first firing, suppresses repeats inside the repeat interval, repeats after it', () => {
    expect(
      play([
        ['fire', 0],
        ['fire', 5],
        ['fire', 235],
        ['fire', 240],
        ['fire', 245],
        ['fire', 480],
      ]),
    ).toEqual(['firing', null, null, 'repeat', null, 'repeat']);
  });

  it('sends RESOLVED once when the key is healthy again', () => {
    expect(
      play([
        ['fire', 0],
        ['ok', 10],
        ['ok', 15],
      ]),
    ).toEqual(['firing', 'resolved', null]);
  });

  it('sends nothing for a key that was never firing', () => {
    expect(play([['ok', 0]])).toEqual([null]);
  });

  it('sends a firing again at once, said as such, and a firing after more than an hour as new', () => {
    expect(
      play([
        ['fire', 0],
        ['ok', 10],
        ['fire', 12],
        ['ok', 20],
        ['fire', 90],
      ]),
    ).toEqual(['firing', 'resolved', 'refiring', 'resolved', 'firing']);
  });

  it('with the flap window at 0 every change is sent, however fast', () => {
    const steps: Step[] = Array.from({ length: 10 }, (_, minute) => (minute % 2 ? ['ok', minute] : ['fire', minute]));
    expect(play(steps, { ...policy, flapWindowMs: 0 })).toEqual([
      'firing',
      'resolved',
      'refiring',
      'resolved',
      'refiring',
      'resolved',
      'refiring',
      'resolved',
      'refiring',
      'resolved',
    ]);
  });

  it('escalates at once when the severity rises, also while flapping, and not when it falls', () => {
    expect(
      play([
        ['fire', 0, 'minor'],
        ['fire', 5, 'major'],
        ['fire', 10, 'critical'],
        ['fire', 15, 'major'],
      ]),
    ).toEqual(['firing', 'escalation', 'escalation', null]);
    expect(
      play([
        ['fire', 0, 'minor'],
        ['ok', 1],
        ['fire', 2, 'minor'],
        ['ok', 3],
        ['fire', 4, 'critical'],
      ]),
    ).toEqual(['firing', 'resolved', 'refiring', 'resolved', 'refiring']);
  });

  it('takes "since" from the check, and the resolve time from the source', () => {
    const began = at(-7);
    const fired = decideFiring(undefined, sampleAlert({ since: began, observedAt: at(0) }), at(0), policy);
    expect(fired.next.incidentStartedAt).toEqual(began);
    const resolved = decideResolved(fired.next, at(12), policy, at(11));
    expect(resolved?.next.resolvedAt).toEqual(at(11));
  });
});
