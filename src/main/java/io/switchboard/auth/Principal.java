package io.switchboard.auth;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * Who is asking: a user (the JWT's {@code sub}, display {@code name} and the {@code topics}
 * patterns the token grants). Adapters set it; services never take a user id from a payload.
 */
public record Principal(String userId, String name, List<String> topics, long expiresAt) {

  /** The principal of server-to-server calls made with an API key (REST publish, TCP bridge). */
  public static final Principal BACKEND = new Principal("~backend", null, List.of(), 0);

  /** The principal of a node's own internal commands (the delivery core's timeline reads). */
  public static final Principal NODE = new Principal("~node", null, List.of(), 0);

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
