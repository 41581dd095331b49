package io.switchboard.auth;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * Who is asking: a user (the JWT's {@code sub}, display {@code name} and the {@code topics}
 * patterns the token grants). Adapters set it; services never take a user id from a payload.
 *
 * <p>{@code jti}, {@code issuedAt} and {@code claims} stay on the node that authenticated the
 * token (they are not part of {@link #toJson()}, so commands do not carry them): revocations are
 * checked against the first two, and the authorization proxy is shown the claims on connect.
 */
public record Principal(String userId, String name, List<String> topics, long expiresAt, String jti, long issuedAt,
                        JsonObject claims) {

  /** The principal of server-to-server calls made with an API key (REST publish, TCP bridge). */
  public static final Principal BACKEND = new Principal("~backend", null, List.of(), 0);

  /** The principal of a node's own internal commands (the delivery core's timeline reads). */
  public static final Principal NODE = new Principal("~node", null, List.of(), 0);

  public Principal(String userId, String name, List<String> topics, long expiresAt) {
    this(userId, name, topics, expiresAt, null, 0, null);
  }

  /** An API key acting for {@code userId} (the admin API): no token, so nothing to revoke. */
  public static Principal actingFor(String userId) {
    return new Principal(userId, null, List.of(), 0);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("userId", userId).put("topics", new JsonArray(topics));
    if (name != null) {
      json.put("name", name);
    }
    if (expiresAt > 0) {
      json.put("exp", expiresAt);
    }
    return json;
  }

  public static Principal fromJson(JsonObject json) {
    JsonArray topics = json.getJsonArray("topics", new JsonArray());
    return new Principal(json.getString("userId"), json.getString("name"),
      topics.stream().map(String::valueOf).toList(), json.getLong("exp", 0L));
  }
}
