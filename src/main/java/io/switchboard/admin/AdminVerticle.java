package io.switchboard.admin;

import io.switchboard.auth.Authenticator;
import io.switchboard.auth.Principal;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.AdminStore;
import io.switchboard.store.Db;
import io.switchboard.store.EpochStore;
import io.switchboard.store.RevocationStore;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Set;
import java.util.HashSet;

/**
 * The rules of the server API's own commands (SPEC §10), for API keys of scope {@code admin}
 * only (the REST adapter sends them as {@link Principal#BACKEND}): revoking tokens, disconnecting
 * a user everywhere, and presence of any users. Revocations are stored first, then told to every
 * node ({@link Addresses#CONTROL}), whose {@link ControlVerticle} refuses the tokens from then on
 * and ends the live streams that use them; a disconnect is only told.
 */
public final class AdminVerticle extends ServiceVerticle {

  public static final String REVOKE = "~revoke";
  public static final String DISCONNECT = "~disconnect";
  public static final String PRESENCE = "~presence";
  /** The operator starts a new database epoch (DESIGN §7): every older cursor resyncs. */
  public static final String NEW_EPOCH = "~new_epoch";

  /** Control messages to every node's gateway. */
  static final String REVOKED = "revoked";
  static final String DISCONNECTED = "disconnected";

  static final int MAX_REASON = 200;
  static final int MAX_USERS = 500;

  private final Pool pool;

  public AdminVerticle(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<?> start() {
    handle(REVOKE, this::revoke);
    handle(DISCONNECT, this::disconnect);
    handle(PRESENCE, this::presence);
    handle(NEW_EPOCH, this::newEpoch);
    return registered();
  }

  /** {@code {jti, exp?}} (exp: the token's, unix seconds) or {@code {userId, issuedBefore?}} (default now). */
  private Future<Envelope> revoke(Command cmd) {
    requireBackend(cmd);
    JsonObject p = cmd.payload();
    String jti = Fields.optionalString(p, "jti", 256);
    String userId = Fields.optionalString(p, "userId", 128);
    if ((jti == null) == (userId == null)) {
      throw ServiceException.invalid("give exactly one of 'jti' or 'userId'");
    }
    JsonObject revocation;
    if (jti != null) {
      if (jti.isEmpty()) {
        throw ServiceException.invalid("'jti' must not be empty");
      }
      Long exp = Fields.optionalLong(p, "exp", 1, Long.MAX_VALUE / 1000);
      revocation = new JsonObject().put("jti", jti).put("exp", exp == null ? 0L : exp);
    } else {
      if (!Authenticator.validUserId(userId)) {
        throw ServiceException.invalid("'userId' " + Authenticator.USER_ID_RULE);
      }
      revocation = new JsonObject().put("userId", userId).put("issuedBefore", issuedBefore(p));
    }
    return RevocationStore.add(pool, revocation).recover(Db::failure).map(v -> {
      vertx.eventBus().publish(Addresses.CONTROL, Envelope.of(REVOKED, revocation).toJson());
      JsonObject reply = revocation.copy();
      if (reply.containsKey("issuedBefore")) {
        reply.put("issuedBefore", Envelope.format(Instant.ofEpochSecond(reply.getLong("issuedBefore"))));
      }
      return Envelope.of(Types.ACK, new JsonObject().put("revoked", reply));
    });
  }

  /** Unix seconds or an ISO-8601 instant; none means now (every token issued so far). */
  private static long issuedBefore(JsonObject p) {
    Object v = p.getValue("issuedBefore");
    if (v == null) {
      return Instant.now().getEpochSecond();
    }
    if (v instanceof Number) {
      return Fields.optionalLong(p, "issuedBefore", 1, Long.MAX_VALUE / 1000);
    }
    if (v instanceof String s) {
      try {
        return Instant.parse(s).getEpochSecond();
      } catch (DateTimeParseException e) {
        throw ServiceException.invalid("'issuedBefore' must be unix seconds or an ISO-8601 time such as 2026-01-01T00:00:00Z");
      }
    }
    throw ServiceException.invalid("'issuedBefore' must be unix seconds or an ISO-8601 time");
  }

  /** {@code {userId, reason?}}: every stream of the user on every node ends with {@code disconnect} and 4401. */
  private Future<Envelope> disconnect(Command cmd) {
    requireBackend(cmd);
    String userId = Fields.requiredString(cmd.payload(), "userId", 128);
    String reason = Fields.optionalString(cmd.payload(), "reason", MAX_REASON);
    JsonObject what = new JsonObject().put("userId", userId)
      .put("reason", reason == null || reason.isBlank() ? "disconnected" : reason);
    vertx.eventBus().publish(Addresses.CONTROL, Envelope.of(DISCONNECTED, what).toJson());
    return Future.succeededFuture(Envelope.of(Types.ACK, what));
  }

  /**
   * {@code {reason?}}: a new epoch, stored, then told to every node, whose streams resume and get
   * {@code resync_required} (after restoring a backup the nodes could not notice, e.g. one taken
   * and restored with no node running in between). Answers {@code {epoch}}.
   */
  private Future<Envelope> newEpoch(Command cmd) {
    requireBackend(cmd);
    String reason = Fields.optionalString(cmd.payload(), "reason", MAX_REASON);
    String epoch = java.util.UUID.randomUUID().toString();
    String cause = "the operator started a new epoch" + (reason == null || reason.isBlank() ? "" : ": " + reason);
    return EpochStore.force(pool, epoch).recover(Db::failure).map(v -> {
      vertx.eventBus().publish(Addresses.EPOCH, new JsonObject().put("epoch", epoch).put("cause", cause));
      return Envelope.of(Types.ACK, new JsonObject().put("epoch", epoch));
    });
  }

  /** {@code {userIds}} → {@code {users:[{userId, online, lastSeenAt}]}} for any users (no sharing rule). */
  private Future<Envelope> presence(Command cmd) {
    requireBackend(cmd);
    List<String> ids = Fields.stringList(cmd.payload(), "userIds", MAX_USERS, 128);
    if (ids.isEmpty()) {
      throw ServiceException.invalid("'userIds' must name at least one user");
    }
    Future<JsonObject> online = vertx.eventBus()
      .<JsonObject>request(Addresses.PRESENCE_QUERY, new JsonObject().put("userIds", new JsonArray(ids)),
        new DeliveryOptions().setLocalOnly(true).setSendTimeout(5000))
      .map(m -> m.body())
      .recover(t -> Future.failedFuture(new ServiceException(io.switchboard.protocol.ErrorCode.UNAVAILABLE,
        "presence is not known on this node")));
    Future<java.util.Map<String, String>> seen = AdminStore.lastSeen(pool, ids).recover(Db::failure);
    return Future.all(online, seen).map(both -> {
      Set<String> on = new HashSet<>();
      online.result().getJsonArray("online", new JsonArray()).forEach(u -> on.add((String) u));
      JsonArray users = new JsonArray();
      for (String id : ids) {
        users.add(new JsonObject().put("userId", id).put("online", on.contains(id))
          .put("lastSeenAt", seen.result().get(id)));
      }
      return Envelope.of(Types.ACK, new JsonObject().put("users", users));
    });
  }

  private static void requireBackend(Command cmd) {
    if (!Principal.BACKEND.userId().equals(cmd.userId())) {
      throw ServiceException.forbidden("internal command");
    }
  }
}
