-- Up Migration
-- cacheEfficiency measures a large cache table on a fixed slice of its key range (a consistent
-- sample) and counts it whole (a census) on its own schedule. Safe on a live database: nullable
-- columns without a default are a change of the catalog only (no rewrite, no scan), and the lock
-- each ALTER needs is given up after 5 s instead of queueing the function's run behind it.
SET LOCAL lock_timeout = '5s';

-- The slice: its pivot (chosen once, kept), the share of the key space the stored snapshot holds
-- (NULL: the whole table, as before), the share the next run takes (from this window's interval),
-- and why a large table is measured whole anyway (its keys are not random). The census in progress:
-- the time and rows of its whole-table baseline; the latest census, for its schedule.
ALTER TABLE vigil.cache_source_state
  ADD COLUMN sample_pivot uuid,
  ADD COLUMN snapshot_fraction double precision,
  ADD COLUMN next_fraction double precision,
  ADD COLUMN sample_refusal text,
  ADD COLUMN census_taken_at timestamptz,
  ADD COLUMN census_rows bigint,
  ADD COLUMN last_census_at timestamptz;

-- A sampled window: the slice's share, its entries, the hit ratio's 95 % interval and standard
-- error (percentage points). NULL: the whole table was counted, the ratio is exact.
ALTER TABLE vigil.cache_windows
  ADD COLUMN sample_fraction double precision,
  ADD COLUMN sample_entries bigint,
  ADD COLUMN hit_ratio_low numeric(7, 4),
  ADD COLUMN hit_ratio_high numeric(7, 4),
  ADD COLUMN standard_error double precision;

-- Down Migration
SET LOCAL lock_timeout = '5s';
ALTER TABLE vigil.cache_windows
  DROP COLUMN standard_error,
  DROP COLUMN hit_ratio_high,
  DROP COLUMN hit_ratio_low,
  DROP COLUMN sample_entries,
  DROP COLUMN sample_fraction;
ALTER TABLE vigil.cache_source_state
  DROP COLUMN last_census_at,
  DROP COLUMN census_rows,
  DROP COLUMN census_taken_at,
  DROP COLUMN sample_refusal,
  DROP COLUMN next_fraction,
  DROP COLUMN snapshot_fraction,
  DROP COLUMN sample_pivot;
