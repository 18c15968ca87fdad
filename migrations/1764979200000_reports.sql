-- Up Migration
-- The rollout scorecard (functions/report): one row per report made, with every row of its
-- scorecard as measured, so a digest can be read again and a period compared with the last.
CREATE TABLE vigil.reports (
  id              bigserial PRIMARY KEY,
  period          text NOT NULL CHECK (period IN ('day', 'week')),
  period_start    timestamptz NOT NULL,
  period_end      timestamptz NOT NULL,
  generated_at    timestamptz NOT NULL DEFAULT now(),
  trigger         text NOT NULL CHECK (trigger IN ('schedule', 'http', 'cli')),
  requested_by    text NOT NULL,
  -- The promises missed, by row id; empty when every measured promise was met.
  missed          text[] NOT NULL,
  verdicts        jsonb NOT NULL,
  scorecard       jsonb NOT NULL,
  page_key        text,
  CHECK (period_end > period_start)
);
CREATE INDEX reports_period_idx ON vigil.reports (period, period_end DESC);

-- The digest is a notification of its own kind: sent once per scheduled report, never deduplicated.
ALTER TABLE vigil.alert_notifications DROP CONSTRAINT alert_notifications_kind_check;
ALTER TABLE vigil.alert_notifications ADD CONSTRAINT alert_notifications_kind_check
  CHECK (kind IN ('firing', 'refiring', 'repeat', 'escalation', 'resolved', 'test', 'digest'));

-- Down Migration
DELETE FROM vigil.alert_notifications WHERE kind = 'digest';
ALTER TABLE vigil.alert_notifications DROP CONSTRAINT alert_notifications_kind_check;
ALTER TABLE vigil.alert_notifications ADD CONSTRAINT alert_notifications_kind_check
  CHECK (kind IN ('firing', 'refiring', 'repeat', 'escalation', 'resolved', 'test'));
DROP TABLE vigil.reports;
