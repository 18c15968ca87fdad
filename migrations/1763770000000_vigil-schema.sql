-- Up Migration
-- Vigil's own schema. Each function adds its tables in a migration of its own.
CREATE SCHEMA IF NOT EXISTS vigil;
COMMENT ON SCHEMA vigil IS 'Vigil: rollout watch state (alerts, probe results, cache windows, decisions)';

-- Down Migration
DROP SCHEMA IF EXISTS vigil CASCADE;
