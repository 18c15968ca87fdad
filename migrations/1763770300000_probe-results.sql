-- Up Migration
-- One row per probed target or page scenario per run. Monthly range partitions named
-- probe_results_YYYY_MM, like the watched app's logs, so partition maintenance keeps it bounded;
-- the default partition catches rows of a month not created yet rather than losing them.
CREATE TABLE vigil.probe_results (
  run_id              uuid NOT NULL,
  measured_at         timestamptz NOT NULL,
  kind                text NOT NULL CHECK (kind IN ('target', 'scenario')),
  name                text NOT NULL,
  url                 text,
  samples             integer NOT NULL,
  successes           integer NOT NULL,
  success_percent     numeric(6, 2) NOT NULL,
  p50_ms              numeric(12, 3),
  p95_ms              numeric(12, 3),
  p99_ms              numeric(12, 3),
  budget_state        text NOT NULL CHECK (budget_state IN ('ok', 'degraded', 'failed', 'down')),
  budget_value_ms     numeric(12, 3),
  details             jsonb NOT NULL,
  PRIMARY KEY (name, measured_at, run_id)
) PARTITION BY RANGE (measured_at);

CREATE TABLE vigil.probe_results_default PARTITION OF vigil.probe_results DEFAULT;

DO $$
DECLARE
  month_start date;
BEGIN
  FOR offset_months IN 0..2 LOOP
    month_start := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => offset_months))::date;
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS vigil.%I PARTITION OF vigil.probe_results FOR VALUES FROM (%L) TO (%L)',
      'probe_results_' || to_char(month_start, 'YYYY_MM'),
      month_start::timestamp AT TIME ZONE 'UTC',
      (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'
    );
  END LOOP;
END $$;

-- One row per run: the old page against the new, as the rollout promised it.
CREATE TABLE vigil.probe_comparisons (
  run_id                       uuid PRIMARY KEY,
  measured_at                  timestamptz NOT NULL,
  old_scenario                 text NOT NULL,
  new_scenario                 text NOT NULL,
  calls_old                    integer NOT NULL,
  calls_new                    integer NOT NULL,
  api_call_reduction_percent   numeric(6, 2) NOT NULL,
  old_p50_ms                   numeric(12, 3),
  old_p95_ms                   numeric(12, 3),
  new_p50_ms                   numeric(12, 3),
  new_p95_ms                   numeric(12, 3),
  baseline_ms                  numeric(12, 3) NOT NULL,
  details                      jsonb NOT NULL
);
CREATE INDEX probe_comparisons_measured_idx ON vigil.probe_comparisons (measured_at DESC);

-- Down Migration
DROP TABLE vigil.probe_comparisons;
DROP TABLE vigil.probe_results;
