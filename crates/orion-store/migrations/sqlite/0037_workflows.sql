-- Joiners, movers and leavers (SQLite). Keep in step with migrations/postgres/0037_workflows.sql.

-- One person's arrival, move or departure, with the plan of tasks dated from `anchor_day` (the
-- start day, the move day, the last day).
CREATE TABLE workflow (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('joiner', 'mover', 'leaver')),
    person_id        INTEGER NOT NULL REFERENCES app_user (id),
    manager_id       INTEGER REFERENCES app_user (id),
    -- the department and role (a mover's old ones), and a mover's new ones
    department       TEXT    NOT NULL DEFAULT '',
    job_title        TEXT    NOT NULL DEFAULT '',
    new_department   TEXT    NOT NULL DEFAULT '',
    new_job_title    TEXT    NOT NULL DEFAULT '',
    location         TEXT    NOT NULL DEFAULT '',
    -- YYYY-MM-DD
    anchor_day       TEXT    NOT NULL,
    -- the group tasks go to unless the plan names another
    group_id         INTEGER NOT NULL REFERENCES agent_group (id),
    -- open, closed, cancelled
    state            TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'cancelled')),
    -- a mover's access to add and to revoke (JSON lists), computed when it is planned
    access_add       TEXT    NOT NULL DEFAULT '[]',
    access_revoke    TEXT    NOT NULL DEFAULT '[]',
    -- what it was started with besides the fields above (JSON object; a form's answers)
    details          TEXT    NOT NULL DEFAULT '{}',
    -- api, console, catalog, directory
    origin           TEXT    NOT NULL,
    -- the catalog request that started it
    request_id       INTEGER REFERENCES ticket (id),
    note             TEXT    NOT NULL DEFAULT '',
    created_by       INTEGER REFERENCES app_user (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    closed_at        INTEGER,
    closed_by        INTEGER REFERENCES app_user (id),
    -- why a lead closed it although Orion did not see everything done
    exception_reason TEXT,
    row_version      INTEGER NOT NULL DEFAULT 1
);
-- The dashboard: open workflows by date.
CREATE INDEX workflow_state_day_idx ON workflow (state, anchor_day, id);
CREATE INDEX workflow_person_idx ON workflow (person_id, id);

-- One task of a workflow's plan; a leaver's per-asset task has one line per asset (n 0, 1, …).
CREATE TABLE workflow_task (
    workflow_id  INTEGER NOT NULL REFERENCES workflow (id),
    task_key     TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    -- its place in the plan
    position     INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    group_id     INTEGER NOT NULL REFERENCES agent_group (id),
    offset_days  INTEGER NOT NULL,
    -- keys of the tasks it waits for (JSON list)
    after_keys   TEXT    NOT NULL DEFAULT '[]',
    -- hands_out: its completion checks an asset out to the person; check_in: one asset to take back
    action       TEXT    NOT NULL DEFAULT '' CHECK (action IN ('', 'hands_out', 'check_in')),
    asset_id     INTEGER REFERENCES ci (id),
    -- waiting (for earlier tasks), open (a TSK ticket works on it), done, cancelled
    state        TEXT    NOT NULL CHECK (state IN ('waiting', 'open', 'done', 'cancelled')),
    due_day      TEXT    NOT NULL,
    due_at       INTEGER NOT NULL,
    ticket_id    INTEGER UNIQUE REFERENCES ticket (id),
    done_at      INTEGER,
    done_by      INTEGER REFERENCES app_user (id),
    -- what was recorded: the asset handed out, the condition of one taken back, the notes
    outcome      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (workflow_id, task_key, n)
);

-- What each department or role gives access to: a mover's access to add and revoke is the
-- difference between the old and the new.
CREATE TABLE access_profile (
    -- lower-case department or role name
    name_key TEXT NOT NULL,
    name     TEXT NOT NULL,
    access   TEXT NOT NULL,
    PRIMARY KEY (name_key, access)
);

-- The plan each kind starts with (none stored: the plan Orion ships).
CREATE TABLE workflow_plan (
    kind       TEXT    PRIMARY KEY CHECK (kind IN ('joiner', 'mover', 'leaver')),
    tasks      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES app_user (id)
);
