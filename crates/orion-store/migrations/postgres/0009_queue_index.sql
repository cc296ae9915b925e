-- Queue views filter by group, state and priority together ("P1s waiting in Desktop Support"): an
-- index that answers that combination exactly, newest first, even when nothing matches.
CREATE INDEX ticket_group_state_priority_idx ON ticket (assignment_group_id, state, priority, id);
