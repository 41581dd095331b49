package io.switchboard.stream;

import io.switchboard.auth.AuthProxy;
import io.switchboard.auth.Principal;
import io.switchboard.protocol.Cursor;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Timeline;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.Db;
import io.switchboard.store.MessageStore;
import io.switchboard.store.StreamStore;
import io.switchboard.store.StreamStore.Membership;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Owns the resume rules (DESIGN §4). A stream opens in two steps so that the gateway can follow
 * the live addresses <em>before</em> anything is read: {@code stream_open} says which
 * conversations to follow (and resolves a cursor), {@code stream_start} then replays what was
 * missed, or records a snapshot for a fresh stream.
 *
 * <p>Opening is cheap (DESIGN §2): a fresh connect is two statements (the active conversations;
 * the snapshot read and written in one INSERT … SELECT), a resume three (memberships and the
 * session, pipelined; the replay). A resumed stream keeps its session: the new cursor is the old
 * session plus the positions reached, so no row is written — unless the cursor has grown long or
 * the session is half-way through the resume window, when the stream gets a new one. Session
 * rows are written with asynchronous commit: a row lost in a crash costs its client a
 * {@code resync_required}, never a message.
 */
public final class StreamVerticle extends ServiceVerticle {

  /** Internal command: which conversations to follow, and the positions to resume from. */
  public static final String OPEN = "stream_open";
  /** Internal command: replay from positions (or snapshot now) and start the stream. */
  public static final String START = "stream_start";
  /** Internal command of the delivery core: timeline items of one conversation after a seq. */
  public static final String READ = "~timeline_read";
  /** Internal command of the delivery sweep: the last seq of some conversations. */
  public static final String LAST_SEQS = "~last_seqs";
  /** More missed items than this and the client must resync over REST. */
  static final int REPLAY_LIMIT = 5000;
  /** A resumed session keeps its row while its cursor names at most this many conversations. */
  static final int REUSE_MAX_ENTRIES = 32;
  static final int READ_MAX = 1000;
  static final int MAX_SWEEP_IDS = 100_000;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Pool pool;
  private final Pool sessions;
  private final int windowSeconds;
  private final AuthProxy proxy;

  /**
   * @param pool     reads
   * @param sessions writes of session rows (asynchronous commit)
   */
  public StreamVerticle(Pool pool, Pool sessions, int windowSeconds) {
    this(pool, sessions, windowSeconds, AuthProxy.NONE);
  }

  /** @param proxy asked whether a new stream may open (SPEC §10), when configured */
  public StreamVerticle(Pool pool, Pool sessions, int windowSeconds, AuthProxy proxy) {
    this.pool = pool;
    this.sessions = sessions;
    this.windowSeconds = windowSeconds;
    this.proxy = proxy;
  }

  @Override
  public Future<?> start() {
    handle(OPEN, this::open);
    handle(START, this::startStream);
    handle(READ, this::read);
    handle(LAST_SEQS, this::lastSeqs);
    return registered();
  }

  /**
   * Replies {@code {conversations:[ids], resync}} and, for a usable cursor,
   * {@code {sessionId, positions, cursor, memberships, renew}}: what {@code stream_start} needs.
   */
  /**
   * A new stream ({@code transport} set: not a resume on an open one) is first put to the
   * authorization backend when {@code auth.proxy.connectUrl} is set: a refusal is
   * {@code forbidden}, and what an allowing answer attaches (topics to follow, info for
   * {@code connected}) goes back under {@code proxy}.
   */
  private Future<Envelope> open(Command cmd) {
    String transport = Fields.optionalString(cmd.payload(), "transport", 16);
    if (transport == null || !proxy.asksConnect()) {
      return opened(cmd);
    }
    JsonObject claims = cmd.payload().getValue("claims") instanceof JsonObject c ? c : new JsonObject();
    return proxy.connect(cmd.userId(), claims, transport).compose(decision -> {
      if (!decision.allow()) {
        return Future.failedFuture(ServiceException.forbidden("the application refused this connection"));
      }
      return opened(cmd).map(reply -> {
        JsonObject extras = new JsonObject().put("topics", new JsonArray(decision.topics()));
        if (decision.info() != null) {
          extras.put("info", decision.info());
        }
        reply.payload().put("proxy", extras);
        return reply;
      });
    });
  }

