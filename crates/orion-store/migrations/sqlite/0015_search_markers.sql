-- PostgreSQL adds requester and id-bucket markers to its ticket index here. SQLite needs none:
-- its FTS5 table has an `owner` column since 0010, and its rowid order serves "newest first".
SELECT 1;
