-- Up Migration
-- A target or page whose samples the run's deadline left untaken is not measured, not down.
ALTER TABLE vigil.probe_results DROP CONSTRAINT probe_results_budget_state_check;
ALTER TABLE vigil.probe_results ADD CONSTRAINT probe_results_budget_state_check
  CHECK (budget_state IN ('ok', 'degraded', 'failed', 'down', 'not_measured'));

-- The comparison of the new page with the old: the Hodges-Lehmann shift new - old, its 95 %
-- interval, the verdict, and what "slower than baseline" was measured against.
ALTER TABLE vigil.probe_comparisons
  ADD COLUMN verdict text CHECK (verdict IN ('faster', 'slower', 'not_distinguishable')),
  ADD COLUMN difference_ms numeric(12, 3),
  ADD COLUMN difference_low_ms numeric(12, 3),
  ADD COLUMN difference_high_ms numeric(12, 3),
  ADD COLUMN baseline_source text;

-- Down Migration
ALTER TABLE vigil.probe_comparisons
  DROP COLUMN baseline_source,
  DROP COLUMN difference_high_ms,
  DROP COLUMN difference_low_ms,
  DROP COLUMN difference_ms,
  DROP COLUMN verdict;
ALTER TABLE vigil.probe_results DROP CONSTRAINT probe_results_budget_state_check;
ALTER TABLE vigil.probe_results ADD CONSTRAINT probe_results_budget_state_check
  CHECK (budget_state IN ('ok', 'degraded', 'failed', 'down'));
