-- Outbound webhooks (SQLite): subscriptions to ticket events and the log of every delivery.
-- Keep in step with migrations/postgres/0012_webhooks.sql.

-- A URL that receives ticket events. The secret signs each delivery (HMAC-SHA256) and must be
-- kept in clear to sign; the API never shows it after creation or rotation. events is a JSON
-- array of event names; group_ids and priorities (JSON arrays, empty = all) narrow which tickets
-- count; format is the body's shape: Orion's JSON, a Slack message or a Teams card.
CREATE TABLE webhook (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    group_ids  TEXT    NOT NULL DEFAULT '[]',
    priorities TEXT    NOT NULL DEFAULT '[]',
    format     TEXT    NOT NULL CHECK (format IN ('json', 'slack', 'teams')),
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One event sent (or to be sent) to one webhook. The body is fixed when the event happens;
-- each attempt updates the status, the response and the attempt count.
-- redelivery_of: the delivery an admin asked to send again.
CREATE TABLE webhook_delivery (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    ticket_id       INTEGER REFERENCES ticket (id),
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'retrying', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    response_code   INTEGER,
    response_body   TEXT,
    error           TEXT,
    duration_ms     INTEGER,
    redelivery_of   INTEGER REFERENCES webhook_delivery (id),
    created_at      INTEGER NOT NULL,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    delivered_at    INTEGER
);
CREATE INDEX webhook_delivery_log_idx ON webhook_delivery (webhook_id, id);
CREATE INDEX webhook_delivery_failed_idx ON webhook_delivery (webhook_id, id) WHERE status IN ('retrying', 'failed');
