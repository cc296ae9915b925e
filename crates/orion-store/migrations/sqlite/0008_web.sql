-- Web sign-in and session security (SQLite). Keep in step with migrations/postgres/0008_web.sql.

-- Failed sign-ins in a row and the lockout they caused.
ALTER TABLE app_user ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE app_user ADD COLUMN locked_until INTEGER;
ALTER TABLE app_user ADD COLUMN password_changed_at INTEGER;

-- Server-side web sessions. The cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE web_session (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user (id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX web_session_user_idx ON web_session (user_id);
CREATE INDEX web_session_expires_idx ON web_session (expires_at);

-- Every security-relevant event: sign-ins, failures, lockouts, sign-outs, password and token changes,
-- refused cross-site requests.
CREATE TABLE security_event (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    user_id INTEGER REFERENCES app_user (id),
    email   TEXT,
    ip      TEXT,
    detail  TEXT    NOT NULL DEFAULT ''
);
-- Failed sign-ins per address in a window (cluster-wide throttling).
CREATE INDEX security_event_ip_idx ON security_event (ip, at) WHERE kind = 'sign_in_failed';

-- One-time password reset links (only the SHA-256 of the secret is stored).
CREATE TABLE password_reset (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX password_reset_user_idx ON password_reset (user_id);
