-- The dashboard's counts of tickets (SQLite): how many tickets were created on each UTC day, per
-- value of every report filter, and whether each is open, pending or done now — kept by triggers
-- in the transaction that writes the ticket, so the backlog and the created-per-day figures read
-- a few thousand rows instead of every open or created ticket. Exact at every instant; the
-- reports read the ticket rows only for the days a period or an age band cuts through.
-- Keep in step with migrations/postgres/0033_ticket_tally.sql.

-- 1: the ticket has a breached SLA clock (kept by the triggers on ticket_sla below).
ALTER TABLE ticket ADD COLUMN sla_breached INTEGER NOT NULL DEFAULT 0;
UPDATE ticket SET sla_breached = 1 WHERE id IN (SELECT ticket_id FROM ticket_sla WHERE state = 'breached');

CREATE TABLE ticket_tally (
    -- days since 1970-01-01 (UTC) of created_at
    created_day         INTEGER NOT NULL,
    kind                TEXT    NOT NULL,
    group_id            INTEGER NOT NULL,
    priority            INTEGER NOT NULL,
    -- 0: none (category, assignee, restriction)
    category_id         INTEGER NOT NULL,
    channel             TEXT    NOT NULL,
    assignee_id         INTEGER NOT NULL,
    visibility_group_id INTEGER NOT NULL,
    -- 0 done (resolved, closed, cancelled), 1 open and not pending, 2 pending
    status              INTEGER NOT NULL,
    -- 1: open with a breached SLA clock
    breached            INTEGER NOT NULL,
    n                   INTEGER NOT NULL,
    PRIMARY KEY (created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
                 status, breached)
) WITHOUT ROWID;

INSERT INTO ticket_tally (created_day, kind, group_id, priority, category_id, channel, assignee_id,
        visibility_group_id, status, breached, n)
    SELECT created_at / 86400000, kind, assignment_group_id, priority, COALESCE(category_id, 0), channel,
        COALESCE(assignee_id, 0), COALESCE(visibility_group_id, 0),
        CASE WHEN state = 'pending' THEN 2 WHEN state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END,
        CASE WHEN state IN ('new', 'assigned', 'in_progress', 'pending') AND sla_breached <> 0 THEN 1 ELSE 0 END,
        COUNT(*)
    FROM ticket GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

CREATE TRIGGER ticket_tally_insert AFTER INSERT ON ticket
BEGIN
    INSERT INTO ticket_tally (created_day, kind, group_id, priority, category_id, channel, assignee_id,
            visibility_group_id, status, breached, n)
        VALUES (NEW.created_at / 86400000, NEW.kind, NEW.assignment_group_id, NEW.priority,
            COALESCE(NEW.category_id, 0), NEW.channel, COALESCE(NEW.assignee_id, 0),
            COALESCE(NEW.visibility_group_id, 0),
            CASE WHEN NEW.state = 'pending' THEN 2 WHEN NEW.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END,
            CASE WHEN NEW.state IN ('new', 'assigned', 'in_progress', 'pending') AND NEW.sla_breached <> 0 THEN 1 ELSE 0 END,
            1)
        ON CONFLICT (created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
            status, breached) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER ticket_tally_update AFTER UPDATE ON ticket
WHEN OLD.created_at / 86400000 IS NOT NEW.created_at / 86400000 OR OLD.kind IS NOT NEW.kind
    OR OLD.assignment_group_id IS NOT NEW.assignment_group_id OR OLD.priority IS NOT NEW.priority
    OR OLD.category_id IS NOT NEW.category_id OR OLD.channel IS NOT NEW.channel
    OR OLD.assignee_id IS NOT NEW.assignee_id OR OLD.visibility_group_id IS NOT NEW.visibility_group_id
    OR (CASE WHEN OLD.state = 'pending' THEN 2 WHEN OLD.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END)
        IS NOT (CASE WHEN NEW.state = 'pending' THEN 2 WHEN NEW.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END)
    OR (CASE WHEN OLD.state IN ('new', 'assigned', 'in_progress', 'pending') AND OLD.sla_breached <> 0 THEN 1 ELSE 0 END)
        IS NOT (CASE WHEN NEW.state IN ('new', 'assigned', 'in_progress', 'pending') AND NEW.sla_breached <> 0 THEN 1 ELSE 0 END)
