-- Up Migration
-- POST /alerts/test requests per caller, so one caller cannot send unlimited (critical, SMS) test alerts.
CREATE TABLE vigil.test_alert_requests (
  id            bigserial PRIMARY KEY,
  caller        text NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_alert_requests_caller_idx ON vigil.test_alert_requests (caller, requested_at DESC);

-- Down Migration
DROP TABLE vigil.test_alert_requests;
