-- Security keys and passkeys (WebAuthn) as a second factor: each registered credential with its
-- public key and signature counter (webauthn-rs's record, as JSON), and the ceremony in progress
-- per user (its challenge state), so any node can finish what another began.
CREATE TABLE user_security_key (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES app_user (id),
    name          TEXT    NOT NULL,
    credential_id TEXT    NOT NULL UNIQUE,
    credential    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX user_security_key_user_idx ON user_security_key (user_id);

CREATE TABLE webauthn_ceremony (
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('register', 'authenticate')),
    state      TEXT    NOT NULL,
    origin     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);
