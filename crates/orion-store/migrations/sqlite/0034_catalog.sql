-- The service catalog (SQLite): what people can ask for, each item's published versions, and the
-- requests made from them with their answers kept as data. Keep in step with
-- migrations/postgres/0034_catalog.sql.

-- An item of the catalog. `draft` is the package being edited (form, routing, texts, as JSON);
-- publishing copies it into `catalog_item_version` as version `version + 1`.
CREATE TABLE catalog_item (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- lower-case name: unique
    name_key    TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    -- the tile it sits under on the portal ("Hardware", "Access", …)
    category    TEXT    NOT NULL,
    icon        TEXT    NOT NULL,
    -- who may ask for it: roles and group ids (JSON lists); both empty = everyone
    audience    TEXT    NOT NULL DEFAULT '{}',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    draft       TEXT    NOT NULL,
    -- the latest published version (0: never published)
    version     INTEGER NOT NULL DEFAULT 0,
    -- requests made from it (the portal lists the most requested first)
    requested   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- bumped on every change, for optimistic concurrency
    row_version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE catalog_item_version (
    item_id      INTEGER NOT NULL REFERENCES catalog_item (id),
    version      INTEGER NOT NULL,
    package      TEXT    NOT NULL,
    published_at INTEGER NOT NULL,
    published_by INTEGER NOT NULL REFERENCES app_user (id),
    PRIMARY KEY (item_id, version)
);

-- A service request made from the catalog: the item and the version it was submitted with.
CREATE TABLE catalog_request (
    ticket_id        INTEGER PRIMARY KEY REFERENCES ticket (id),
    item_id          INTEGER NOT NULL REFERENCES catalog_item (id),
    version          INTEGER NOT NULL,
    -- the person it is for (the requester, or someone they ask on behalf of)
    requested_for_id INTEGER NOT NULL REFERENCES app_user (id),
    FOREIGN KEY (item_id, version) REFERENCES catalog_item_version (item_id, version)
);
CREATE INDEX catalog_request_item_idx ON catalog_request (item_id, ticket_id);

-- One answer of a request: per question, one row (several for a multiple choice, `n` 0, 1, …).
-- `text_value` holds the answer as text (a choice's value, a date, an e-mail address, yes/no);
-- numbers are in `number_value` too, so filters can compare them; `ref_id` is the user or asset
-- a person or asset question named.
CREATE TABLE catalog_answer (
    ticket_id    INTEGER NOT NULL REFERENCES ticket (id),
    question_key TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    text_value   TEXT    NOT NULL,
    number_value REAL,
    ref_id       INTEGER,
    PRIMARY KEY (ticket_id, question_key, n)
);
-- "Every request whose ram_gb is 32", newest first: one index walk per filter.
CREATE INDEX catalog_answer_text_idx ON catalog_answer (question_key, text_value, ticket_id);
CREATE INDEX catalog_answer_number_idx ON catalog_answer (question_key, number_value, ticket_id);
