-- Calls (SPEC §5, DESIGN §3 and §5): the row is the source of truth of a call's state, written by
-- conditional updates so that concurrent answers, timers and hang-ups on different nodes agree.
CREATE TABLE calls (
  id              uuid PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES conversations (id),
  caller_id       text NOT NULL,
  callee_id       text NOT NULL,
  media           text NOT NULL CHECK (media IN ('audio', 'video')),
  state           text NOT NULL CHECK (state IN ('ringing', 'active', 'ended', 'declined', 'missed', 'busy')),
  started_at      timestamptz NOT NULL DEFAULT now(),
  answered_at     timestamptz,
  ended_at        timestamptz,
  -- The outcome: ended, cancelled, dropped, missed, busy, or the callee's decline reason.
  end_reason      text,
  -- Talk time, answered_at..ended_at; null for calls never answered.
  duration_ms     bigint GENERATED ALWAYS AS ((EXTRACT(EPOCH FROM (ended_at - answered_at)) * 1000)::bigint) STORED,
  -- The caller's offer while ringing (answers a glare offer from the other side); cleared after.
  offer_sdp       text,
  -- ICE candidates that arrived before the answer, [{from, connectionId, candidate}]; cleared after.
  held_candidates jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX calls_live_caller ON calls (caller_id) WHERE state IN ('ringing', 'active');
CREATE INDEX calls_live_callee ON calls (callee_id) WHERE state IN ('ringing', 'active');
CREATE INDEX calls_ringing ON calls (started_at) WHERE state = 'ringing';
CREATE INDEX calls_by_conversation ON calls (conversation_id, started_at);
