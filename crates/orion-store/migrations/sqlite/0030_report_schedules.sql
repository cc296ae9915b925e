-- Scheduled reports (SQLite): a report's filters mailed on a schedule (daily, weekly or monthly,
-- at an hour of a time zone) to staff, and every run with its period and recipients.
-- Keep in step with migrations/postgres/0030_report_schedules.sql.
CREATE TABLE report_schedule (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES app_user (id),
    name        TEXT    NOT NULL,
    -- the report's filters as JSON (scope, group, tier, kind, priority, category, channel, agent, by)
    filters     TEXT    NOT NULL,
    -- 'daily', 'weekly' or 'monthly'
    frequency   TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    -- the local hour it goes out, 0–23
    hour        INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
    -- weekly: 1 Monday … 7 Sunday
    weekday     INTEGER,
    -- the recipients' e-mails as a JSON array
    recipients  TEXT    NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    next_run_at INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX report_schedule_owner_idx ON report_schedule (owner_id, id);

CREATE TABLE report_run (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES report_schedule (id) ON DELETE CASCADE,
    ran_at      INTEGER NOT NULL,
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    -- the e-mails it went to, as a JSON array
    recipients  TEXT    NOT NULL,
    -- 'sent', or why not
    outcome     TEXT    NOT NULL
);
CREATE INDEX report_run_schedule_idx ON report_run (schedule_id, id);
