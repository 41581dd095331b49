-- Stream sessions for lossless resume (DESIGN §4): the last seq of each of the user's
-- conversations when a stream started. A cursor names its session and the seqs delivered since.
CREATE TABLE stream_sessions (
  id         text PRIMARY KEY,
  user_id    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  positions  jsonb NOT NULL
);
CREATE INDEX stream_sessions_created ON stream_sessions (created_at);
