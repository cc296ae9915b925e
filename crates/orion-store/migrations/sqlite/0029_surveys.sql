-- Satisfaction surveys (SQLite): one per resolved ticket at most, sent to its requester with a
-- single-use link (only the link's SHA-256 is kept), answered once with 1–5 stars and a comment.
-- Keep in step with migrations/postgres/0029_surveys.sql.
--
-- The row copies the ticket's group, tier, agent, category, priority, kind and channel at
-- resolution, so the results per agent, group, tier and category read one index range.
CREATE TABLE survey (
    id                  INTEGER PRIMARY KEY,
    ticket_id           INTEGER NOT NULL UNIQUE REFERENCES ticket (id),
    requester_id        INTEGER NOT NULL REFERENCES app_user (id),
    assignee_id         INTEGER REFERENCES app_user (id),
    group_id            INTEGER NOT NULL REFERENCES agent_group (id),
    tier                INTEGER NOT NULL,
    category_id         INTEGER REFERENCES category (id),
    priority            INTEGER NOT NULL,
    kind                TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    visibility_group_id INTEGER REFERENCES agent_group (id),
    token_sha256        TEXT    NOT NULL UNIQUE,
    sent_at             INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    answered_at         INTEGER,
    -- 1 to 5 stars
    score               INTEGER CHECK (score BETWEEN 1 AND 5),
    comment             TEXT    NOT NULL DEFAULT '',
    -- the task opened for the lead after a low score
    followup_ticket_id  INTEGER REFERENCES ticket (id)
);
CREATE INDEX survey_sent_idx ON survey (sent_at, id);
CREATE INDEX survey_requester_idx ON survey (requester_id, sent_at);
