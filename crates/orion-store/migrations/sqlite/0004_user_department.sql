-- The requester's department, which SLA policies can match on.
ALTER TABLE app_user ADD COLUMN department TEXT;
