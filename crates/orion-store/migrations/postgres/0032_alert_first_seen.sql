-- The reports count the alerts first seen in a period (alerts per incident): by this index, not
-- by reading every alert. Keep in step with migrations/sqlite/0032_alert_first_seen.sql.
CREATE INDEX alert_first_seen_idx ON alert (first_seen_at, id);