BEGIN
    UPDATE ticket_tally SET n = n - 1
        WHERE created_day = OLD.created_at / 86400000 AND kind = OLD.kind AND group_id = OLD.assignment_group_id
            AND priority = OLD.priority AND category_id = COALESCE(OLD.category_id, 0) AND channel = OLD.channel
            AND assignee_id = COALESCE(OLD.assignee_id, 0)
            AND visibility_group_id = COALESCE(OLD.visibility_group_id, 0)
            AND status = CASE WHEN OLD.state = 'pending' THEN 2
                WHEN OLD.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END
            AND breached = CASE WHEN OLD.state IN ('new', 'assigned', 'in_progress', 'pending')
                AND OLD.sla_breached <> 0 THEN 1 ELSE 0 END;
    INSERT INTO ticket_tally (created_day, kind, group_id, priority, category_id, channel, assignee_id,
            visibility_group_id, status, breached, n)
        VALUES (NEW.created_at / 86400000, NEW.kind, NEW.assignment_group_id, NEW.priority,
            COALESCE(NEW.category_id, 0), NEW.channel, COALESCE(NEW.assignee_id, 0),
            COALESCE(NEW.visibility_group_id, 0),
            CASE WHEN NEW.state = 'pending' THEN 2 WHEN NEW.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END,
            CASE WHEN NEW.state IN ('new', 'assigned', 'in_progress', 'pending') AND NEW.sla_breached <> 0 THEN 1 ELSE 0 END,
            1)
        ON CONFLICT (created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
            status, breached) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER ticket_tally_delete AFTER DELETE ON ticket
BEGIN
    UPDATE ticket_tally SET n = n - 1
        WHERE created_day = OLD.created_at / 86400000 AND kind = OLD.kind AND group_id = OLD.assignment_group_id
            AND priority = OLD.priority AND category_id = COALESCE(OLD.category_id, 0) AND channel = OLD.channel
            AND assignee_id = COALESCE(OLD.assignee_id, 0)
            AND visibility_group_id = COALESCE(OLD.visibility_group_id, 0)
            AND status = CASE WHEN OLD.state = 'pending' THEN 2
                WHEN OLD.state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END
            AND breached = CASE WHEN OLD.state IN ('new', 'assigned', 'in_progress', 'pending')
                AND OLD.sla_breached <> 0 THEN 1 ELSE 0 END;
END;

-- A ticket's sla_breached follows its clocks: set when one is breached, cleared when none is.
CREATE TRIGGER ticket_sla_breached_insert AFTER INSERT ON ticket_sla WHEN NEW.state = 'breached'
BEGIN
    UPDATE ticket SET sla_breached = 1 WHERE id = NEW.ticket_id AND sla_breached = 0;
END;

CREATE TRIGGER ticket_sla_breached_update AFTER UPDATE ON ticket_sla
WHEN (OLD.state = 'breached') IS NOT (NEW.state = 'breached') OR OLD.ticket_id IS NOT NEW.ticket_id
BEGIN
    UPDATE ticket SET sla_breached = EXISTS (SELECT 1 FROM ticket_sla WHERE ticket_id = OLD.ticket_id AND state = 'breached')
        WHERE id = OLD.ticket_id;
    UPDATE ticket SET sla_breached = EXISTS (SELECT 1 FROM ticket_sla WHERE ticket_id = NEW.ticket_id AND state = 'breached')
        WHERE id = NEW.ticket_id;
END;

CREATE TRIGGER ticket_sla_breached_delete AFTER DELETE ON ticket_sla WHEN OLD.state = 'breached'
BEGIN
    UPDATE ticket SET sla_breached = EXISTS (SELECT 1 FROM ticket_sla WHERE ticket_id = OLD.ticket_id AND state = 'breached')
        WHERE id = OLD.ticket_id;
END;

-- The figures of a period's resolved tickets read every column they need from this index, without
-- a look-up in the table per row (tens of thousands of rows for a month at a million tickets).
CREATE INDEX ticket_outcome_measures_idx ON ticket_outcome (resolved_at, kind, group_id, priority,
    category_id, channel, assignee_id, visibility_group_id, first_tier, max_tier, reopen_count, response_sla,
    resolution_sla, update_sla, response_ms, resolution_ms);
