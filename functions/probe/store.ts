import { randomUUID } from 'node:crypto';
import type { Database } from '../../lib/db';
import { redactDeep } from '../../lib/redact';
import type { RecentRun } from './alerting';
import type { BudgetState, PageComparison, ProbeSummary } from './summary';

/** One run: a row per target and scenario (monthly partitions), and the old/new comparison. */
export async function storeProbeRun(
  db: Database,
  measuredAt: Date,
  summaries: ProbeSummary[],
  comparison: PageComparison | undefined,
): Promise<string> {
  const runId = randomUUID();
  await db.withTransaction(async (client) => {
    for (const summary of summaries) {
      const { p50, p95, p99, ...rest } = summary;
      await client.query(
        `INSERT INTO vigil.probe_results (run_id, measured_at, kind, name, url, samples, successes, success_percent, p50_ms, p95_ms, p99_ms,
                                          budget_state, budget_value_ms, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          runId,
          measuredAt,
          summary.kind,
          summary.name,
          summary.url ?? null,
          summary.samples,
          summary.successes,
          summary.successPercent,
          p50.value,
          p95.value,
          p99.value,
          summary.budget.state,
          summary.budget.valueMs,
          JSON.stringify(redactDeep({ ...rest, p50, p95, p99 })),
        ],
      );
    }
    if (comparison) {
      await client.query(
        `INSERT INTO vigil.probe_comparisons (run_id, measured_at, old_scenario, new_scenario, calls_old, calls_new, api_call_reduction_percent,
                                              old_p50_ms, old_p95_ms, new_p50_ms, new_p95_ms, baseline_ms, details,
                                              verdict, difference_ms, difference_low_ms, difference_high_ms, baseline_source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
        [
          runId,
          measuredAt,
          comparison.oldScenario,
          comparison.newScenario,
          comparison.callsOld,
          comparison.callsNew,
          comparison.apiCallReductionPercent,
          comparison.loadTimeMs.old.p50,
          comparison.loadTimeMs.old.p95,
          comparison.loadTimeMs.new.p50,
          comparison.loadTimeMs.new.p95,
          comparison.baselineMs,
          JSON.stringify(comparison),
          comparison.difference.verdict,
          comparison.difference.estimateMs,
          comparison.difference.low,
          comparison.difference.high,
          comparison.baselineSource,
        ],
      );
    }
  });
  return runId;
}

export async function recentProbeRuns(db: Database, name: string, count: number): Promise<RecentRun[]> {
  const { rows } = await db.query<{
    measured_at: Date;
    budget_state: BudgetState;
    budget_value_ms: string | null;
    success_percent: string;
    samples: number;
  }>(
    `SELECT measured_at, budget_state, budget_value_ms, success_percent, samples FROM vigil.probe_results
     WHERE name = $1 AND measured_at > now() - interval '1 day' ORDER BY measured_at DESC LIMIT $2`,
    [name, count],
  );
  return rows.map((row) => ({
    measuredAt: row.measured_at,
    state: row.budget_state,
    valueMs: row.budget_value_ms === null ? null : Number(row.budget_value_ms),
    successPercent: Number(row.success_percent),
    samples: row.samples,
  }));
}
