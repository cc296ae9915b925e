-- Two-factor sign-in: a user's authenticator-app (TOTP) secret, their single-use recovery codes
-- (only SHA-256 hashes), and the sign-ins waiting for a second factor after the password.
CREATE TABLE user_totp (
    user_id      INTEGER  PRIMARY KEY REFERENCES app_user (id),
    secret       TEXT    NOT NULL,
    -- NULL while enrolment waits for the first code from the app
    confirmed_at INTEGER,
    -- The last time step a code was accepted for: no code is accepted twice
    last_step    INTEGER  NOT NULL DEFAULT 0,
    created_at   INTEGER  NOT NULL
);

CREATE TABLE user_recovery_code (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER  NOT NULL REFERENCES app_user (id),
    code_hash TEXT    NOT NULL,
    used_at   INTEGER
);
CREATE INDEX user_recovery_code_user_idx ON user_recovery_code (user_id);

-- A password accepted, the second factor (or enrolment) still to come. The browser holds a random
-- token; only its SHA-256 is stored.
CREATE TABLE signin_challenge (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES app_user (id),
    created_at INTEGER  NOT NULL,
    expires_at INTEGER  NOT NULL,
    failures   INTEGER  NOT NULL DEFAULT 0
);
CREATE INDEX signin_challenge_user_idx ON signin_challenge (user_id);

-- When this session last confirmed a second factor (at sign-in or since): sensitive changes ask
-- for it again once it is older than the security settings allow.
ALTER TABLE web_session ADD COLUMN second_factor_at INTEGER;
