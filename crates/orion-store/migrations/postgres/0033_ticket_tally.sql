-- The dashboard's counts of tickets (PostgreSQL): how many tickets were created on each UTC day,
-- per value of every report filter, and whether each is open, pending or done now — kept by
-- triggers in the transaction that writes the ticket, so the backlog and the created-per-day
-- figures read a few thousand rows instead of every open or created ticket. Exact at every
-- instant; the reports read the ticket rows only for the days a period or an age band cuts
-- through. Keep in step with migrations/sqlite/0033_ticket_tally.sql.

-- 1: the ticket has a breached SLA clock (kept by the triggers on ticket_sla below).
ALTER TABLE ticket ADD COLUMN sla_breached BIGINT NOT NULL DEFAULT 0;
UPDATE ticket SET sla_breached = 1 WHERE id IN (SELECT ticket_id FROM ticket_sla WHERE state = 'breached');

CREATE TABLE ticket_tally (
    -- days since 1970-01-01 (UTC) of created_at
    created_day         BIGINT NOT NULL,
    kind                TEXT   NOT NULL,
    group_id            BIGINT NOT NULL,
    priority            BIGINT NOT NULL,
    -- 0: none (category, assignee, restriction)
    category_id         BIGINT NOT NULL,
    channel             TEXT   NOT NULL,
    assignee_id         BIGINT NOT NULL,
    visibility_group_id BIGINT NOT NULL,
    -- 0 done (resolved, closed, cancelled), 1 open and not pending, 2 pending
    status              BIGINT NOT NULL,
    -- 1: open with a breached SLA clock
    breached            BIGINT NOT NULL,
    n                   BIGINT NOT NULL,
    PRIMARY KEY (created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
                 status, breached)
);

CREATE FUNCTION ticket_tally_status(state TEXT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state = 'pending' THEN 2 WHEN state IN ('new', 'assigned', 'in_progress') THEN 1 ELSE 0 END::BIGINT
$$;

INSERT INTO ticket_tally (created_day, kind, group_id, priority, category_id, channel, assignee_id,
        visibility_group_id, status, breached, n)
    SELECT created_at / 86400000, kind, assignment_group_id, priority, COALESCE(category_id, 0), channel,
        COALESCE(assignee_id, 0), COALESCE(visibility_group_id, 0), ticket_tally_status(state),
        CASE WHEN ticket_tally_status(state) > 0 AND sla_breached <> 0 THEN 1 ELSE 0 END, COUNT(*)
    FROM ticket GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

-- Adds d (1 or -1) to the count of the row t belongs to.
CREATE FUNCTION ticket_tally_add(t ticket, d BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT := ticket_tally_status(t.state);
BEGIN
    INSERT INTO ticket_tally AS tt (created_day, kind, group_id, priority, category_id, channel, assignee_id,
            visibility_group_id, status, breached, n)
        VALUES (t.created_at / 86400000, t.kind, t.assignment_group_id, t.priority, COALESCE(t.category_id, 0),
            t.channel, COALESCE(t.assignee_id, 0), COALESCE(t.visibility_group_id, 0), s,
            CASE WHEN s > 0 AND t.sla_breached <> 0 THEN 1 ELSE 0 END, d)
        ON CONFLICT (created_day, kind, group_id, priority, category_id, channel, assignee_id, visibility_group_id,
            status, breached) DO UPDATE SET n = tt.n + d;
END;
$$;

CREATE FUNCTION ticket_tally_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ticket_tally_add(NEW, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM ticket_tally_add(OLD, -1);
    ELSIF OLD.created_at / 86400000 <> NEW.created_at / 86400000 OR OLD.kind <> NEW.kind
        OR OLD.assignment_group_id <> NEW.assignment_group_id OR OLD.priority <> NEW.priority
        OR OLD.category_id IS DISTINCT FROM NEW.category_id OR OLD.channel <> NEW.channel
        OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
        OR OLD.visibility_group_id IS DISTINCT FROM NEW.visibility_group_id
        OR ticket_tally_status(OLD.state) <> ticket_tally_status(NEW.state)
        OR (ticket_tally_status(OLD.state) > 0 AND OLD.sla_breached <> 0)
            <> (ticket_tally_status(NEW.state) > 0 AND NEW.sla_breached <> 0) THEN
        PERFORM ticket_tally_add(OLD, -1);
        PERFORM ticket_tally_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ticket_tally_follow AFTER INSERT OR UPDATE OR DELETE ON ticket
    FOR EACH ROW EXECUTE FUNCTION ticket_tally_follow();

-- A ticket's sla_breached follows its clocks: set when one is breached, cleared when none is.
CREATE FUNCTION ticket_sla_breached_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'breached' THEN
        UPDATE ticket SET sla_breached = 0 WHERE id = OLD.ticket_id AND sla_breached = 1
              AND NOT EXISTS (SELECT 1 FROM ticket_sla WHERE ticket_id = OLD.ticket_id AND state = 'breached');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'breached' THEN
        UPDATE ticket SET sla_breached = 1 WHERE id = NEW.ticket_id AND sla_breached = 0;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ticket_sla_breached_follow AFTER INSERT OR UPDATE OF state, ticket_id OR DELETE ON ticket_sla
    FOR EACH ROW EXECUTE FUNCTION ticket_sla_breached_follow();

-- The figures of a period's resolved tickets read every column they need from this index, without
-- a look-up in the table per row (tens of thousands of rows for a month at a million tickets).
CREATE INDEX ticket_outcome_measures_idx ON ticket_outcome (resolved_at) INCLUDE (kind, group_id, priority,
    category_id, channel, assignee_id, visibility_group_id, first_tier, max_tier, reopen_count, response_sla,
    resolution_sla, update_sla, response_ms, resolution_ms);
