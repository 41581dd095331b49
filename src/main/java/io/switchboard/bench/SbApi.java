package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;

import java.net.URI;
import java.util.List;

/** The few Switchboard REST calls the bench makes (SPEC §3, §6), against one node. */
final class SbApi {

  private final WebClient rest;
  final URI node;

  SbApi(Clients clients, URI node) {
    this.rest = clients.rest;
    this.node = node;
  }

  /** A group owned by {@code token}'s user with {@code participants}: {@code {id, inviteCode, …}}. */
  Future<JsonObject> createGroup(String token, String name, List<String> participants) {
    return rest.post(Tokens.port(node), node.getHost(), "/api/groups").bearerTokenAuthentication(token)
      .sendJsonObject(new JsonObject().put("name", name).put("participantIds", new JsonArray(participants)))
      .compose(r -> expect(r, 201, "create a group"));
  }

  /** Joins a group by its invite code. */
  Future<JsonObject> join(String token, String inviteCode) {
    return rest.post(Tokens.port(node), node.getHost(), "/api/groups/join").bearerTokenAuthentication(token)
      .sendJsonObject(new JsonObject().put("inviteCode", inviteCode))
      .compose(r -> expect(r, 200, "join a group"));
  }

  /** A durable send; the raw answer (201 with the message, or an error the caller counts). */
  Future<HttpResponse<Buffer>> send(String token, String conversationId, String content, String clientMessageId) {
    JsonObject body = new JsonObject().put("content", content);
    if (clientMessageId != null) {
      body.put("clientMessageId", clientMessageId);
    }
    return rest.post(Tokens.port(node), node.getHost(), "/api/conversations/" + conversationId + "/messages")
      .bearerTokenAuthentication(token)
      .sendJsonObject(body);
  }

  /** {@code POST /api/publish} to a topic with an API key of scope {@code publish}. */
  Future<HttpResponse<Buffer>> publish(String apiKey, String topic, String event, String data) {
    return rest.post(Tokens.port(node), node.getHost(), "/api/publish").putHeader("X-API-Key", apiKey)
      .sendJsonObject(new JsonObject().put("topic", topic).put("event", event).put("data", data));
  }

  /** A conversation as its member sees it (for {@code lastSeq}). */
  Future<JsonObject> conversation(String token, String conversationId) {
    return rest.get(Tokens.port(node), node.getHost(), "/api/conversations/" + conversationId)
      .bearerTokenAuthentication(token).send()
      .compose(r -> expect(r, 200, "read a conversation"));
  }

  /** The node's health answer, or a failure while it does not answer 200. */
  Future<JsonObject> health() {
    return rest.get(Tokens.port(node), node.getHost(), "/api/health").timeout(5000).send()
      .compose(r -> expect(r, 200, "read health"));
  }

  private static Future<JsonObject> expect(HttpResponse<Buffer> r, int status, String what) {
    if (r.statusCode() == status) {
      return Future.succeededFuture(r.bodyAsJsonObject());
    }
    return Future.failedFuture("cannot " + what + ": HTTP " + r.statusCode() + " " + r.bodyAsString());
  }
}
