-- Switchboard schema, version 1 (DESIGN §3).

-- Identity of this database: nodes of one cluster must share it.
CREATE TABLE switchboard_meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO switchboard_meta (key, value) VALUES ('database_id', gen_random_uuid()::text);

CREATE TABLE users (
  id           text PRIMARY KEY,
  name         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz
);

CREATE TABLE conversations (
  id          uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('direct', 'group')),
  name        text,
  invite_code text UNIQUE,
  -- 'userA|userB' (sorted) for direct conversations: one per pair.
  direct_key  text UNIQUE,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- The last allocated timeline seq; its row lock orders commits of one conversation.
  last_seq    bigint NOT NULL DEFAULT 0
);

CREATE TABLE members (
  conversation_id uuid NOT NULL REFERENCES conversations (id),
  user_id         text NOT NULL,
  role            text NOT NULL CHECK (role IN ('owner', 'member')),
  joined_seq      bigint NOT NULL,
  left_seq        bigint,
  last_read_seq   bigint NOT NULL DEFAULT 0,
  joined_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id) WHERE left_seq IS NULL;

CREATE TABLE messages (
  conversation_id   uuid NOT NULL REFERENCES conversations (id),
  seq               bigint NOT NULL,
  id                uuid NOT NULL UNIQUE,
  sender_id         text NOT NULL,
  kind              text NOT NULL,
  content           jsonb NOT NULL,
  reply_to          bigint,
  client_message_id text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq),
  UNIQUE (sender_id, client_message_id)
);
