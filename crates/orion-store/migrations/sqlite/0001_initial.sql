-- Orion initial schema (SQLite). Keep in step with migrations/postgres/0001_initial.sql.
-- Times are UTC epoch milliseconds.

CREATE TABLE app_user (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('requester', 'agent', 'lead', 'admin')),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    phone         TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX app_user_role_idx ON app_user (role, id);

CREATE TABLE agent_group (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    tier                 INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 3),
    escalation_target_id INTEGER REFERENCES agent_group (id),
    lead_id              INTEGER REFERENCES app_user (id),
    description          TEXT    NOT NULL DEFAULT '',
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE group_member (
    group_id INTEGER NOT NULL REFERENCES agent_group (id),
    user_id  INTEGER NOT NULL REFERENCES app_user (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_member_user_idx ON group_member (user_id);

CREATE TABLE category (
    id         INTEGER PRIMARY KEY,
    parent_id  INTEGER REFERENCES category (id),
    name       TEXT    NOT NULL,
    path       TEXT    NOT NULL UNIQUE,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE ticket_counter (
    kind       TEXT    PRIMARY KEY,
    last_value INTEGER NOT NULL
);

CREATE TABLE ticket (
    id                  INTEGER PRIMARY KEY,
    number              TEXT    NOT NULL UNIQUE,
    kind                TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    requester_id        INTEGER NOT NULL REFERENCES app_user (id),
    channel             TEXT    NOT NULL,
    category_id         INTEGER REFERENCES category (id),
    impact              INTEGER NOT NULL CHECK (impact BETWEEN 1 AND 3),
    urgency             INTEGER NOT NULL CHECK (urgency BETWEEN 1 AND 3),
    priority            INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
    state               TEXT    NOT NULL,
    pending_reason      TEXT,
    assignment_group_id INTEGER NOT NULL REFERENCES agent_group (id),
    assignee_id         INTEGER REFERENCES app_user (id),
    escalation_count    INTEGER NOT NULL DEFAULT 0,
    max_tier            INTEGER NOT NULL,
    reopen_count        INTEGER NOT NULL DEFAULT 0,
    resolution_code     TEXT,
    resolution_notes    TEXT,
    created_by          INTEGER NOT NULL REFERENCES app_user (id),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    resolved_at         INTEGER,
    closed_at           INTEGER,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ticket_requester_idx ON ticket (requester_id, id);
CREATE INDEX ticket_group_state_idx ON ticket (assignment_group_id, state, id);
CREATE INDEX ticket_group_idx ON ticket (assignment_group_id, id);
CREATE INDEX ticket_assignee_idx ON ticket (assignee_id, id);
CREATE INDEX ticket_state_idx ON ticket (state, id);
CREATE INDEX ticket_kind_idx ON ticket (kind, id);
CREATE INDEX ticket_priority_idx ON ticket (priority, id);

CREATE TABLE timeline_entry (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    at         INTEGER NOT NULL,
    actor_id   INTEGER REFERENCES app_user (id),
    kind       TEXT    NOT NULL,
    visibility TEXT    NOT NULL CHECK (visibility IN ('public', 'internal')),
    body       TEXT    NOT NULL DEFAULT '',
    data       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_entry_ticket_idx ON timeline_entry (ticket_id, id);

-- The timeline is the audit trail: nothing in it is ever changed or removed.
CREATE TRIGGER timeline_entry_no_update BEFORE UPDATE ON timeline_entry
BEGIN
    SELECT RAISE(ABORT, 'timeline entries are append-only');
END;
CREATE TRIGGER timeline_entry_no_delete BEFORE DELETE ON timeline_entry
BEGIN
    SELECT RAISE(ABORT, 'timeline entries are append-only');
END;

CREATE TABLE api_token (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user (id),
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_token_user_idx ON api_token (user_id, id);

CREATE TABLE setting (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
