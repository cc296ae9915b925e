-- Caller lookup: each person's folded terms (words of the name, the e-mail address and its parts,
-- the phone number's digits and last digits, the department, the sign-in name), so that a query
-- finds people by the start of any term on an index (see orion-domain `lookup`). Terms compare
-- byte by byte (COLLATE "C"), so a prefix is a range whatever the database's locale. The terms of
-- people who exist already are written at the first start after the upgrade.
CREATE TABLE user_term (
    term    TEXT COLLATE "C" NOT NULL,
    user_id BIGINT NOT NULL REFERENCES app_user (id),
    PRIMARY KEY (term, user_id)
);
CREATE INDEX user_term_user_idx ON user_term (user_id);
INSERT INTO setting (key, value, updated_at)
    SELECT 'people.lookup_index_needed', 'true', 0 WHERE EXISTS (SELECT 1 FROM app_user);

-- A very important person (an executive, a key customer contact): the desk sees a badge on their
-- tickets, and routing rules can match it.
ALTER TABLE app_user ADD COLUMN vip BOOLEAN NOT NULL DEFAULT FALSE;

-- The bell in the console counts a person's unread notifications on every page.
CREATE INDEX notification_unread_idx ON notification (user_id, id) WHERE read_at IS NULL;
