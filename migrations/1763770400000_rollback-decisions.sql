-- Up Migration
-- Every rollback decision taken (not what-ifs): the audit trail of inputs, answer and who asked.
CREATE TABLE vigil.rollback_decisions (
  id                      bigserial PRIMARY KEY,
  decided_at              timestamptz NOT NULL DEFAULT now(),
  trigger                 text NOT NULL CHECK (trigger IN ('schedule', 'http', 'cli')),
  requested_by            text NOT NULL,
  instantaneous_action    text NOT NULL,
  effective_action        text,
  severity                text NOT NULL,
  tier                    smallint,
  signals                 jsonb NOT NULL,
  answer                  jsonb NOT NULL
);
CREATE INDEX rollback_decisions_decided_idx ON vigil.rollback_decisions (decided_at DESC);

-- The streaks of scheduled evaluations, so the scheduled answer does not flap.
CREATE TABLE vigil.rollback_state (
  id                smallint PRIMARY KEY CHECK (id = 1),
  effective_action  text NOT NULL,
  staged_streak     integer NOT NULL DEFAULT 0,
  calm_streak       integer NOT NULL DEFAULT 0,
  calm_ceiling      text NOT NULL DEFAULT 'continue_deployment',
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE vigil.rollback_state;
DROP TABLE vigil.rollback_decisions;
