-- Update-interval targets, restart-on-priority-change, escalation rules, and recorded
-- time-in-group for OLA reports (SQLite). Keep in step with migrations/postgres/0005_sla_rules.sql.
--
-- SQLite cannot change a CHECK constraint in place, so ticket_sla (new target 'update') and
-- sla_event (new kind 'restart') are rebuilt. Order matters with foreign keys on: the events are
-- parked in a table without a foreign key, both old tables dropped child first, then rebuilt.

-- NULL: the default rules (warnings notify the assignee; breaches the assignee and the lead;
-- a resolution breach escalates when breach_escalates).
ALTER TABLE sla_policy ADD COLUMN escalation_rules TEXT;
ALTER TABLE sla_policy ADD COLUMN on_priority_change TEXT NOT NULL DEFAULT 'retarget'
    CHECK (on_priority_change IN ('retarget', 'restart'));

CREATE TABLE sla_event_parked AS SELECT id, ticket_sla_id, at, kind, reason FROM sla_event;
DROP TABLE sla_event;

CREATE TABLE ticket_sla_new (
    id            INTEGER PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES ticket (id),
    target        TEXT    NOT NULL CHECK (target IN ('first_response', 'resolution', 'update')),
    policy_name   TEXT    NOT NULL,
    calendar_name TEXT    NOT NULL,
    calendar_spec TEXT    NOT NULL,
    pause_on      TEXT    NOT NULL,
    warnings      TEXT    NOT NULL,
    escalates     BOOLEAN NOT NULL,
    target_ms     INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('running', 'paused', 'met', 'breached')),
    due_at        INTEGER,
    warned_pct    INTEGER NOT NULL DEFAULT 0,
    breach_handled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Copies from the policy when the clock started or was re-targeted (NULL rules: the defaults).
    rules         TEXT,
    on_priority_change TEXT NOT NULL DEFAULT 'retarget' CHECK (on_priority_change IN ('retarget', 'restart')),
    UNIQUE (ticket_id, target)
);
INSERT INTO ticket_sla_new (id, ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on, warnings,
        escalates, target_ms, state, due_at, warned_pct, breach_handled, created_at, updated_at)
    SELECT id, ticket_id, target, policy_name, calendar_name, calendar_spec, pause_on, warnings,
        escalates, target_ms, state, due_at, warned_pct, breach_handled, created_at, updated_at FROM ticket_sla;
DROP TABLE ticket_sla;
ALTER TABLE ticket_sla_new RENAME TO ticket_sla;
CREATE INDEX ticket_sla_due_idx ON ticket_sla (due_at) WHERE state = 'running';
CREATE INDEX ticket_sla_breached_idx ON ticket_sla (ticket_id) WHERE state = 'breached';

CREATE TABLE sla_event (
    id            INTEGER PRIMARY KEY,
    ticket_sla_id INTEGER NOT NULL REFERENCES ticket_sla (id),
    at            INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('start', 'pause', 'resume', 'stop', 'restart')),
    reason        TEXT
);
INSERT INTO sla_event (id, ticket_sla_id, at, kind, reason) SELECT id, ticket_sla_id, at, kind, reason FROM sla_event_parked;
DROP TABLE sla_event_parked;
CREATE INDEX sla_event_clock_idx ON sla_event (ticket_sla_id, id);

-- Time a resolved ticket spent with each group, in working minutes of the Business hours
-- calendar; rewritten for the ticket at each resolution (a reopened ticket's spans are
-- replaced when it is resolved again). OLA reports aggregate these rows.
CREATE TABLE ola_span (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES ticket (id),
    group_id    INTEGER NOT NULL REFERENCES agent_group (id),
    tier        INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER NOT NULL,
    working_ms  INTEGER NOT NULL,
    target_ms   INTEGER NOT NULL,
    resolved_at INTEGER NOT NULL
);
CREATE INDEX ola_span_resolved_idx ON ola_span (resolved_at);
CREATE INDEX ola_span_ticket_idx ON ola_span (ticket_id);