  private Future<Envelope> opened(Command cmd) {
    String text = Fields.optionalString(cmd.payload(), "cursor", 200_000);
    String userId = cmd.userId();
    Cursor cursor = text == null || text.isEmpty() ? null : Cursor.parse(text);
    if (cursor == null) {
      boolean resync = text != null && !text.isEmpty();
      return StreamStore.active(pool, userId).recover(Db::failure).map(active -> {
        JsonArray ids = new JsonArray();
        active.forEach(id -> ids.add(id.toString()));
        return Envelope.of(Types.ACK, new JsonObject().put("conversations", ids).put("resync", resync));
      });
    }
    // Pipelined on the pool: both statements are under way at once.
    Future<List<Membership>> all = StreamStore.memberships(pool, userId);
    Future<StreamStore.Session> stored = StreamStore.session(pool, cursor.sessionId(), windowSeconds);
    return Future.all(all, stored).recover(Db::failure).map(both -> {
      List<Membership> memberships = all.result();
      JsonArray ids = new JsonArray();
      for (Membership m : memberships) {
        if (m.leftSeq() == null) {
          ids.add(m.conversationId().toString());
        }
      }
      JsonObject resync = new JsonObject().put("conversations", ids).put("resync", true);
      StreamStore.Session session = stored.result();
      if (session == null || !session.fresh() || !session.userId().equals(userId)) {
        return Envelope.of(Types.ACK, resync);
      }
      // A session of an older epoch was recorded before the database was restored from a backup
      // (or the operator started a new epoch): its positions may name items that no longer
      // exist, or seqs the timeline has since given to other items. What the client holds may be
      // wrong, not only incomplete: the resync says so ("reset").
      JsonObject reset = resync.copy().put("reset", true);
      if (!session.currentEpoch()) {
        return Envelope.of(Types.ACK, reset);
      }
      // Cursor entries are resolved against every membership, left ones included: a cursor taken
      // after a leave (its member_left was streamed) names a conversation no longer active, and
      // must still resume rather than ask for a resync.
      Map<String, Long> positions = new LinkedHashMap<>();
      session.positions().forEach(e -> positions.put(e.getKey(), ((Number) e.getValue()).longValue()));
      Map<String, String> byPrefix = new HashMap<>();
      for (String id : positions.keySet()) {
        if (byPrefix.put(Cursor.prefix(id), id) != null) {
          return Envelope.of(Types.ACK, resync);
        }
      }
      for (Membership m : memberships) {
        String id = m.conversationId().toString();
        String previous = byPrefix.put(Cursor.prefix(id), id);
        if (previous != null && !previous.equals(id)) {
          return Envelope.of(Types.ACK, resync);
        }
      }
      JsonObject entries = new JsonObject();
      for (Map.Entry<String, Long> e : cursor.positions().entrySet()) {
        String id = byPrefix.get(e.getKey());
        if (id == null) {
          return Envelope.of(Types.ACK, resync);
        }
        positions.merge(id, e.getValue(), Math::max);
        entries.put(id, e.getValue());
      }
      if (beyondTimeline(positions, memberships)) {
        return Envelope.of(Types.ACK, reset);
      }
      JsonArray members = new JsonArray();
      memberships.forEach(m -> members.add(m.toJson()));
      boolean renew = entries.size() > REUSE_MAX_ENTRIES || session.ageSeconds() > windowSeconds / 2;
      return Envelope.of(Types.ACK, new JsonObject()
        .put("conversations", ids)
        .put("resync", false)
        .put("sessionId", cursor.sessionId())
        .put("positions", new JsonObject(new LinkedHashMap<>(positions)))
        .put("cursor", entries)
        .put("memberships", members)
        .put("renew", renew));
    });
  }

