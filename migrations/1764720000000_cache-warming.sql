-- Up Migration
-- After a restart of the watched cache (its counters reset, its table flushed), the cache refills for
-- one TTL: windows that overlap that time report "warming" (no data), never a cold-start failure rate.
ALTER TABLE vigil.cache_source_state
  ADD COLUMN warming_until timestamptz,
  ADD COLUMN warming_reason text;

-- Down Migration
ALTER TABLE vigil.cache_source_state
  DROP COLUMN warming_reason,
  DROP COLUMN warming_until;
