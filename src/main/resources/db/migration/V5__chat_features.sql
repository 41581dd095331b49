-- Chat features (SPEC §3b): edit and delete, reactions, threads, search, status, roles, mute.
-- Every change of a conversation stays a system row of messages at its own seq; the columns
-- below hold each message as it is now.

-- Roles: owner, admin, member. Per-member mute (reported in the conversation list).
ALTER TABLE members DROP CONSTRAINT members_role_check;
ALTER TABLE members ADD CONSTRAINT members_role_check CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE members ADD COLUMN muted boolean NOT NULL DEFAULT false;

-- A deleted message keeps its row (its seq stays in the timeline) without its content.
ALTER TABLE messages ALTER COLUMN content DROP NOT NULL;
ALTER TABLE messages
  -- The root message of the thread this message is a reply in.
  ADD COLUMN thread_id      uuid,
  ADD COLUMN edited_at      timestamptz,
  ADD COLUMN deleted_at     timestamptz,
  -- On a thread root: how many replies it has, and when the last one came.
  ADD COLUMN thread_replies integer NOT NULL DEFAULT 0,
  ADD COLUMN thread_last_at timestamptz,
  -- Full-text search: text messages only (not system items, objects or other kinds, such as
  -- ciphertext), with the language-neutral 'simple' configuration. A deleted message has no
  -- content, so nothing to find.
  ADD COLUMN search         tsvector GENERATED ALWAYS AS (
    CASE WHEN kind = 'text' AND jsonb_typeof(content) = 'string'
      THEN to_tsvector('simple'::regconfig, content #>> '{}') END) STORED;
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_thread ON messages (conversation_id, thread_id, seq) WHERE thread_id IS NOT NULL;
-- The edits of a message hold its text too: a delete erases them, found by this index.
CREATE INDEX messages_edits ON messages ((content ->> 'messageId'))
  WHERE kind = 'system' AND content ->> 'event' = 'message_edited';

-- One reaction per user per emoji per message.
CREATE TABLE reactions (
  message_id uuid NOT NULL REFERENCES messages (id),
  emoji      text NOT NULL,
  user_id    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, emoji, user_id)
);

-- The status a user chose (SPEC §3b), kept across connections: a user who went invisible stays
-- invisible when they come back. status_at orders changes made on different nodes.
ALTER TABLE users
  ADD COLUMN status      text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'away', 'busy', 'invisible')),
  ADD COLUMN status_text text,
  ADD COLUMN status_at   timestamptz;
