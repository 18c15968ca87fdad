import type { Action } from './matrix';

/*
 * Scheduled evaluations do not flap: immediate_rollback at once; staged_rollback only after N
 * consecutive evaluations at staged or worse; any step down (back to continue included) only after
 * K consecutive evaluations below the answer in force, and only as far down as the highest of them.
 */

export interface StreakState {
  effective: Action;
  stagedStreak: number;
  calmStreak: number;
  /** The highest answer seen during the calm streak: where a step down lands. */
  calmCeiling: Action;
}

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
): StreakState & { note: string } {
  const prior: StreakState = previous ?? {
    effective: 'continue_deployment',
    stagedStreak: 0,
    calmStreak: 0,
    calmCeiling: 'continue_deployment',
  };
  const stagedStreak = rank[instantaneous] >= rank.staged_rollback ? prior.stagedStreak + 1 : 0;
  if (instantaneous === 'insufficient_data') {
    return {
      effective: 'insufficient_data',
      stagedStreak: prior.stagedStreak,
      calmStreak: 0,
      calmCeiling: 'continue_deployment',
      note: 'insufficient data: a human decides',
    };
  }
  let candidate: Action = instantaneous;
  let note = '';
  if (instantaneous === 'staged_rollback' && stagedStreak < options.confirmEvaluations) {
    candidate = 'monitor_and_optimize';
    note = `staged_rollback pending: ${stagedStreak} of ${options.confirmEvaluations} consecutive evaluations`;
  }
  if (rank[candidate] >= rank[prior.effective] || prior.effective === 'insufficient_data') {
    return {
      effective: candidate,
      stagedStreak,
      calmStreak: 0,
      calmCeiling: 'continue_deployment',
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
      note: `stepped down to ${calmCeiling} after ${calmStreak} calmer evaluations`,
    };
  }
  return {
    effective: prior.effective,
    stagedStreak,
    calmStreak,
    calmCeiling,
    note: `${prior.effective} kept: ${calmStreak} of ${options.clearEvaluations} calmer evaluations before stepping down`,
  };
}
