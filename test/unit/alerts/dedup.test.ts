import { describe, expect, it } from 'vitest';
import { type AlertState, type DedupPolicy, decideFiring, decideResolved } from '../../../lib/alerts/dedup';
import { sampleAlert } from '../../support/alerts';

const policy: DedupPolicy = { repeatIntervalMs: 4 * 3600_000, flapWindowMs: 30 * 60_000 };
const at = (minutes: number) => new Date(Date.UTC(2026, 10, 22, 3, 0) + minutes * 60_000);

/** Plays a sequence of check results for one key; returns what was sent at each step. */
function play(steps: Array<['fire', number, ('critical' | 'major' | 'minor')?] | ['ok', number]>): Array<string | null> {
  let state: AlertState | undefined;
  return steps.map((step) => {
    if (step[0] === 'fire') {
      const decision = decideFiring(
        state,
        sampleAlert({ severity: step[2] ?? 'major', observedAt: at(step[1]) }),
        at(step[1]),
        policy,
      );
      state = decision.next;
      return decision.notify;
    }
    const decision = decideResolved(state, at(step[1]));
    if (!decision) return null;
    state = decision.next;
    return decision.notify;
  });
}

describe('dedup', () => {
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
        ['ok', 20],
      ]),
    ).toEqual(['firing', 'resolved', null, null]);
  });

  it('sends nothing for a key that was never firing', () => {
    expect(play([['ok', 0]])).toEqual([null]);
  });

  it('damps a flap: firing again within the flap window continues the incident unsent', () => {
    expect(
      play([
        ['fire', 0],
        ['ok', 10],
        ['fire', 20],
        ['fire', 25],
        ['ok', 30],
      ]),
    ).toEqual(['firing', 'resolved', null, null, null]);
  });

  it('repeats a flapping incident on the repeat interval counted from the last firing message', () => {
    expect(
      play([
        ['fire', 0],
        ['ok', 10],
        ['fire', 20],
        ['fire', 239],
        ['fire', 240],
        ['ok', 250],
      ]),
    ).toEqual(['firing', 'resolved', null, null, 'repeat', 'resolved']);
  });

  it('treats a firing after the flap window as a new incident', () => {
    expect(
      play([
        ['fire', 0],
        ['ok', 10],
        ['fire', 40],
      ]),
    ).toEqual(['firing', 'resolved', 'firing']);
  });

  it('escalates at once when the severity rises, and not when it falls', () => {
    expect(
      play([
        ['fire', 0, 'minor'],
        ['fire', 5, 'major'],
        ['fire', 10, 'critical'],
        ['fire', 15, 'major'],
      ]),
    ).toEqual(['firing', 'escalation', 'escalation', null]);
  });

  it('keeps the incident start through flaps, and counts them', () => {
    let state: AlertState | undefined;
    for (const [kind, minute] of [
      ['fire', 0],
      ['ok', 10],
      ['fire', 20],
    ] as const) {
      state =
        kind === 'fire'
          ? decideFiring(state, sampleAlert({ observedAt: at(minute) }), at(minute), policy).next
          : decideResolved(state, at(minute))?.next;
    }
    expect(state?.incidentStartedAt).toEqual(at(0));
    expect(state?.flapCount).toBe(1);
    expect(state?.suppressedCount).toBe(1);
  });
});
