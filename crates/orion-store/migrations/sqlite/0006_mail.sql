-- Email intake (SQLite). Keep in step with migrations/postgres/0006_mail.sql.

-- Bytes by their SHA-256: raw messages and attachments, each stored once.
CREATE TABLE blob (
    sha256     TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    bytes      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every message that reached Orion and what became of it; nothing is dropped without a row here.
-- content_hash is over the message without its trace headers (Received, Return-Path, …), so the
-- same message delivered twice (by IMAP and by SMTP, or redelivered) is recognised.
CREATE TABLE mail_inbound (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    raw_sha256   TEXT    NOT NULL REFERENCES blob (sha256),
    content_hash TEXT    NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    message_id   TEXT,
    sender       TEXT,
    subject      TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN
                     ('ticket_created', 'reply_added', 'note_added', 'bounce', 'quarantined', 'discarded')),
    reason       TEXT,
    ticket_id    INTEGER REFERENCES ticket (id),
    deliveries   INTEGER NOT NULL DEFAULT 1,
    processed_at INTEGER NOT NULL
);
CREATE INDEX mail_inbound_quarantine_idx ON mail_inbound (id) WHERE status = 'quarantined';
CREATE INDEX mail_inbound_ticket_idx ON mail_inbound (ticket_id);

-- Message-IDs that belong to a ticket (received for it or sent about it), for threading replies.
CREATE TABLE ticket_message (
    message_id TEXT    NOT NULL,
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    direction  TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    recipient  TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, ticket_id)
);

-- Files attached to a ticket (from mail today; the portal and API later).
CREATE TABLE attachment (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES ticket (id),
    entry_id     INTEGER REFERENCES timeline_entry (id),
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT    NOT NULL REFERENCES blob (sha256),
    content_id   TEXT,
    inline       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachment_ticket_idx ON attachment (ticket_id, id);

-- Addresses mail to which bounced (from delivery status notifications).
CREATE TABLE mail_bounce (
    address    TEXT    PRIMARY KEY,
    status     TEXT,
    permanent  BOOLEAN NOT NULL,
    count      INTEGER NOT NULL,
    last_at    INTEGER NOT NULL
);
