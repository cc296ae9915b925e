-- SLA: business calendars, policies, and each ticket's SLA clocks (SQLite).
-- Keep in step with migrations/postgres/0003_sla.sql.
CREATE TABLE business_calendar (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Policies are tried in `position` order; the first that matches applies.
CREATE TABLE sla_policy (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    position            INTEGER NOT NULL,
    kinds               TEXT    NOT NULL DEFAULT '[]',
    priorities          TEXT    NOT NULL DEFAULT '[]',
    category            TEXT,
    department          TEXT,
    calendar_id         INTEGER NOT NULL REFERENCES business_calendar (id),
    first_response_min  INTEGER,
    resolution_min      INTEGER,
    update_interval_min INTEGER,
    pause_on            TEXT    NOT NULL DEFAULT '["user","vendor"]',
    warnings            TEXT    NOT NULL DEFAULT '[50,75,90]',
    -- On a resolution breach, move the ticket to its group's escalation target.
    breach_escalates    BOOLEAN NOT NULL DEFAULT TRUE,
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- One clock per ticket and target. Policy name, calendar and pause reasons are
-- copies taken when the clock started (or was re-targeted), so editing a policy
-- or calendar later does not rewrite history. due_at is derived from the events
-- and kept here only for queues and timers.
CREATE TABLE ticket_sla (
    id            INTEGER PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES ticket (id),
    target        TEXT    NOT NULL CHECK (target IN ('first_response', 'resolution')),
    policy_name   TEXT    NOT NULL,
    calendar_name TEXT    NOT NULL,
    calendar_spec TEXT    NOT NULL,
    pause_on      TEXT    NOT NULL,
    warnings      TEXT    NOT NULL,
    escalates     BOOLEAN NOT NULL,
    target_ms     INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('running', 'paused', 'met', 'breached')),
    due_at        INTEGER,
    -- The highest warning percentage already announced, and whether the breach was acted on.
    warned_pct    INTEGER NOT NULL DEFAULT 0,
    breach_handled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (ticket_id, target)
);
CREATE INDEX ticket_sla_due_idx ON ticket_sla (due_at) WHERE state = 'running';
-- The leads' breach queue.
CREATE INDEX ticket_sla_breached_idx ON ticket_sla (ticket_id) WHERE state = 'breached';

CREATE TABLE sla_event (
    id            INTEGER PRIMARY KEY,
    ticket_sla_id INTEGER NOT NULL REFERENCES ticket_sla (id),
    at            INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('start', 'pause', 'resume', 'stop')),
    reason        TEXT
);
CREATE INDEX sla_event_clock_idx ON sla_event (ticket_sla_id, id);

-- In-app notifications (SLA warnings and breaches today; mail delivery comes with the email channel).
CREATE TABLE notification (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    ticket_id  INTEGER REFERENCES ticket (id),
    kind       TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notification_user_idx ON notification (user_id, id);

INSERT INTO business_calendar (name, spec, created_at, updated_at) VALUES
    ('24x7', '{"time_zone":"UTC","week":[[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]],[[0,1440]]],"holidays":[],"yearly_holidays":[]}', 0, 0),
    ('Business hours', '{"time_zone":"UTC","week":[[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[],[]],"holidays":[],"yearly_holidays":[]}', 0, 0);

INSERT INTO sla_policy (name, position, priorities, calendar_id, first_response_min, resolution_min, created_at, updated_at) VALUES
    ('P1 default', 10, '[1]', (SELECT id FROM business_calendar WHERE name = '24x7'), 15, 240, 0, 0),
    ('P2 default', 20, '[2]', (SELECT id FROM business_calendar WHERE name = 'Business hours'), 60, 480, 0, 0),
    ('P3 default', 30, '[3]', (SELECT id FROM business_calendar WHERE name = 'Business hours'), 240, 1440, 0, 0),
    ('P4 default', 40, '[4]', (SELECT id FROM business_calendar WHERE name = 'Business hours'), 480, 2400, 0, 0),
    ('P5 default', 50, '[5]', (SELECT id FROM business_calendar WHERE name = 'Business hours'), 960, NULL, 0, 0);
