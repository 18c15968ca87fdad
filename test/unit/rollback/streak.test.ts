import { describe, expect, it } from 'vitest';
import type { Action } from '../../../functions/rollback-decision/matrix';
import { type DataWindow, isNewData, nextStreak } from '../../../functions/rollback-decision/streak';

const options = { confirmEvaluations: 2, clearEvaluations: 3 };
const at = (minute: number) => new Date(Date.UTC(2026, 11, 5, 3, minute)).toISOString();
/** The 15-minute request window of an evaluation at `minute`. */
const requests = (minute: number): DataWindow => ({ start: at(minute - 15), end: at(minute) });
/** A probe run at `minute`: its loads are the data, a moment long. */
const probeRun = (minute: number): DataWindow => ({ start: at(minute), end: at(minute) });

function play(steps: Array<[Action, DataWindow[]]>) {
  let state: ReturnType<typeof nextStreak> | undefined;
  return steps.map(([action, windows]) => {
    state = nextStreak(state, action, options, windows);
    return state;
  });
}

describe('rollback streak', () => {
  it('counts a staged evaluation again only on data the streak has not counted', () => {
    const [first, overlapping, fresh] = play([
      ['staged_rollback', [requests(20)]],
      ['staged_rollback', [requests(25)]],
      ['staged_rollback', [requests(35)]],
    ]);
    expect(first).toMatchObject({ stagedStreak: 1, effective: 'monitor_and_optimize', confirmedThrough: at(20) });
    expect(overlapping).toMatchObject({ stagedStreak: 1, effective: 'monitor_and_optimize' });
    expect(overlapping?.note).toContain('overlaps the one counted');
    expect(fresh).toMatchObject({ stagedStreak: 2, effective: 'staged_rollback', confirmedThrough: at(35) });
  });

  it('counts one probe run once, and the next run anew', () => {
    const states = play([
      ['staged_rollback', [probeRun(10)]],
      ['staged_rollback', [probeRun(10)]],
      ['staged_rollback', [probeRun(15)]],
    ]);
    expect(states.map((state) => state.stagedStreak)).toEqual([1, 1, 2]);
    expect(states.at(-1)?.effective).toBe('staged_rollback');
  });

  it('starts again after a calmer evaluation', () => {
    const [, calm, again] = play([
      ['staged_rollback', [requests(20)]],
      ['monitor_and_optimize', []],
      ['staged_rollback', [requests(25)]],
    ]);
    expect(calm).toMatchObject({ stagedStreak: 0, confirmedThrough: null });
    expect(again).toMatchObject({ stagedStreak: 1, effective: 'monitor_and_optimize' });
  });

  it('rolls back at once on an immediate rollback, whatever the data', () => {
    const [first, again] = play([
      ['immediate_rollback', [requests(20)]],
      ['immediate_rollback', [requests(21)]],
    ]);
    expect(first?.effective).toBe('immediate_rollback');
    expect(again?.effective).toBe('immediate_rollback');
  });

  it('counts the same data window once: the evaluation that starts where it ended confirms', () => {
    const [first, same, next] = play([
      ['staged_rollback', [requests(20)]],
      ['staged_rollback', [requests(20)]],
      ['staged_rollback', [{ start: at(20), end: at(35) }]],
    ]);
    expect(first).toMatchObject({ stagedStreak: 1, effective: 'monitor_and_optimize', confirmedThrough: at(20) });
    expect(same).toMatchObject({ stagedStreak: 1, effective: 'monitor_and_optimize', confirmedThrough: at(20) });
    expect(same?.note).toContain('does not confirm');
    expect(next).toMatchObject({ stagedStreak: 2, effective: 'staged_rollback', confirmedThrough: at(35) });
  });

  it('reads a probe run as data of its own moment: once per run, whichever runs come again', () => {
    const states = play([
      ['staged_rollback', [probeRun(10)]],
      ['staged_rollback', [probeRun(10)]],
      ['staged_rollback', [probeRun(10)]],
    ]);
    expect(states.map((state) => [state.stagedStreak, state.effective])).toEqual([
      [1, 'monitor_and_optimize'],
      [1, 'monitor_and_optimize'],
      [1, 'monitor_and_optimize'],
    ]);
    expect(isNewData([probeRun(10)], at(10))).toBe(false);
    expect(isNewData([probeRun(11)], at(10))).toBe(true);
    // An earlier run read late is not new either.
    expect(isNewData([probeRun(9)], at(10))).toBe(false);
  });

  it('counts an evaluation when any one of its signals stands on new data', () => {
    expect(isNewData([requests(25), probeRun(21)], at(20))).toBe(true);
    expect(isNewData([requests(25), probeRun(20)], at(20))).toBe(false);
    // Nothing says what the data was, or nothing was counted yet: it counts.
    expect(isNewData([], at(20))).toBe(true);
    expect(isNewData([requests(20)], null)).toBe(true);
  });

  it('resets the streak and what it counted on any calmer evaluation, a pass included', () => {
    const [, calm, again, confirm] = play([
      ['staged_rollback', [requests(20)]],
      ['continue_deployment', []],
      ['staged_rollback', [requests(20)]],
      ['staged_rollback', [requests(35)]],
    ]);
    // The pass resets the streak; the pending answer steps down only after three of them.
    expect(calm).toMatchObject({ stagedStreak: 0, confirmedThrough: null, effective: 'monitor_and_optimize' });
    // After the reset the same window counts again, as the start of a new streak.
    expect(again).toMatchObject({ stagedStreak: 1, confirmedThrough: at(20), effective: 'monitor_and_optimize' });
    expect(confirm).toMatchObject({ stagedStreak: 2, effective: 'staged_rollback' });
  });

  it('rolls back at once on an immediate rollback over data already counted, and after a pass', () => {
    const states = play([
      ['staged_rollback', [requests(20)]],
      ['immediate_rollback', [requests(20)]],
    ]);
    expect(states.map((state) => state.effective)).toEqual(['monitor_and_optimize', 'immediate_rollback']);
    const [, afterPass] = play([
      ['continue_deployment', []],
      ['immediate_rollback', [probeRun(5)]],
    ]);
    expect(afterPass?.effective).toBe('immediate_rollback');
  });
});
