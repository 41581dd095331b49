package io.switchboard.stream;

import io.switchboard.protocol.Cursor;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Timeline;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.Db;
import io.switchboard.store.StreamStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Owns the resume rules (DESIGN §4). A stream opens in two steps so that the gateway can follow
 * the live addresses <em>before</em> anything is read: {@code stream_open} says which
 * conversations to follow (and checks a cursor), {@code stream_start} then replays what was
 * missed and records a new session whose snapshot is the position after the replay.
 */
public final class StreamVerticle extends ServiceVerticle {

  /** Internal command: which conversations to follow, and the positions to resume from. */
  public static final String OPEN = "stream_open";
  /** Internal command: replay from positions (or snapshot now) and start a new session. */
  public static final String START = "stream_start";
  /** More missed items than this and the client must resync over REST. */
  static final int REPLAY_LIMIT = 5000;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Pool pool;
  private final int windowSeconds;

  public StreamVerticle(Pool pool, int windowSeconds) {
    this.pool = pool;
    this.windowSeconds = windowSeconds;
  }

  @Override
  public Future<?> start() {
    handle(OPEN, this::open);
    handle(START, this::startStream);
    return registered();
  }

  /** Replies {conversations:[ids], positions: {id: seq} | null, resync: bool}. */
  private Future<Envelope> open(Command cmd) {
    String text = Fields.optionalString(cmd.payload(), "cursor", 200_000);
    String userId = cmd.userId();
    Future<List<StreamStore.Membership>> active = StreamStore.active(pool, userId);
    if (text == null || text.isEmpty()) {
      return active.recover(Db::failure).map(list -> opened(list, null, false));
    }
    Cursor cursor = Cursor.parse(text);
    if (cursor == null) {
      return active.recover(Db::failure).map(list -> opened(list, null, true));
    }
    // Cursor entries are resolved against every membership, left ones included: a cursor taken
    // after a leave (its member_left was streamed) names a conversation no longer active, and
    // must still resume rather than ask for a resync.
    return active.compose(list -> StreamStore.memberships(pool, userId).compose(all -> StreamStore.session(pool,
      cursor.sessionId(), windowSeconds).map(session -> {
      if (session == null || !session.fresh() || !session.userId().equals(userId)) {
        return opened(list, null, true);
      }
      Map<String, Long> positions = new LinkedHashMap<>();
      session.positions().forEach(e -> positions.put(e.getKey(), ((Number) e.getValue()).longValue()));
      Map<String, String> byPrefix = new HashMap<>();
      for (String id : positions.keySet()) {
        if (byPrefix.put(Cursor.prefix(id), id) != null) {
          return opened(list, null, true);
        }
      }
      for (StreamStore.Membership m : all) {
        String id = m.conversationId().toString();
        String previous = byPrefix.put(Cursor.prefix(id), id);
        if (previous != null && !previous.equals(id)) {
          return opened(list, null, true);
        }
      }
      for (Map.Entry<String, Long> e : cursor.positions().entrySet()) {
        String id = byPrefix.get(e.getKey());
        if (id == null) {
          return opened(list, null, true);
        }
        positions.merge(id, e.getValue(), Math::max);
      }
      return opened(list, positions, false);
    }))).recover(Db::failure);
  }

  private static Envelope opened(List<StreamStore.Membership> active, Map<String, Long> positions, boolean resync) {
    JsonArray ids = new JsonArray();
    active.forEach(m -> ids.add(m.conversationId().toString()));
    JsonObject payload = new JsonObject().put("conversations", ids).put("resync", resync);
    if (positions != null) {
      payload.put("positions", new JsonObject(new LinkedHashMap<>(positions)));
    }
    return Envelope.of(Types.ACK, payload);
  }

