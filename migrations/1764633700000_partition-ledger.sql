-- Up Migration
-- What a partition maintenance run has begun and not finished, so the next run finishes it: a
-- partition being detached, or detached and not yet archived or dropped.
CREATE TABLE vigil.partition_ledger (
  parent      text NOT NULL,
  partition   text NOT NULL,
  state       text NOT NULL CHECK (state IN ('detaching', 'detached', 'archived')),
  retire      text NOT NULL CHECK (retire IN ('drop', 'detach', 'archive')),
  archive_key text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (parent, partition)
);

-- Per configured table: which of the recent runs could not take a lock (newest last), so lock
-- contention alerts only when it keeps happening.
CREATE TABLE vigil.partition_table_state (
  table_name             text PRIMARY KEY,
  recent_lock_deferrals  boolean[] NOT NULL DEFAULT '{}',
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE vigil.partition_table_state;
DROP TABLE vigil.partition_ledger;
