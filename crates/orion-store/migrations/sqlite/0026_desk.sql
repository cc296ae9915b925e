-- The agent's desk (SQLite): tags kept on the ticket row, macros, following, notification
-- preferences and who is replying where. Keep in step with migrations/postgres/0026_desk.sql.

-- A ticket's tags, comma-joined in alphabetical order, kept beside ticket_tag (which the tag
-- filter reads): a ticket page or a list row reads them with the ticket, without a sub-query.
ALTER TABLE ticket ADD COLUMN tags TEXT;
UPDATE ticket SET tags = (SELECT group_concat(tag, ',') FROM (SELECT tag FROM ticket_tag WHERE ticket_id = ticket.id ORDER BY tag))
    WHERE id IN (SELECT ticket_id FROM ticket_tag);

-- Macros: a saved reply (with placeholders) and field changes an agent applies to a ticket in one
-- step. Personal (owner_id), shared with a group (group_id) or with every agent (neither);
-- suggested on tickets of their category (and below).
CREATE TABLE macro (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL,
    owner_id         INTEGER REFERENCES app_user (id),
    group_id         INTEGER REFERENCES agent_group (id),
    category_id      INTEGER REFERENCES category (id),
    reply            TEXT    NOT NULL DEFAULT '',
    reply_visibility TEXT    NOT NULL DEFAULT 'public',
    changes          TEXT    NOT NULL DEFAULT '{}',
    use_count        INTEGER NOT NULL DEFAULT 0,
    created_by       INTEGER REFERENCES app_user (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX macro_owner_idx ON macro (owner_id, name);
CREATE INDEX macro_group_idx ON macro (group_id, name);

-- Agents following a ticket hear of its changes; the reverse index lists what someone follows.
CREATE TABLE ticket_follower (
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;
CREATE INDEX ticket_follower_user_idx ON ticket_follower (user_id, ticket_id);

-- How a person wants to hear of each kind of event: console, mail, both or none. A kind without
-- a row uses the built-in default.
CREATE TABLE notification_preference (
    user_id  INTEGER NOT NULL REFERENCES app_user (id),
    kind     TEXT    NOT NULL,
    delivery TEXT    NOT NULL,
    PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;

-- Who asked to hear of tickets arriving in their groups (kind 'group').
CREATE INDEX notification_preference_kind_idx ON notification_preference (kind, user_id);

-- Who is writing on which ticket right now (the "someone else is replying" hint): refreshed while
-- an agent types, read by the other agents' pages; rows older than a minute mean nothing.
CREATE TABLE ticket_presence (
    ticket_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES app_user (id),
    at        INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;