  /**
   * Replies {sessionId, positions: {id: seq}, cursor: {id: seq}, events: [envelopes], resync}.
   * Without positions (a fresh stream, or a cursor that could not be resumed) it records a
   * snapshot. With them, it replays; an optional {@code limit} replays only the first items (a
   * long-poll answer is bounded) — the replay is ordered by conversation then seq, so each
   * conversation's part is a prefix and the stream goes on exactly after what was replayed.
   */
  private Future<Envelope> startStream(Command cmd) {
    JsonObject p = cmd.payload();
    Object raw = p.getValue("positions");
    if (raw != null && !(raw instanceof JsonObject)) {
      throw ServiceException.invalid("'positions' must be an object");
    }
    Long limit = Fields.optionalLong(p, "limit", 1, REPLAY_LIMIT);
    String userId = cmd.userId();
    Future<JsonObject> result;
    if (raw == null) {
      result = snapshot(userId, p.getBoolean("resync", false)).map(r -> r.put("reset", p.getBoolean("reset", false)));
    } else {
      Map<String, Long> from = new LinkedHashMap<>();
      ((JsonObject) raw).forEach(e -> from.put(e.getKey(), ((Number) e.getValue()).longValue()));
      List<Membership> memberships = new ArrayList<>();
      p.getJsonArray("memberships", new JsonArray()).forEach(o -> memberships.add(Membership.fromJson((JsonObject) o)));
      result = StreamStore.replay(pool, userId, from, REPLAY_LIMIT + 1).compose(missed -> {
        if (missed.size() > REPLAY_LIMIT) {
          return snapshot(userId, true);
        }
        if (!gapless(from, memberships, missed)) {
          return snapshot(userId, true).map(r -> r.put("reset", true));
        }
        List<JsonObject> items = limit != null && missed.size() > limit ? missed.subList(0, limit.intValue()) : missed;
        return resumed(userId, p, from, memberships, items);
      });
    }
    return result.recover(Db::failure).map(payload -> Envelope.of(Types.ACK, payload));
  }

