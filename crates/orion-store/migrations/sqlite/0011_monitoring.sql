-- Monitoring (SQLite): alert sources, alerts and the incidents they open, maintenance windows,
-- heartbeat monitors. Keep in step with migrations/postgres/0011_monitoring.sql.

-- A monitoring system allowed to send alerts: its kind (payload shape), a token (only its SHA-256
-- is kept), the group that owns its incidents, the user they are logged for, and its settings
-- (severity map, grouping window, reopen window, what to do when every alert is resolved).
CREATE TABLE integration (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL CHECK (kind IN ('alertmanager', 'grafana', 'zabbix', 'webhook')),
    token_hash       TEXT    NOT NULL UNIQUE,
    group_id         INTEGER NOT NULL REFERENCES agent_group (id),
    requester_id     INTEGER NOT NULL REFERENCES app_user (id),
    config           TEXT    NOT NULL DEFAULT '{}',
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    received         INTEGER NOT NULL DEFAULT 0,
    last_received_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- A window in which matching alerts are recorded but open nothing. Matchers are a JSON object of
-- label = value pairs, all of which must hold; the key `ci` matches the alert's host or CI.
CREATE TABLE maintenance_window (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    matchers   TEXT    NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL
);
CREATE INDEX maintenance_window_end_idx ON maintenance_window (ends_at);

-- One alert per (source, fingerprint or dedup key). ticket_id is the incident it belongs to now;
-- window_id the maintenance window that held it back, if it arrived inside one.
CREATE TABLE alert (
    id             INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integration (id),
    fingerprint    TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity       TEXT    NOT NULL,
    summary        TEXT    NOT NULL,
    details        TEXT    NOT NULL DEFAULT '',
    labels         TEXT    NOT NULL DEFAULT '{}',
    group_key      TEXT    NOT NULL DEFAULT '',
    ci             TEXT    NOT NULL DEFAULT '',
    service        TEXT    NOT NULL DEFAULT '',
    source_url     TEXT,
    ticket_id      INTEGER REFERENCES ticket (id),
    window_id      INTEGER REFERENCES maintenance_window (id),
    received       INTEGER NOT NULL DEFAULT 1,
    fired          INTEGER NOT NULL DEFAULT 1,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    starts_at      INTEGER NOT NULL,
    resolved_at    INTEGER,
    UNIQUE (integration_id, fingerprint)
);
CREATE INDEX alert_ticket_idx ON alert (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX alert_status_idx ON alert (status, id);
CREATE INDEX alert_group_idx ON alert (integration_id, group_key, last_seen_at) WHERE group_key <> '';
CREATE INDEX alert_ci_idx ON alert (ci, last_seen_at) WHERE ci <> '';
CREATE INDEX alert_service_idx ON alert (service, last_seen_at) WHERE service <> '';

-- A dead-man's switch: a scheduled job (a backup, an export) pings its secret URL after every run;
-- a run that does not come within schedule + grace, or that reports failure, opens an incident.
CREATE TABLE heartbeat (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL DEFAULT 'backup' CHECK (kind IN ('backup', 'job')),
    description      TEXT    NOT NULL DEFAULT '',
    token_hash       TEXT    NOT NULL UNIQUE,
    group_id         INTEGER NOT NULL REFERENCES agent_group (id),
    requester_id     INTEGER NOT NULL REFERENCES app_user (id),
    interval_seconds INTEGER,
    cron             TEXT,
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    grace_seconds    INTEGER NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    status           TEXT    NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'running', 'ok', 'failed', 'missed')),
    started_at       INTEGER,
    last_ping_at     INTEGER,
    last_ok_at       INTEGER,
    last_duration_ms INTEGER,
    next_due_at      INTEGER,
    ticket_id        INTEGER REFERENCES ticket (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);

-- Every ping and every missed run, with the log text a job sent.
CREATE TABLE heartbeat_run (
    id           INTEGER PRIMARY KEY,
    heartbeat_id INTEGER NOT NULL REFERENCES heartbeat (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('start', 'ok', 'fail', 'missed')),
    duration_ms  INTEGER,
    log          TEXT    NOT NULL DEFAULT '',
    ticket_id    INTEGER REFERENCES ticket (id)
);
CREATE INDEX heartbeat_run_idx ON heartbeat_run (heartbeat_id, id);
