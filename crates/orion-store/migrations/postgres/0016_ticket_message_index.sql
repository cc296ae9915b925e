-- A ticket's Message-IDs by ticket: every requester notice looks up the latest message received
-- for its ticket (to reply in its thread). Without this index that look-up read the whole table —
-- two rows more for every mail sent — so sending slowed as mail piled up.
CREATE INDEX ticket_message_ticket_idx ON ticket_message (ticket_id, direction, created_at);
