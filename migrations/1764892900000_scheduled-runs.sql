-- Up Migration
-- One row per scheduled run of a function, keyed by its slot: the EventBridge event's scheduled
-- time. A second delivery of a slot that is running or done answers from this row and runs
-- nothing; a retry of a failed slot (or of one whose deadline passed without an answer) runs again.
CREATE TABLE vigil.scheduled_runs (
  function_name  text NOT NULL,
  slot           timestamptz NOT NULL,
  event_id       text,
  state          text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
  attempts       integer NOT NULL DEFAULT 1,
  started_at     timestamptz NOT NULL DEFAULT now(),
  deadline_at    timestamptz NOT NULL,
  finished_at    timestamptz,
  duplicates     integer NOT NULL DEFAULT 0,
  outcome        jsonb,
  PRIMARY KEY (function_name, slot)
);
CREATE INDEX scheduled_runs_started_idx ON vigil.scheduled_runs (started_at);

-- Down Migration
DROP TABLE vigil.scheduled_runs;