  /**
   * Whether a position names a seq the conversation does not have: the timeline was cut back (a
   * database restored from an older backup). Resuming there would skip every item the
   * conversation gets until it passes that seq again.
   */
  static boolean beyondTimeline(Map<String, Long> positions, List<Membership> memberships) {
    for (Membership m : memberships) {
      Long position = positions.get(m.conversationId().toString());
      if (position != null && position > m.lastSeq()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the replay starts right after each position and has no hole up to the last seq read
   * at open: every timeline item has a seq of its own and seqs are dense per conversation (each
   * allocation inserts its item in the same transaction), so anything else means history was
   * deleted (truncated past the resume window) and the client must resync, not skip.
   */
  static boolean gapless(Map<String, Long> from, List<Membership> memberships, List<JsonObject> items) {
    Map<String, Long> next = new HashMap<>();
    Map<String, Long> bound = new HashMap<>();
    for (Membership m : memberships) {
      String id = m.conversationId().toString();
      Long known = from.get(id);
      if (known == null && m.leftSeq() != null) {
        continue;
      }
      long start = known != null ? known : Math.max(m.joinedSeq() - 1, 0);
      next.put(id, start + 1);
      bound.put(id, m.leftSeq() == null ? m.lastSeq() : Math.min(m.leftSeq(), m.lastSeq()));
    }
    for (JsonObject item : items) {
      String id = item.getString("conversationId");
      Long expected = next.get(id);
      if (expected == null) {
        continue;
      }
      if (item.getLong("seq") != expected.longValue()) {
        return false;
      }
      next.put(id, expected + 1);
    }
    for (Map.Entry<String, Long> e : next.entrySet()) {
      if (e.getValue() <= bound.get(e.getKey())) {
        return false;
      }
    }
    return true;
  }

  private Future<JsonObject> resumed(String userId, JsonObject p, Map<String, Long> from, List<Membership> memberships,
                                     List<JsonObject> items) {
    Map<String, Long> positions = new LinkedHashMap<>();
    Map<String, Long> leaving = new LinkedHashMap<>();
    JsonArray events = new JsonArray();
    for (Membership m : memberships) {
      String id = m.conversationId().toString();
      Long known = from.get(id);
      if (m.leftSeq() != null) {
        // Left since the cursor and not yet replayed up to the leave: the stream keeps its
        // position (not followed), so that a cursor naming it stays resumable.
        if (known != null && known < m.leftSeq()) {
          leaving.put(id, known);
        }
        continue;
      }
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
    // A renewed session records where the replay STARTS: a stream that dies half-way through the
    // replay resumes from the cursor of the last event it got, and the rest is replayed again.
    Map<String, Long> recorded = new LinkedHashMap<>(positions);
    recorded.putAll(leaving);
    for (JsonObject item : items) {
      String id = item.getString("conversationId");
      events.add(Timeline.event(item).toJson());
      positions.computeIfPresent(id, (k, v) -> Math.max(v, item.getLong("seq")));
      leaving.computeIfPresent(id, (k, v) -> Math.max(v, item.getLong("seq")));
    }
    JsonObject reply = new JsonObject()
      .put("positions", new JsonObject(new LinkedHashMap<>(positions)))
      .put("events", events)
      .put("resync", false);
    if (!p.getBoolean("renew", true)) {
      // The same session goes on: the cursor keeps the entries it had, and the replay adds to them.
      return Future.succeededFuture(reply.put("sessionId", p.getString("sessionId"))
        .put("cursor", p.getJsonObject("cursor", new JsonObject())));
    }
    String id = newId();
    return StreamStore.insert(sessions, id, userId, recorded).map(v -> {
      expireNow();
      return reply.put("sessionId", id).put("cursor", new JsonObject());
    });
  }

  private Future<JsonObject> snapshot(String userId, boolean resync) {
    String id = newId();
    return StreamStore.snapshot(sessions, id, userId).map(positions -> {
      expireNow();
      return new JsonObject()
        .put("sessionId", id)
        .put("positions", positions)
        .put("cursor", new JsonObject())
        .put("events", new JsonArray())
        .put("resync", resync);
    });
  }

  /** Now and then, sessions past the resume window go (fire and forget). */
  private void expireNow() {
    if (ThreadLocalRandom.current().nextInt(200) == 0) {
      StreamStore.expire(sessions, windowSeconds).onFailure(t -> { });
    }
  }

  private static String newId() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** {conversationId, after, limit} → {messages}: no membership check, for the node's own routes only. */
  private Future<Envelope> read(Command cmd) {
    requireNode(cmd);
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    long after = Fields.requiredLong(p, "after", 0, Long.MAX_VALUE);
    long limit = Fields.requiredLong(p, "limit", 1, READ_MAX);
    return MessageStore.page(pool, id, null, after, (int) limit).recover(Db::failure)
      .map(items -> Envelope.of(Types.MESSAGES_LOADED, new JsonObject().put("messages", MessageStore.array(items))));
  }

  private Future<Envelope> lastSeqs(Command cmd) {
    requireNode(cmd);
    List<String> ids = Fields.stringList(cmd.payload(), "conversationIds", MAX_SWEEP_IDS, 64);
    UUID[] uuids = ids.stream().map(id -> Fields.uuid(id, "conversation")).toArray(UUID[]::new);
    return StreamStore.lastSeqs(pool, uuids).recover(Db::failure)
      .map(seqs -> Envelope.of(Types.ACK, new JsonObject().put("lastSeqs", seqs)));
  }

  private static void requireNode(Command cmd) {
    if (!Principal.NODE.userId().equals(cmd.userId())) {
      throw ServiceException.forbidden("internal command");
    }
  }
}
