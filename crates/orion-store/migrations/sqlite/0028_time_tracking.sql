-- Time tracking (SQLite): minutes an agent logs against a ticket — with a reply, a work note, a
-- call or the resolution, or on its own for a task — and, per group, whether time must be logged
-- before a ticket of the group is resolved. Keep in step with migrations/postgres/0028_time_tracking.sql.
--
-- The row copies the ticket's group, tier and category as they were when the time was logged, so
-- "time spent per tier" counts the work where it was done, and a report reads one index range.
ALTER TABLE agent_group ADD COLUMN time_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE time_entry (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES ticket (id),
    -- the reply, note or call the time was logged with; NULL: logged on its own
    entry_id    INTEGER REFERENCES timeline_entry (id),
    user_id     INTEGER NOT NULL REFERENCES app_user (id),
    -- 'reply', 'note', 'call', 'resolution', 'task' or 'other'
    work        TEXT    NOT NULL,
    minutes     INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    note        TEXT    NOT NULL DEFAULT '',
    group_id    INTEGER NOT NULL REFERENCES agent_group (id),
    tier        INTEGER NOT NULL,
    category_id INTEGER REFERENCES category (id),
    logged_at   INTEGER NOT NULL
);
CREATE INDEX time_entry_ticket_idx ON time_entry (ticket_id, id);
CREATE INDEX time_entry_logged_idx ON time_entry (logged_at, id);
