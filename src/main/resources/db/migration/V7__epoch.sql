-- The database's epoch (DESIGN §7). A stream session belongs to the epoch it was recorded in; a
-- new epoch (a restored backup or a replaced server detected, or an operator's request) makes
-- every older session, and so every older cursor, resync. The clock is a counter the nodes raise
-- and remember outside the database: a database whose clock is below what they remember went
-- back in time.
INSERT INTO switchboard_meta (key, value) VALUES ('epoch', gen_random_uuid()::text), ('clock', '0');
ALTER TABLE stream_sessions ADD COLUMN epoch text;
UPDATE stream_sessions SET epoch = (SELECT value FROM switchboard_meta WHERE key = 'epoch');
