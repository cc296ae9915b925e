-- Directory sources (LDAP / Active Directory) that users are synchronised from, the log of every
-- run, and what a synchronised user carries: the source and stable id that key it (so a rename
-- keeps its history), the DN its manager is found by, and why and when it was deactivated.
CREATE TABLE directory_source (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    position    INTEGER  NOT NULL DEFAULT 0,
    -- Everything else an admin sets, as JSON (validated by the application); never the secret.
    settings    TEXT    NOT NULL,
    secret      TEXT,
    sync_minutes INTEGER NOT NULL,
    enabled     BOOLEAN NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER  NOT NULL DEFAULT 0,
    next_run_at INTEGER  NOT NULL DEFAULT 0,
    last_run_at INTEGER,
    last_ok_at  INTEGER,
    last_error  TEXT,
    created_at  INTEGER  NOT NULL,
    updated_at  INTEGER  NOT NULL
);

CREATE TABLE directory_run (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER  NOT NULL REFERENCES directory_source (id) ON DELETE CASCADE,
    started_at  INTEGER  NOT NULL,
    finished_at INTEGER  NOT NULL,
    dry_run     BOOLEAN NOT NULL,
    started_by  TEXT    NOT NULL CHECK (started_by IN ('schedule', 'manual')),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('applied', 'previewed', 'refused', 'failed')),
    entries     INTEGER  NOT NULL DEFAULT 0,
    created     INTEGER  NOT NULL DEFAULT 0,
    updated     INTEGER  NOT NULL DEFAULT 0,
    disabled    INTEGER  NOT NULL DEFAULT 0,
    reenabled   INTEGER  NOT NULL DEFAULT 0,
    unchanged   INTEGER  NOT NULL DEFAULT 0,
    message     TEXT    NOT NULL DEFAULT '',
    -- The changes with samples, as JSON.
    diff        TEXT    NOT NULL DEFAULT '{}',
    actor_id    INTEGER  REFERENCES app_user (id)
);
CREATE INDEX directory_run_source_idx ON directory_run (source_id, id);

ALTER TABLE app_user ADD COLUMN directory_source_id INTEGER REFERENCES directory_source (id) ON DELETE SET NULL;
ALTER TABLE app_user ADD COLUMN external_id TEXT;
ALTER TABLE app_user ADD COLUMN external_dn TEXT;
ALTER TABLE app_user ADD COLUMN login TEXT;
ALTER TABLE app_user ADD COLUMN title TEXT;
ALTER TABLE app_user ADD COLUMN location TEXT;
ALTER TABLE app_user ADD COLUMN manager_id INTEGER REFERENCES app_user (id);
ALTER TABLE app_user ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE app_user ADD COLUMN deactivated_at INTEGER;
ALTER TABLE app_user ADD COLUMN deactivated_reason TEXT;
-- 'directory' when a sync deactivated the user (a sync may re-enable them), 'admin' by hand.
ALTER TABLE app_user ADD COLUMN deactivated_by TEXT;
CREATE UNIQUE INDEX app_user_external_idx ON app_user (directory_source_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX app_user_external_dn_idx ON app_user (external_dn) WHERE external_dn IS NOT NULL;
CREATE INDEX app_user_manager_idx ON app_user (manager_id) WHERE manager_id IS NOT NULL;
