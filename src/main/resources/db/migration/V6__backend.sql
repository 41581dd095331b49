-- Backend integration (SPEC §10): the webhook outbox, the message_unseen schedule, token revocations.

-- One row per (event, endpoint), written in the transaction of the change it reports. Delivered
-- in id order per (endpoint, ordering_key): ids are allocated under the conversation's row lock,
-- so within a conversation they follow commit order. Delivered rows are deleted; dead ones stay.
CREATE TABLE webhook_deliveries (
  id           bigserial PRIMARY KEY,
  -- The event's id: the same for every endpoint and on every retry (the receiver's idempotency key).
  event_id     uuid NOT NULL,
  endpoint     text NOT NULL,
  -- What the order is kept per: 'conv:<id>' for conversation events, 'user:<id>' for presence.
  ordering_key text NOT NULL,
  type         text NOT NULL,
  data         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  attempts     int NOT NULL DEFAULT 0,
  next_at      timestamptz NOT NULL DEFAULT now(),
  -- A node delivering the row holds it until then; another node may take it after (its node died).
  leased_until timestamptz,
  leased_by    text,
  last_error   text,
  UNIQUE (event_id, endpoint)
);
-- The due pending rows, oldest first.
CREATE INDEX webhook_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
-- "Is there an older pending row of this stream?": one index probe per candidate.
CREATE INDEX webhook_streams ON webhook_deliveries (endpoint, ordering_key, id) WHERE state = 'pending';
CREATE INDEX webhook_dead ON webhook_deliveries (created_at) WHERE state = 'dead';

-- Messages to check for message_unseen once their delay has passed (only while an endpoint wants it).
CREATE TABLE webhook_unseen (
  conversation_id uuid NOT NULL,
  seq             bigint NOT NULL,
  due_at          timestamptz NOT NULL,
  PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX webhook_unseen_due ON webhook_unseen (due_at);

-- Revoked tokens: one by its jti (kept until the token's exp, for good when unknown), or all of a
-- user's tokens issued before a time (one row per user; the latest time wins).
CREATE TABLE revoked_tokens (
  jti        text PRIMARY KEY,
  expires_at timestamptz,
  revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE revoked_users (
  user_id       text PRIMARY KEY,
  issued_before timestamptz NOT NULL,
  revoked_at    timestamptz NOT NULL DEFAULT now()
);
