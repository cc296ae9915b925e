-- Restricted tickets, tags and routing rules (SQLite). Keep in step with
-- migrations/postgres/0025_routing.sql.

-- A ticket limited to one group (Security, HR): only that group's members, admins and the
-- requester see it. Restricted tickets are few; the partial index lists them by id, so a list or
-- a search page finds the ones a reader may not see with one small range read.
ALTER TABLE ticket ADD COLUMN visibility_group_id INTEGER REFERENCES agent_group (id);
CREATE INDEX ticket_restricted_idx ON ticket (id, visibility_group_id) WHERE visibility_group_id IS NOT NULL;

-- Tags on tickets (folded to lower case), set by agents and by routing rules; the queue and the
-- API filter by tag, newest first, on the (tag, ticket_id) index.
CREATE TABLE ticket_tag (
    ticket_id INTEGER NOT NULL REFERENCES ticket (id),
    tag       TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, tag)
) WITHOUT ROWID;
CREATE INDEX ticket_tag_idx ON ticket_tag (tag, ticket_id);

-- Routing rules, evaluated in position order on every new ticket (and, when on_update, on every
-- change of one): conditions and actions are JSON documents (orion-domain `routing`); stop ends
-- the evaluation after this rule fired.
CREATE TABLE routing_rule (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    position   INTEGER NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    on_update  BOOLEAN NOT NULL DEFAULT FALSE,
    stop       BOOLEAN NOT NULL DEFAULT FALSE,
    conditions TEXT    NOT NULL,
    actions    TEXT    NOT NULL,
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX routing_rule_position_idx ON routing_rule (position, id);
