-- Up Migration
-- A staged rollback is confirmed only by new data: the end of the data the last counted
-- evaluation stood on. An evaluation over the same (overlapping) data does not count again.
ALTER TABLE vigil.rollback_state ADD COLUMN confirmed_through timestamptz;

-- Down Migration
ALTER TABLE vigil.rollback_state DROP COLUMN confirmed_through;
