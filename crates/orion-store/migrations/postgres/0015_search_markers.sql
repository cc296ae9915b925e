-- Marker lexemes in each ticket's all_tsv, so the GIN index alone can narrow a search to one
-- requester's tickets ('!u<requester id>') or to a block of ids: '!a<id >> 13>' (8,192 ids),
-- '!b<id >> 16>', '!c<id >> 19>', '!d<id >> 22>'. Folded words are letters and digits only, so
-- no word can equal a marker. See orion_store::search::pg_ticket_hits. Rewrites every index
-- row once (about half a minute per million tickets); `orion reindex` writes the same rows.
UPDATE fts_ticket f
SET all_tsv = f.all_tsv || array_to_tsvector(ARRAY['!u' || t.requester_id, '!a' || (t.id >> 13),
    '!b' || (t.id >> 16), '!c' || (t.id >> 19), '!d' || (t.id >> 22)])
FROM ticket t
WHERE t.id = f.ticket_id;
