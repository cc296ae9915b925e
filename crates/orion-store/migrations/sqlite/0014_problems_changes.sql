-- Problem and change management (SQLite). A problem (PRB) or change (CHG) is a ticket; these
-- tables hold what only they have. Keep in step with migrations/postgres/0014_problems_changes.sql.

-- A problem: its phase, the root-cause analysis, the workaround agents apply to its incidents,
-- and the change that fixes it for good.
CREATE TABLE problem (
    ticket_id            INTEGER PRIMARY KEY REFERENCES ticket (id),
    phase                TEXT    NOT NULL CHECK (phase IN ('new', 'investigating', 'known_error', 'resolved', 'closed')),
    symptoms             TEXT    NOT NULL DEFAULT '',
    timeline             TEXT    NOT NULL DEFAULT '',
    root_cause           TEXT    NOT NULL DEFAULT '',
    contributing_factors TEXT    NOT NULL DEFAULT '',
    analysis             TEXT    NOT NULL DEFAULT '',
    workaround           TEXT    NOT NULL DEFAULT '',
    fix_change_id        INTEGER REFERENCES ticket (id),
    known_error_at       INTEGER,
    version              INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX problem_phase_idx ON problem (phase, ticket_id);

-- The incidents a problem explains (an incident belongs to at most one problem).
CREATE TABLE problem_incident (
    incident_id INTEGER PRIMARY KEY REFERENCES ticket (id),
    problem_id  INTEGER NOT NULL REFERENCES ticket (id),
    linked_by   INTEGER REFERENCES app_user (id),
    linked_at   INTEGER NOT NULL
);
CREATE INDEX problem_incident_problem_idx ON problem_incident (problem_id, incident_id);

-- A group of incidents the detector thinks is one problem. incident_key is the sorted ids, so a
-- dismissed set is never proposed again.
CREATE TABLE problem_proposal (
    id           INTEGER PRIMARY KEY,
    basis        TEXT    NOT NULL CHECK (basis IN ('ci', 'similar')),
    basis_ci_id  INTEGER REFERENCES ci (id),
    reason       TEXT    NOT NULL,
    terms        TEXT    NOT NULL DEFAULT '[]',
    incident_key TEXT    NOT NULL,
    incidents    TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('open', 'accepted', 'dismissed')),
    problem_id   INTEGER REFERENCES ticket (id),
    decided_by   INTEGER REFERENCES app_user (id),
    decided_at   INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX problem_proposal_key_idx ON problem_proposal (incident_key);
CREATE INDEX problem_proposal_state_idx ON problem_proposal (state, id);

-- Pre-approved standard changes.
CREATE TABLE change_template (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    title               TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    implementation_plan TEXT    NOT NULL DEFAULT '',
    backout_plan        TEXT    NOT NULL DEFAULT '',
    test_plan           TEXT    NOT NULL DEFAULT '',
    risk                TEXT    NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    implementer_group_id INTEGER REFERENCES agent_group (id),
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_by          INTEGER REFERENCES app_user (id),
    created_at          INTEGER NOT NULL
);

-- A change: type, phase, plans, risk (computed from the questionnaire, or overridden with a
-- reason), the planned period, who implements it, how it is approved and how it went.
CREATE TABLE change_request (
    ticket_id            INTEGER PRIMARY KEY REFERENCES ticket (id),
    change_type          TEXT    NOT NULL CHECK (change_type IN ('standard', 'normal', 'emergency')),
    phase                TEXT    NOT NULL CHECK (phase IN ('draft', 'assessment', 'approval', 'scheduled',
                             'implementing', 'review', 'closed', 'cancelled', 'failed')),
    template_id          INTEGER REFERENCES change_template (id),
    reason               TEXT    NOT NULL DEFAULT '',
    implementation_plan  TEXT    NOT NULL DEFAULT '',
    backout_plan         TEXT    NOT NULL DEFAULT '',
    test_plan            TEXT    NOT NULL DEFAULT '',
    risk_impact          INTEGER CHECK (risk_impact BETWEEN 1 AND 3),
    risk_complexity      INTEGER CHECK (risk_complexity BETWEEN 1 AND 3),
    risk_experience      INTEGER CHECK (risk_experience BETWEEN 1 AND 3),
    risk_backout         INTEGER CHECK (risk_backout BETWEEN 1 AND 3),
    risk                 TEXT    CHECK (risk IN ('low', 'medium', 'high')),
    risk_override_reason TEXT,
    planned_start        INTEGER,
    planned_end          INTEGER,
    actual_start         INTEGER,
    actual_end           INTEGER,
    implementer_group_id INTEGER REFERENCES agent_group (id),
    approval_rule        TEXT    NOT NULL DEFAULT 'all' CHECK (approval_rule IN ('any', 'all', 'majority')),
    cab_group_id         INTEGER REFERENCES agent_group (id),
    approval_round       INTEGER NOT NULL DEFAULT 0,
    approval             TEXT    CHECK (approval IN ('pending', 'approved', 'rejected')),
    outcome              TEXT    CHECK (outcome IN ('successful', 'successful_with_issues', 'failed', 'backed_out')),
    outcome_notes        TEXT    NOT NULL DEFAULT '',
    version              INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX change_phase_idx ON change_request (phase, ticket_id);
-- The calendar reads changes by planned start.
CREATE INDEX change_schedule_idx ON change_request (planned_start, ticket_id) WHERE planned_start IS NOT NULL;

-- Named approvers of one approval round, with their decision.
CREATE TABLE change_approval (
    id         INTEGER PRIMARY KEY,
    change_id  INTEGER NOT NULL REFERENCES ticket (id),
    round      INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    decision   TEXT    CHECK (decision IN ('approved', 'rejected')),
    comment    TEXT    NOT NULL DEFAULT '',
    decided_at INTEGER,
    UNIQUE (change_id, round, user_id)
);
-- "Awaiting my approval".
CREATE INDEX change_approval_user_idx ON change_approval (user_id, decision, change_id);

-- Tasks on a change, such as "verify in production" after implementation.
CREATE TABLE change_task (
    id          INTEGER PRIMARY KEY,
    change_id   INTEGER NOT NULL REFERENCES ticket (id),
    title       TEXT    NOT NULL,
    assignee_id INTEGER REFERENCES app_user (id),
    done_at     INTEGER,
    done_by     INTEGER REFERENCES app_user (id),
    notes       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX change_task_change_idx ON change_task (change_id, id);
CREATE INDEX change_task_assignee_idx ON change_task (assignee_id, id) WHERE done_at IS NULL;

-- Incidents a change caused.
CREATE TABLE change_incident (
    incident_id INTEGER NOT NULL REFERENCES ticket (id),
    change_id   INTEGER NOT NULL REFERENCES ticket (id),
    linked_by   INTEGER REFERENCES app_user (id),
    linked_at   INTEGER NOT NULL,
    PRIMARY KEY (incident_id, change_id)
);
CREATE INDEX change_incident_change_idx ON change_incident (change_id, incident_id);

-- Blackout periods in which no change should be implemented.
CREATE TABLE freeze_period (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL
);
CREATE INDEX freeze_period_end_idx ON freeze_period (ends_at);

-- The recurring-incident detector reads a window of incidents by creation time.
CREATE INDEX ticket_kind_created_idx ON ticket (kind, created_at, id);
