-- Reports (PostgreSQL): one row per resolved ticket with what the leads' KPIs measure, written in the
-- transaction that resolves it (a reopened ticket's row is replaced when it is resolved again).
-- Keep in step with migrations/sqlite/0027_reports.sql.
--
-- Durations are working time on the Business hours calendar, as at resolution. The row copies the
-- ticket's fields at resolution so a report over a period reads one index range and nothing else.
CREATE TABLE ticket_outcome (
    ticket_id       BIGINT PRIMARY KEY REFERENCES ticket (id),
    kind            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    priority        BIGINT  NOT NULL,
    category_id     BIGINT  REFERENCES category (id),
    group_id        BIGINT  NOT NULL REFERENCES agent_group (id),
    tier            BIGINT  NOT NULL,
    assignee_id     BIGINT  REFERENCES app_user (id),
    visibility_group_id BIGINT  REFERENCES agent_group (id),
    first_tier      BIGINT  NOT NULL,
    max_tier        BIGINT  NOT NULL,
    reopen_count    BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    resolved_at     BIGINT  NOT NULL,
    -- NULL: no public reply or call by staff before resolution
    response_ms     BIGINT,
    resolution_ms   BIGINT  NOT NULL,
    -- 'met' or 'breached'; NULL: no such clock ran
    response_sla    TEXT,
    resolution_sla  TEXT,
    update_sla      TEXT
);
CREATE INDEX ticket_outcome_resolved_idx ON ticket_outcome (resolved_at, ticket_id);
