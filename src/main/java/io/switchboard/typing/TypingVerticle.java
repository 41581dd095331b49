package io.switchboard.typing;

import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.sqlclient.Pool;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Owns the typing rules (SPEC §4): members only; a user drops out after {@code typing.ttlSeconds}
 * without a refresh, at once on stop, when they send a message there, and when their last
 * connection anywhere closes. Repeated starts refresh quietly; {@code typing_update} goes to the
 * room only when the set of typing users changes.
 *
 * <p>State is cluster-wide: a Hazelcast map from conversation to {userId: expiresAtMillis},
 * changed with compare-and-set so a start on one node and a stop on another meet. Any node that
 * wrote an expiry arms a timer for it; whichever fires first removes the expired users.
 */
public final class TypingVerticle extends ServiceVerticle {

  static final String MAP = "sb.typing";
  static final int CAS_ATTEMPTS = 10;
  static final long MEMBER_CACHE_MS = 30_000;
  static final long REFRESH_WINDOW_MS = 1000;

  private final Pool pool;
  private final long ttlMs;
  private final Map<String, Long> members = new HashMap<>();
  private final Map<String, Set<String>> typingHere = new HashMap<>();
  private AsyncMap<String, JsonObject> state;

  public TypingVerticle(Pool pool, int ttlSeconds) {
    this.pool = pool;
    this.ttlMs = ttlSeconds * 1000L;
  }

  @Override
  public Future<?> start() {
    handle(Types.TYPING_START, cmd -> typing(cmd, true));
    handle(Types.TYPING_STOP, cmd -> typing(cmd, false));
    // Decoded once per node by the presence service, which hands the changes to its services.
    var presence = vertx.eventBus().<JsonObject>localConsumer(Addresses.PRESENCE_CHANGES, msg -> offline(msg.body()));
    return vertx.sharedData().<String, JsonObject>getAsyncMap(MAP)
      .compose(map -> {
        state = map;
        return Future.all(registered(), presence.completion());
      });
  }

  /** Users offline everywhere stop typing wherever this instance saw them start. */
  private void offline(JsonObject envelope) {
    if (!Presence.CHANGES.equals(envelope.getString("type"))) {
      return;
    }
    for (Object o : envelope.getJsonObject("payload", new JsonObject()).getJsonArray("changes", new JsonArray())) {
      if (o instanceof JsonObject change && !change.getBoolean("online", true)
        && change.getValue("userId") instanceof String userId) {
        Set<String> convs = typingHere.remove(userId);
        if (convs != null) {
          convs.forEach(conv -> update(conv, m -> without(m, userId)));
        }
      }
    }
  }

  private Future<Envelope> typing(Command cmd, boolean start) {
    String conv = Fields.conversationId(cmd.payload(), "conversationId").toString();
    String userId = cmd.userId();
    return member(conv, userId).compose(v -> {
      if (!start) {
        Set<String> mine = typingHere.get(userId);
        if (mine != null) {
          mine.remove(conv);
        }
        return update(conv, m -> without(m, userId));
      }
      typingHere.computeIfAbsent(userId, k -> new HashSet<>()).add(conv);
      long expires = System.currentTimeMillis() + ttlMs;
      return update(conv, m -> {
        Long current = m.containsKey(userId) ? m.getLong(userId) : null;
        // A refresh within a second of the last one changes nothing: no write, no broadcast.
        // Later refreshes extend the expiry quietly (the set of typists is unchanged).
        if (current != null && current >= expires - REFRESH_WINDOW_MS) {
          return m;
        }
        return m.copy().put(userId, expires);
      }).onSuccess(x -> vertx.setTimer(ttlMs + 50, id -> update(conv, TypingVerticle::live)));
    }).map(v -> Envelope.of(Types.ACK, new JsonObject()));
  }

  /** Members only; a positive answer is cached briefly so keystrokes do not each hit PostgreSQL. */
  private Future<Void> member(String conv, String userId) {
    String key = conv + "|" + userId;
    Long until = members.get(key);
    if (until != null && until > System.currentTimeMillis()) {
      return Future.succeededFuture();
    }
    return ConversationStore.requireMember(pool, java.util.UUID.fromString(conv), userId)
      .recover(Db::failure)
      .onSuccess(v -> {
        if (members.size() > 100_000) {
          members.clear();
        }
        members.put(key, System.currentTimeMillis() + MEMBER_CACHE_MS);
      });
  }

  /**
   * Applies {@code change} (after dropping expired users) with compare-and-set, retrying on a
   * concurrent write, and publishes {@code typing_update} when the set of typing users changed.
   */
  private Future<Void> update(String conv, UnaryOperator<JsonObject> change) {
    return attempt(conv, change, CAS_ATTEMPTS);
  }

  private Future<Void> attempt(String conv, UnaryOperator<JsonObject> change, int left) {
    return state.get(conv).compose(current -> {
      JsonObject before = current == null ? new JsonObject() : current;
      JsonObject after = change.apply(live(before));
      Set<String> was = new TreeSet<>(before.fieldNames());
      Set<String> now = new TreeSet<>(after.fieldNames());
      if (after.equals(before)) {
        return Future.succeededFuture();
      }
      Future<Boolean> written;
      if (current == null) {
        written = state.putIfAbsent(conv, after, ttlMs * 4).map(prev -> prev == null);
      } else if (after.isEmpty()) {
        written = state.removeIfPresent(conv, current);
      } else {
        // Without a TTL: the cluster map (vertx-hazelcast) implements no compare-and-set with
        // one, and failed every second typist and every refresh as internal. The entry keeps
        // the expiry it was created with; users' own expiries are in the value.
        written = state.replaceIfPresent(conv, current, after);
      }
      return written.compose(ok -> {
        if (!ok) {
          return left > 1 ? attempt(conv, change, left - 1) : Future.succeededFuture();
        }
        if (!was.equals(now)) {
          publish(Addresses.conversation(conv), Types.TYPING_UPDATE, new JsonObject()
            .put("conversationId", conv).put("userIds", new JsonArray(new ArrayList<>(now))));
        }
        return Future.succeededFuture();
      });
    });
  }

  private static JsonObject live(JsonObject m) {
    long now = System.currentTimeMillis();
    JsonObject out = new JsonObject();
    m.forEach(e -> {
      if (e.getValue() instanceof Number n && n.longValue() > now) {
        out.put(e.getKey(), n.longValue());
      }
    });
    return out;
  }

  private static JsonObject without(JsonObject m, String userId) {
    JsonObject out = m.copy();
    out.remove(userId);
    return out;
  }

}
