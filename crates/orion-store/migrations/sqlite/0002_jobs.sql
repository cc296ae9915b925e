-- Durable job queue (SQLite). Keep in step with migrations/postgres/0002_jobs.sql.
-- A pending job is due at run_at. Claiming it moves run_at to the end of the lease,
-- so a job whose worker died becomes due again by itself. Finished jobs are deleted;
-- jobs out of attempts stay as 'dead' for an admin to look at.
CREATE TABLE job (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL DEFAULT '{}',
    state        TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    run_at       INTEGER NOT NULL,
    dedupe_key   TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    locked_by    TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX job_due_idx ON job (run_at) WHERE state = 'pending';
CREATE UNIQUE INDEX job_dedupe_idx ON job (dedupe_key) WHERE state = 'pending';
