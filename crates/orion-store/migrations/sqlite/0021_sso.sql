-- Single sign-on with OpenID Connect: the providers people sign in with, which provider account
-- (issuer subject) is which Orion user, the sign-ins on their way through a provider, and on a
-- session (or a sign-in waiting for its second factor) the provider and ID token its sign-out
-- hands back to the provider.
CREATE TABLE sso_provider (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    position    INTEGER NOT NULL DEFAULT 0,
    -- Everything else an admin sets, as JSON (validated by the application); never the secret.
    settings    TEXT    NOT NULL,
    secret      TEXT,
    enabled     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE sso_identity (
    provider_id    INTEGER NOT NULL REFERENCES sso_provider (id) ON DELETE CASCADE,
    subject        TEXT    NOT NULL,
    user_id        INTEGER NOT NULL REFERENCES app_user (id),
    created_at     INTEGER NOT NULL,
    last_sign_in_at INTEGER NOT NULL,
    PRIMARY KEY (provider_id, subject)
);
CREATE INDEX sso_identity_user_idx ON sso_identity (user_id);

-- A sign-in sent to a provider and not back yet: only the SHA-256 of its state is kept; the
-- nonce and PKCE verifier never leave the server.
CREATE TABLE sso_login (
    state_hash    TEXT    PRIMARY KEY,
    provider_id   INTEGER NOT NULL REFERENCES sso_provider (id) ON DELETE CASCADE,
    nonce         TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    redirect_url  TEXT    NOT NULL,
    return_to     TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sso_login_expires_idx ON sso_login (expires_at);

ALTER TABLE web_session ADD COLUMN sso_provider_id INTEGER;
ALTER TABLE web_session ADD COLUMN sso_id_token TEXT;
ALTER TABLE signin_challenge ADD COLUMN sso_provider_id INTEGER;
ALTER TABLE signin_challenge ADD COLUMN sso_id_token TEXT;
