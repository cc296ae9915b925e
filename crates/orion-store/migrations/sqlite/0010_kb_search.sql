-- Knowledge base and full-text search (SQLite). Keep in step with migrations/postgres/0010_kb_search.sql.

-- Articles: the current version of each; every version is kept in kb_article_version.
CREATE TABLE kb_article (
    id               INTEGER PRIMARY KEY,
    number           TEXT    NOT NULL UNIQUE,
    title            TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('howto', 'faq', 'known_error', 'runbook', 'training')),
    audience         TEXT    NOT NULL CHECK (audience IN ('internal', 'public')),
    state            TEXT    NOT NULL CHECK (state IN ('draft', 'review', 'published', 'retired')),
    category_id      INTEGER REFERENCES category (id),
    tags             TEXT    NOT NULL DEFAULT '',
    owner_id         INTEGER NOT NULL REFERENCES app_user (id),
    review_by        INTEGER,
    source_ticket_id INTEGER REFERENCES ticket (id),
    version          INTEGER NOT NULL DEFAULT 1,
    views            INTEGER NOT NULL DEFAULT 0,
    helpful_yes      INTEGER NOT NULL DEFAULT 0,
    helpful_no       INTEGER NOT NULL DEFAULT 0,
    created_by       INTEGER NOT NULL REFERENCES app_user (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    published_at     INTEGER
);
CREATE INDEX kb_article_state_idx ON kb_article (state, id);
CREATE INDEX kb_article_review_idx ON kb_article (state, review_by);
CREATE INDEX kb_article_owner_idx ON kb_article (owner_id, id);
CREATE INDEX kb_article_category_idx ON kb_article (category_id, id);

CREATE TABLE kb_article_version (
    article_id  INTEGER NOT NULL REFERENCES kb_article (id),
    version     INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    audience    TEXT    NOT NULL,
    category_id INTEGER,
    tags        TEXT    NOT NULL,
    changed_by  INTEGER NOT NULL REFERENCES app_user (id),
    changed_at  INTEGER NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (article_id, version)
);

-- Workflow events: submitted for review, published, retired, back to draft, owner changed.
CREATE TABLE kb_article_event (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES kb_article (id),
    at         INTEGER NOT NULL,
    actor_id   INTEGER REFERENCES app_user (id),
    action     TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX kb_article_event_article_idx ON kb_article_event (article_id, id);

CREATE TABLE kb_tag (
    tag        TEXT    NOT NULL,
    article_id INTEGER NOT NULL REFERENCES kb_article (id),
    PRIMARY KEY (tag, article_id)
);
CREATE INDEX kb_tag_article_idx ON kb_tag (article_id);

-- "Was this helpful?": one answer per person (changing it replaces it); anonymous answers have no user.
CREATE TABLE kb_feedback (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES kb_article (id),
    user_id    INTEGER REFERENCES app_user (id),
    helpful    BOOLEAN NOT NULL,
    comment    TEXT    NOT NULL DEFAULT '',
    at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX kb_feedback_user_idx ON kb_feedback (article_id, user_id);

CREATE TABLE kb_attachment (
    id           INTEGER PRIMARY KEY,
    article_id   INTEGER NOT NULL REFERENCES kb_article (id),
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT    NOT NULL REFERENCES blob (sha256),
    created_by   INTEGER NOT NULL REFERENCES app_user (id),
    created_at   INTEGER NOT NULL
);
CREATE INDEX kb_attachment_article_idx ON kb_attachment (article_id, id);

-- Articles an agent linked to a ticket ("this article solved it").
CREATE TABLE ticket_article (
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    article_id INTEGER NOT NULL REFERENCES kb_article (id),
    linked_by  INTEGER NOT NULL REFERENCES app_user (id),
    linked_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, article_id)
);
CREATE INDEX ticket_article_article_idx ON ticket_article (article_id, ticket_id);

-- A suggested article a requester opened while writing a ticket. `draft_key` identifies the
-- form; when that form is submitted the ticket is filled in, otherwise the opening deflected a ticket.
CREATE TABLE kb_suggestion_open (
    id         INTEGER PRIMARY KEY,
    draft_key  TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES app_user (id),
    article_id INTEGER NOT NULL REFERENCES kb_article (id),
    opened_at  INTEGER NOT NULL,
    ticket_id  INTEGER REFERENCES ticket (id)
);
CREATE INDEX kb_suggestion_open_key_idx ON kb_suggestion_open (draft_key);
CREATE INDEX kb_suggestion_open_at_idx ON kb_suggestion_open (opened_at);

-- The full-text indexes hold words as orion_domain::search folds them; rowid = ticket / article id.
-- Contentless: the text lives in its tables once; snippets are built from it. `owner` holds one
-- token, `u<requester id>`: a requester's search intersects it with the words, so it costs as
-- little as their own tickets are few.
CREATE VIRTUAL TABLE fts_ticket USING fts5 (
    title, public_text, internal_text, owner,
    content = '', contentless_delete = 1, tokenize = 'unicode61', prefix = '2 3'
);
CREATE VIRTUAL TABLE fts_article USING fts5 (
    title, body, tags,
    content = '', contentless_delete = 1, tokenize = 'unicode61', prefix = '2 3'
);

-- Tickets logged before this version are indexed by a background rebuild at start-up.
INSERT INTO setting (key, value, updated_at) VALUES ('search.reindex_needed', 'true', 0)
    ON CONFLICT (key) DO UPDATE SET value = 'true';
