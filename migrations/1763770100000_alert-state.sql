-- Up Migration
-- One row per alert key: what lib/alerts needs to deduplicate, repeat, damp flaps and resolve.
CREATE TABLE vigil.alert_state (
  alert_key             text PRIMARY KEY,
  severity              text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'info')),
  status                text NOT NULL CHECK (status IN ('firing', 'resolved')),
  incident_started_at   timestamptz NOT NULL,
  last_fired_at         timestamptz NOT NULL,
  last_notified_at      timestamptz,
  notified              boolean NOT NULL,
  resolved_at           timestamptz,
  flap_count            integer NOT NULL DEFAULT 0,
  suppressed_count      integer NOT NULL DEFAULT 0,
  last_alert            jsonb NOT NULL,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Every message sent, for audit and for "what did ops receive" questions.
CREATE TABLE vigil.alert_notifications (
  id            bigserial PRIMARY KEY,
  alert_key     text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('firing', 'repeat', 'escalation', 'resolved', 'test')),
  severity      text NOT NULL,
  subject       text NOT NULL,
  message_id    text,
  size_bytes    integer NOT NULL,
  truncated     boolean NOT NULL,
  sent_at       timestamptz NOT NULL
);
CREATE INDEX alert_notifications_key_sent_idx ON vigil.alert_notifications (alert_key, sent_at DESC);

-- Down Migration
DROP TABLE vigil.alert_notifications;
DROP TABLE vigil.alert_state;
