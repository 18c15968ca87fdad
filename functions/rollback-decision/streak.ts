import type { Action } from './matrix';

/*
 * Scheduled evaluations do not flap: immediate_rollback at once; staged_rollback only after N
 * consecutive evaluations at staged or worse, each on new data (the 15-minute window read every 5
 * minutes counts once per 15 minutes: an evaluation whose data overlaps the last one counted
 * neither adds to the streak nor breaks it); any step down (back to continue included) only after
 * K consecutive evaluations below the answer in force, and only as far down as the highest of them.
 */

export interface StreakState {
  effective: Action;
  stagedStreak: number;
  calmStreak: number;
  /** The highest answer seen during the calm streak: where a step down lands. */
  calmCeiling: Action;
  /** The end of the data the last evaluation counted in the staged streak stood on. */
  confirmedThrough: string | null;
}

/** When the data behind an evaluation's rollback signals begins and ends. */
export interface DataWindow {
  start: string;
  end: string;
}

/**
 * Whether an evaluation at staged or worse stands on data the streak has not counted yet: some
 * signal behind it starts at or after the end of what was counted, and ends after it. Without
 * windows (nothing says what the data was) every evaluation counts, as before.
 */
export function isNewData(windows: DataWindow[], confirmedThrough: string | null): boolean {
  if (confirmedThrough === null || windows.length === 0) return true;
  const through = Date.parse(confirmedThrough);
  return windows.some((window) => Date.parse(window.start) >= through && Date.parse(window.end) > through);
}

const latestEnd = (windows: DataWindow[], fallback: string | null) =>
  windows.length === 0 ? fallback : new Date(Math.max(...windows.map((window) => Date.parse(window.end)))).toISOString();

const rank: Record<Action, number> = {
  continue_deployment: 0,
  monitor_and_optimize: 1,
  insufficient_data: 1,
  staged_rollback: 2,
  immediate_rollback: 3,
};

export function nextStreak(
  previous: StreakState | undefined,
  instantaneous: Action,
  options: { confirmEvaluations: number; clearEvaluations: number },
  /** The data windows of the signals at staged or worse in this evaluation. */
  rollbackData: DataWindow[] = [],
): StreakState & { note: string } {
  const prior: StreakState = previous ?? {
    effective: 'continue_deployment',
    stagedStreak: 0,
    calmStreak: 0,
    calmCeiling: 'continue_deployment',
    confirmedThrough: null,
  };
  const atStaged = rank[instantaneous] >= rank.staged_rollback;
  const fresh = atStaged && isNewData(rollbackData, prior.confirmedThrough);
  const stagedStreak = atStaged ? prior.stagedStreak + (fresh ? 1 : 0) : 0;
  const confirmedThrough = !atStaged ? null : fresh ? latestEnd(rollbackData, prior.confirmedThrough) : prior.confirmedThrough;
  if (instantaneous === 'insufficient_data') {
    return {
      effective: 'insufficient_data',
      stagedStreak: prior.stagedStreak,
      calmStreak: 0,
      calmCeiling: 'continue_deployment',
      confirmedThrough: prior.confirmedThrough,
      note: 'insufficient data: a human decides',
    };
  }
  let candidate: Action = instantaneous;
  let note = '';
  if (instantaneous === 'staged_rollback' && stagedStreak < options.confirmEvaluations) {
    candidate = 'monitor_and_optimize';
    note = fresh
      ? `staged_rollback pending: ${stagedStreak} of ${options.confirmEvaluations} consecutive evaluations on new data`
      : `staged_rollback pending: ${stagedStreak} of ${options.confirmEvaluations}; this evaluation's data overlaps the one counted (through ${prior.confirmedThrough}), so it does not confirm`;
  }
  if (rank[candidate] >= rank[prior.effective] || prior.effective === 'insufficient_data') {
    return {
      effective: candidate,
      stagedStreak,
      calmStreak: 0,
      calmCeiling: 'continue_deployment',
      confirmedThrough,
      note: note || `${candidate} in force`,
    };
  }
  const calmStreak = prior.calmStreak + 1;
  const calmCeiling = prior.calmStreak > 0 && rank[prior.calmCeiling] > rank[candidate] ? prior.calmCeiling : candidate;
  if (calmStreak >= options.clearEvaluations) {
    return {
      effective: calmCeiling,
      stagedStreak,
      calmStreak: 0,
      calmCeiling: 'continue_deployment',
      confirmedThrough,
      note: `stepped down to ${calmCeiling} after ${calmStreak} calmer evaluations`,
    };
  }
  return {
    effective: prior.effective,
    stagedStreak,
    calmStreak,
    calmCeiling,
    confirmedThrough,
    note: `${prior.effective} kept: ${calmStreak} of ${options.clearEvaluations} calmer evaluations before stepping down`,
  };
}
