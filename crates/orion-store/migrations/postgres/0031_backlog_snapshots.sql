-- The backlog as it was at the end of each day (PostgreSQL), so a trend shows what was open on
-- 3 March then, not recomputed from today. Taken a few minutes after midnight UTC by the
-- `reports.snapshot` job; a day taken is never rewritten. Keep in step with
-- migrations/sqlite/0031_backlog_snapshots.sql.
CREATE TABLE backlog_snapshot (
    -- days since 1970-01-01 (UTC): the backlog at the end of that day
    day                 BIGINT  NOT NULL,
    group_id            BIGINT  NOT NULL REFERENCES agent_group (id),
    -- 0: not restricted
    visibility_group_id BIGINT  NOT NULL DEFAULT 0,
    kind                TEXT    NOT NULL,
    priority            BIGINT  NOT NULL,
    -- 0 under a day old, 1 one to three days, 2 three to seven, 3 seven to thirty, 4 older
    band                BIGINT  NOT NULL,
    open                BIGINT  NOT NULL,
    pending             BIGINT  NOT NULL,
    overdue             BIGINT  NOT NULL,
    PRIMARY KEY (day, group_id, visibility_group_id, kind, priority, band)
);

-- The days kept (a day whose backlog was empty has no rows above, but is kept all the same).
CREATE TABLE backlog_snapshot_day (
    day      BIGINT PRIMARY KEY,
    taken_at BIGINT NOT NULL
);
