-- "My open tickets" and "unassigned, new": the assignee with the state, then the id, so that a
-- list of one assignee's tickets in some states walks only those, newest (or oldest) first.
-- With (assignee_id, id) alone, an agent with many closed tickets and none new had the whole of
-- their history read to find that out. A list of every state of an assignee walks this index
-- once per state (the store enumerates the states), so the old index is no longer needed.
DROP INDEX ticket_assignee_idx;
CREATE INDEX ticket_assignee_state_idx ON ticket (assignee_id, state, id);
