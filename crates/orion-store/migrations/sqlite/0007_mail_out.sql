-- Mailboxes polled by IMAP and mail sent by Orion (SQLite). Keep in step with
-- migrations/postgres/0007_mail_out.sql.

-- An IMAP mailbox Orion polls. uidvalidity/last_uid say how far it has read; the lease says which
-- node is polling it now (one at a time). The secret is never returned by the API.
CREATE TABLE mail_mailbox (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    host           TEXT    NOT NULL,
    port           INTEGER NOT NULL,
    security       TEXT    NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
    username       TEXT    NOT NULL,
    auth           TEXT    NOT NULL CHECK (auth IN ('password', 'xoauth2')),
    secret         TEXT,
    secret_file    TEXT,
    folder         TEXT    NOT NULL,
    after_fetch    TEXT    NOT NULL CHECK (after_fetch IN ('flag', 'move', 'delete')),
    move_to        TEXT,
    poll_seconds   INTEGER NOT NULL,
    enabled        BOOLEAN NOT NULL,
    uidvalidity    INTEGER,
    last_uid       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    INTEGER NOT NULL DEFAULT 0,
    next_poll_at   INTEGER NOT NULL DEFAULT 0,
    last_polled_at INTEGER,
    last_ok_at     INTEGER,
    last_error     TEXT,
    fetched        INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Every message Orion sends, rendered when it is queued (so a retry sends the same bytes with the
-- same Message-ID); a `mail.send` job delivers it.
CREATE TABLE mail_outbound (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER REFERENCES ticket (id),
    template    TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    automatic   BOOLEAN NOT NULL,
    recipients  TEXT    NOT NULL,
    message_id  TEXT    NOT NULL UNIQUE,
    subject     TEXT    NOT NULL,
    raw_sha256  TEXT    NOT NULL REFERENCES blob (sha256),
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'suppressed')),
    reason      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX mail_outbound_ticket_idx ON mail_outbound (ticket_id, id);
CREATE INDEX mail_outbound_unsent_idx ON mail_outbound (id) WHERE status IN ('queued', 'failed');

-- Automatic mail per recipient, for the auto-reply rate limit.
CREATE TABLE mail_auto_sent (
    address    TEXT    NOT NULL,
    sent_at    INTEGER NOT NULL
);
CREATE INDEX mail_auto_sent_idx ON mail_auto_sent (address, sent_at);
