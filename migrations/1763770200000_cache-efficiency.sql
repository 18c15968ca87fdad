-- Up Migration
-- cacheEfficiency keeps one snapshot of each cache table (user_id, access_count, calculated_at),
-- rewritten by every run into an unlogged table of its own (vigil.cache_snapshot_<name>), and the
-- last counters, so each run measures the window since the previous one from deltas.
CREATE TABLE vigil.cache_source_state (
  cache_table           text PRIMARY KEY,
  snapshot_table        text,
  snapshot_taken_at     timestamptz,
  -- Rows the snapshot had when written: an unlogged table emptied by a crash is noticed, not counted as misses.
  snapshot_rows         bigint,
  counters              jsonb,
  counters_taken_at     timestamptz
);

-- Recalculations seen between runs, kept two hours back: "users recalculated more than 3 times in 2 hours".
-- Each run adds only calculated_at values after the previous run, in the transaction that moves the
-- state forward, so a row is never added twice; no index, so the bulk insert stays cheap.
CREATE TABLE vigil.cache_recalculations (
  cache_table    text NOT NULL,
  user_id        text NOT NULL,
  calculated_at  timestamptz NOT NULL
);

-- One row per source per run: the measured window, or no_data with why.
CREATE TABLE vigil.cache_windows (
  id                    bigserial PRIMARY KEY,
  cache_table           text NOT NULL,
  source                text NOT NULL CHECK (source IN ('counters', 'table')),
  primary_source        boolean NOT NULL,
  window_start          timestamptz,
  window_end            timestamptz NOT NULL,
  state                 text NOT NULL CHECK (state IN ('ok', 'no_data')),
  no_data_reason        text,
  lookups               bigint,
  hits                  bigint,
  misses                bigint,
  errors                bigint,
  hit_ratio             numeric(7, 4),
  cache_failure_rate    numeric(7, 4),
  error_rate            numeric(7, 4),
  cumulative_hit_ratio  numeric(7, 4),
  details               jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX cache_windows_latest_idx ON vigil.cache_windows (cache_table, primary_source, window_end DESC);

-- Down Migration
DROP TABLE vigil.cache_windows;
DROP TABLE vigil.cache_recalculations;
DROP TABLE vigil.cache_source_state;
