-- Up Migration
-- alert_state.notified has not been read since told_status and told_at (1764806400000) record what
-- on-call was told. It goes in two releases, so that a deploy never breaks the version still
-- running while it rolls out: this release stops writing it and lets it be NULL (a change of the
-- catalog only: no rewrite, no scan); the next release drops it, once no running version writes it.
SET LOCAL lock_timeout = '5s';
ALTER TABLE vigil.alert_state ALTER COLUMN notified DROP NOT NULL;
COMMENT ON COLUMN vigil.alert_state.notified IS
  'Unused: no longer written (told_status says what on-call was told); dropped by the next release.';

-- Down Migration
UPDATE vigil.alert_state SET notified = coalesce(told_status = 'firing', false) WHERE notified IS NULL;
ALTER TABLE vigil.alert_state ALTER COLUMN notified SET NOT NULL;
COMMENT ON COLUMN vigil.alert_state.notified IS NULL;
