-- Up Migration
-- Every change of an alert key's state is told (issue 18): what on-call was last told, and the
-- recent changes a flapping key's damping counts and merges.
ALTER TABLE vigil.alert_state
  ADD COLUMN told_status text CHECK (told_status IN ('firing', 'resolved')),
  ADD COLUMN told_at timestamptz,
  ADD COLUMN changes jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN held_changes integer NOT NULL DEFAULT 0;
-- What the old rules had told: a firing key with notified = false was a flap nobody heard of.
UPDATE vigil.alert_state
   SET told_status = CASE WHEN status = 'firing' AND notified THEN 'firing' ELSE 'resolved' END,
       told_at = coalesce(last_notified_at, resolved_at, last_fired_at);

ALTER TABLE vigil.alert_notifications DROP CONSTRAINT alert_notifications_kind_check;
ALTER TABLE vigil.alert_notifications ADD CONSTRAINT alert_notifications_kind_check
  CHECK (kind IN ('firing', 'refiring', 'repeat', 'escalation', 'resolved', 'test'));

-- Down Migration
DELETE FROM vigil.alert_notifications WHERE kind = 'refiring';
ALTER TABLE vigil.alert_notifications DROP CONSTRAINT alert_notifications_kind_check;
ALTER TABLE vigil.alert_notifications ADD CONSTRAINT alert_notifications_kind_check
  CHECK (kind IN ('firing', 'repeat', 'escalation', 'resolved', 'test'));
ALTER TABLE vigil.alert_state
  DROP COLUMN held_changes,
  DROP COLUMN changes,
  DROP COLUMN told_at,
  DROP COLUMN told_status;
