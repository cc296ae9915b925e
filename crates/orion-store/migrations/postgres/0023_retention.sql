-- Retention: old log entries are removed in batches. A raw message (blob) goes when the last row
-- that names it goes, which these indexes let the database find without reading every table
-- (they also serve the foreign-key checks on removing a blob); a webhook delivery that was sent
-- again is found from its redelivery; the mail that made no ticket is found without reading
-- the mail of tickets.
CREATE INDEX mail_inbound_raw_idx ON mail_inbound (raw_sha256);
CREATE INDEX mail_outbound_raw_idx ON mail_outbound (raw_sha256);
CREATE INDEX attachment_blob_idx ON attachment (sha256);
CREATE INDEX kb_attachment_blob_idx ON kb_attachment (sha256);
CREATE INDEX webhook_delivery_redelivery_idx ON webhook_delivery (redelivery_of) WHERE redelivery_of IS NOT NULL;
CREATE INDEX mail_inbound_unused_idx ON mail_inbound (id) WHERE status IN ('bounce', 'discarded');