  /**
   * Replies {sessionId, positions: {id: seq}, events: [envelopes], resync: bool}. An optional
   * {@code limit} replays only the first items (a long-poll answer is bounded); the replay is
   * ordered by conversation then seq, so each conversation's part is a prefix and the session
   * starts exactly after what was replayed.
   */
  private Future<Envelope> startStream(Command cmd) {
    Object raw = cmd.payload().getValue("positions");
    if (raw != null && !(raw instanceof JsonObject)) {
      throw ServiceException.invalid("'positions' must be an object");
    }
    Long limit = Fields.optionalLong(cmd.payload(), "limit", 1, REPLAY_LIMIT);
    String userId = cmd.userId();
    Future<JsonObject> result;
    if (raw == null) {
      result = snapshot(userId, false);
    } else {
      Map<String, Long> from = new LinkedHashMap<>();
      ((JsonObject) raw).forEach(e -> from.put(e.getKey(), ((Number) e.getValue()).longValue()));
      result = StreamStore.replay(pool, userId, from, REPLAY_LIMIT + 1).compose(missed -> {
        if (missed.size() > REPLAY_LIMIT) {
          return snapshot(userId, true);
        }
        List<JsonObject> items = limit != null && missed.size() > limit ? missed.subList(0, limit.intValue()) : missed;
        return StreamStore.memberships(pool, userId).compose(memberships -> {
          Map<String, Long> positions = new LinkedHashMap<>();
          Map<String, Long> leaving = new LinkedHashMap<>();
          JsonArray events = new JsonArray();
          for (StreamStore.Membership m : memberships) {
            String id = m.conversationId().toString();
            if (m.leftSeq() != null) {
              // Left since the cursor and not yet replayed up to the leave: the new session
              // keeps its position (not followed), so that a cursor naming it stays resumable.
              Long known = from.get(id);
              if (known != null && known < m.leftSeq()) {
                leaving.put(id, known);
              }
              continue;
            }
            Long known = from.get(id);
            if (known == null && m.joinedSeq() == 0) {
              // Created with this user in it while they were away: announce it before its items.
              JsonObject created = new JsonObject().put("id", id).put("conversationId", id).put("seq", 0L)
                .put("type", m.kind());
              if (m.name() != null) {
                created.put("name", m.name());
              }
              events.add(Envelope.of(Types.CONVERSATION_CREATED, created).toJson());
            }
            positions.put(id, known != null ? known : Math.max(m.joinedSeq() - 1, 0));
          }
          for (JsonObject item : items) {
            String id = item.getString("conversationId");
            events.add(Timeline.event(item).toJson());
            positions.computeIfPresent(id, (k, v) -> Math.max(v, item.getLong("seq")));
            leaving.computeIfPresent(id, (k, v) -> Math.max(v, item.getLong("seq")));
          }
          Map<String, Long> recorded = new LinkedHashMap<>(positions);
          recorded.putAll(leaving);
          return record(userId, recorded).map(sessionId -> new JsonObject()
            .put("sessionId", sessionId)
            .put("positions", new JsonObject(new LinkedHashMap<>(positions)))
            .put("events", events)
            .put("resync", false));
        });
      });
    }
    return result.recover(Db::failure).map(payload -> Envelope.of(Types.ACK, payload));
  }

  private Future<JsonObject> snapshot(String userId, boolean resync) {
    return StreamStore.active(pool, userId).compose(active -> {
      Map<String, Long> positions = new LinkedHashMap<>();
      active.forEach(m -> positions.put(m.conversationId().toString(), m.lastSeq()));
      return record(userId, positions).map(sessionId -> new JsonObject()
        .put("sessionId", sessionId)
        .put("positions", new JsonObject(new LinkedHashMap<>(positions)))
        .put("events", new JsonArray())
        .put("resync", resync));
    });
  }

  private Future<String> record(String userId, Map<String, Long> positions) {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    String id = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    Future<Void> insert = StreamStore.insert(pool, id, userId, positions);
    if (ThreadLocalRandom.current().nextInt(100) == 0) {
      insert = insert.compose(v -> StreamStore.expire(pool, windowSeconds).otherwise((Void) null));
    }
    return insert.map(id);
  }
}
