-- Fulfilment tasks of catalog requests (PostgreSQL). Keep in step with
-- migrations/sqlite/0036_catalog_tasks.sql.

-- One task of a request's plan: opened as a task ticket (TSK) once the request is approved and
-- the tasks it waits for are done; what its assignee recorded (`outputs`, JSON {key: text}) flows
-- to later tasks and into the requester's closing message.
CREATE TABLE catalog_task (
    request_id     BIGINT NOT NULL REFERENCES ticket (id),
    -- the task's key in the item's plan (`create_account`)
    task_key       TEXT    NOT NULL,
    -- its place in the plan (0, 1, …)
    n              BIGINT NOT NULL,
    -- waiting (for earlier tasks), open (a TSK ticket works on it), done, cancelled
    state          TEXT    NOT NULL CHECK (state IN ('waiting', 'open', 'done', 'cancelled')),
    task_ticket_id BIGINT UNIQUE REFERENCES ticket (id),
    outputs        TEXT    NOT NULL DEFAULT '{}',
    done_at        BIGINT,
    PRIMARY KEY (request_id, task_key)
);
