-- Approvals (SQLite), one engine for whatever asks for them: a change's rounds and a catalog
-- request's steps. Keep in step with migrations/postgres/0035_approvals.sql.

-- Who is asked in which round (a change's round, a request's step) of which ticket, and what
-- they decided. Replaces change_approval, whose rows move here.
CREATE TABLE approval (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES ticket (id),
    round        INTEGER NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES app_user (id),
    -- asked in place of this person (they delegated their approvals, or did not decide in time)
    on_behalf_of INTEGER REFERENCES app_user (id),
    decision     TEXT    CHECK (decision IN ('approved', 'rejected')),
    comment      TEXT    NOT NULL DEFAULT '',
    decided_at   INTEGER,
    -- how the decision came: console, link, mail, timeout
    via          TEXT,
    UNIQUE (ticket_id, round, user_id)
);
INSERT INTO approval (id, ticket_id, round, user_id, decision, comment, decided_at, via)
    SELECT id, change_id, round, user_id, decision, comment, decided_at,
           CASE WHEN decision IS NULL THEN NULL ELSE 'console' END
    FROM change_approval;
DROP TABLE change_approval;
-- "Awaiting my approval".
CREATE INDEX approval_user_idx ON approval (user_id, decision, ticket_id);

-- A catalog request's approval steps as they are opened: the rule that decides one and when
-- it reminds and times out (business hours, worked out when the step opens).
CREATE TABLE approval_step (
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    round      INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    -- any, all, majority, quorum
    rule       TEXT    NOT NULL,
    -- quorum: the share of approvers (percent) that must approve
    quorum     INTEGER,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    opened_at  INTEGER NOT NULL,
    remind_at  INTEGER,
    due_at     INTEGER,
    -- what happens at due_at: remind, escalate, approve, reject
    on_timeout TEXT    NOT NULL DEFAULT 'remind',
    reminders  INTEGER NOT NULL DEFAULT 0,
    decided_at INTEGER,
    PRIMARY KEY (ticket_id, round)
);

-- "While I am away, this person approves for me."
CREATE TABLE approval_delegation (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES app_user (id),
    delegate_id INTEGER NOT NULL REFERENCES app_user (id),
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES app_user (id)
);
CREATE INDEX approval_delegation_user_idx ON approval_delegation (user_id, ends_at);

-- The one-time link (stored hashed) and the mail an approver was asked in; a reply to that
-- mail decides too.
CREATE TABLE approval_link (
    token_hash  TEXT    PRIMARY KEY,
    approval_id INTEGER NOT NULL REFERENCES approval (id),
    message_id  TEXT    NOT NULL UNIQUE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX approval_link_approval_idx ON approval_link (approval_id);

-- Where a catalog request's approval stands: NULL (none asked), pending, approved, rejected;
-- and the step it is at.
ALTER TABLE catalog_request ADD COLUMN approval TEXT;
ALTER TABLE catalog_request ADD COLUMN approval_round INTEGER NOT NULL DEFAULT 0;
