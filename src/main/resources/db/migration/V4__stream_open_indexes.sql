-- Opening a stream reads a user's memberships, left ones included (a resume cursor may name a
-- conversation left since): one index on user_id serves that and the active ones alike, so the
-- partial index it replaces is dropped.
CREATE INDEX members_by_user_all ON members (user_id) INCLUDE (joined_seq, left_seq);
DROP INDEX members_by_user;
