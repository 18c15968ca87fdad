import type pg from 'pg';
import type { Database } from '../../lib/db';
import type { DecisionAnswer, Trigger } from './evaluate';
import type { MatrixResult } from './matrix';
import type { StreakState } from './streak';

/*
 * The rollback room's SQL: the scheduled streaks (vigil.rollback_state, one row) and the decisions
 * taken (vigil.rollback_decisions).
 */

interface StateRow {
  effective_action: StreakState['effective'];
  staged_streak: number;
  calm_streak: number;
  calm_ceiling: StreakState['calmCeiling'];
  confirmed_through: Date | null;
}

/** The scheduled streaks, locked for this transaction; undefined before the first scheduled evaluation. */
export async function lockStreakState(client: pg.ClientBase): Promise<StreakState | undefined> {
  const { rows } = await client.query<StateRow>(
    'SELECT effective_action, staged_streak, calm_streak, calm_ceiling, confirmed_through FROM vigil.rollback_state WHERE id = 1 FOR UPDATE',
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    effective: row.effective_action,
    stagedStreak: row.staged_streak,
    calmStreak: row.calm_streak,
    calmCeiling: row.calm_ceiling,
    confirmedThrough: row.confirmed_through?.toISOString() ?? null,
  };
}

export async function saveStreakState(client: pg.ClientBase, next: StreakState): Promise<void> {
  await client.query(
    `INSERT INTO vigil.rollback_state (id, effective_action, staged_streak, calm_streak, calm_ceiling, confirmed_through, updated_at)
     VALUES (1, $1, $2, $3, $4, $5, now())
     ON CONFLICT (id) DO UPDATE SET effective_action = EXCLUDED.effective_action, staged_streak = EXCLUDED.staged_streak,
       calm_streak = EXCLUDED.calm_streak, calm_ceiling = EXCLUDED.calm_ceiling, confirmed_through = EXCLUDED.confirmed_through,
       updated_at = now()`,
    [next.effective, next.stagedStreak, next.calmStreak, next.calmCeiling, next.confirmedThrough],
  );
}

/** Stores a real decision (never a what-if) and returns its id. */
export async function recordDecision(
  client: pg.ClientBase,
  decision: { decidedAt: Date; trigger: Trigger; requestedBy: string; matrix: MatrixResult; answer: DecisionAnswer },
): Promise<number> {
  const { decidedAt, trigger, requestedBy, matrix, answer } = decision;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO vigil.rollback_decisions (decided_at, trigger, requested_by, instantaneous_action, effective_action, severity, tier, signals, answer)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      decidedAt,
      trigger,
      requestedBy,
      matrix.action,
      trigger === 'schedule' ? answer.scheduled.effective : null,
      matrix.severity,
      matrix.tier?.tier ?? null,
      JSON.stringify(matrix.classified),
      JSON.stringify(answer),
    ],
  );
  return Number(rows[0]?.id);
}

/**
 * When the rollback now advised began: the first scheduled evaluation at staged or worse after the
 * last one that was calm with no rollback in force (a pending streak counts from its start).
 */
export async function rollbackBeganAt(db: Database): Promise<Date | undefined> {
  const { rows } = await db.query<{ began: Date | null }>(
    `SELECT min(decided_at) AS began FROM vigil.rollback_decisions
      WHERE trigger = 'schedule'
        AND instantaneous_action IN ('staged_rollback', 'immediate_rollback')
        AND decided_at > coalesce((
          SELECT max(decided_at) FROM vigil.rollback_decisions
           WHERE trigger = 'schedule'
             AND instantaneous_action NOT IN ('staged_rollback', 'immediate_rollback')
             AND coalesce(effective_action, 'continue_deployment') NOT IN ('staged_rollback', 'immediate_rollback')
        ), '-infinity'::timestamptz)`,
  );
  return rows[0]?.began ?? undefined;
}
