package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;

import java.util.List;

import static io.switchboard.testing.TestNodes.await;

/**
 * One authenticated REST command of SPEC §3 as the tests call it: method, path ({@code {id}}
 * stands for a conversation id) and a body that would be valid for a member. The tables below
 * let the cross-cutting suites (authentication, access, bad input) cover every command.
 */
record RestRoute(HttpMethod method, String path, JsonObject body) {

  static final RestRoute LIST = new RestRoute(HttpMethod.GET, "/api/conversations", null);
  static final RestRoute CREATE = new RestRoute(HttpMethod.POST, "/api/conversations",
    new JsonObject().put("type", "group").put("name", "Route test"));
  static final RestRoute GET = new RestRoute(HttpMethod.GET, "/api/conversations/{id}", null);
  static final RestRoute CREATE_GROUP = new RestRoute(HttpMethod.POST, "/api/groups",
    new JsonObject().put("name", "Route test"));
  static final RestRoute JOIN = new RestRoute(HttpMethod.POST, "/api/groups/join",
    new JsonObject().put("inviteCode", "no-such-code"));
  static final RestRoute LEAVE = new RestRoute(HttpMethod.POST, "/api/conversations/{id}/leave", null);
  static final RestRoute SEND = new RestRoute(HttpMethod.POST, "/api/conversations/{id}/messages",
    new JsonObject().put("content", "hello"));
  static final RestRoute HISTORY = new RestRoute(HttpMethod.GET, "/api/conversations/{id}/messages", null);
  static final RestRoute READ = new RestRoute(HttpMethod.POST, "/api/conversations/{id}/read",
    new JsonObject().put("seq", 1));

  // SPEC §3b. A message id no message has: membership is checked first.
  static final String MESSAGE = "/api/conversations/{id}/messages/00000000-0000-0000-0000-0000000000aa";
  static final RestRoute EDIT = new RestRoute(HttpMethod.PATCH, MESSAGE, new JsonObject().put("content", "edited"));
  static final RestRoute DELETE_MESSAGE = new RestRoute(HttpMethod.DELETE, MESSAGE, null);
  static final RestRoute REACT = new RestRoute(HttpMethod.PUT, MESSAGE + "/reactions/%F0%9F%91%8D", null);
  static final RestRoute UNREACT = new RestRoute(HttpMethod.DELETE, MESSAGE + "/reactions/%F0%9F%91%8D", null);
  static final RestRoute THREAD = new RestRoute(HttpMethod.GET,
    "/api/conversations/{id}/threads/00000000-0000-0000-0000-0000000000aa/messages", null);
  static final RestRoute RENAME = new RestRoute(HttpMethod.PATCH, "/api/conversations/{id}",
    new JsonObject().put("name", "Renamed"));
  static final RestRoute SET_ROLE = new RestRoute(HttpMethod.PUT, "/api/conversations/{id}/members/someone",
    new JsonObject().put("role", "admin"));
  static final RestRoute REMOVE_MEMBER = new RestRoute(HttpMethod.DELETE, "/api/conversations/{id}/members/someone",
    null);
  static final RestRoute ROTATE_INVITE = new RestRoute(HttpMethod.POST, "/api/conversations/{id}/invite-code", null);
  static final RestRoute MUTE = new RestRoute(HttpMethod.PUT, "/api/conversations/{id}/mute",
    new JsonObject().put("muted", true));
  static final RestRoute ONLINE = new RestRoute(HttpMethod.GET, "/api/conversations/{id}/presence", null);
  static final RestRoute SEARCH = new RestRoute(HttpMethod.GET, "/api/search?q=hello", null);
  static final RestRoute SET_STATUS = new RestRoute(HttpMethod.PUT, "/api/presence/me",
    new JsonObject().put("status", "busy"));
  static final RestRoute PRESENCE = new RestRoute(HttpMethod.GET, "/api/presence?userIds=someone", null);

  static final String CALL_ID = "00000000-0000-0000-0000-000000000000";
  static final RestRoute CALL_OFFER = new RestRoute(HttpMethod.POST, "/api/calls/offer",
    new JsonObject().put("conversationId", CALL_ID).put("sdp", "v=0").put("media", "audio"));
  static final RestRoute CALL_ANSWER = new RestRoute(HttpMethod.POST, "/api/calls/answer",
    new JsonObject().put("callId", CALL_ID).put("sdp", "v=0"));
  static final RestRoute CALL_DECLINE = new RestRoute(HttpMethod.POST, "/api/calls/decline",
    new JsonObject().put("callId", CALL_ID));
  static final RestRoute CALL_END = new RestRoute(HttpMethod.POST, "/api/calls/end",
    new JsonObject().put("callId", CALL_ID));
  static final RestRoute ICE_CANDIDATE = new RestRoute(HttpMethod.POST, "/api/calls/ice-candidate",
    new JsonObject().put("callId", CALL_ID).put("candidate", "candidate:1"));
  static final RestRoute ICE_SERVERS = new RestRoute(HttpMethod.GET, "/api/calls/ice-servers", null);
  static final RestRoute GET_CALL = new RestRoute(HttpMethod.GET, "/api/calls/" + CALL_ID, null);

  /** Every command that needs a token. */
  static List<RestRoute> authenticated() {
    return List.of(LIST, CREATE, GET, CREATE_GROUP, JOIN, LEAVE, SEND, HISTORY, READ,
      CALL_OFFER, CALL_ANSWER, CALL_DECLINE, CALL_END, ICE_CANDIDATE, ICE_SERVERS, GET_CALL,
      EDIT, DELETE_MESSAGE, REACT, UNREACT, THREAD, RENAME, SET_ROLE, REMOVE_MEMBER, ROTATE_INVITE, MUTE, ONLINE,
      SEARCH, SET_STATUS, PRESENCE);
  }

  /** Every command addressed to one conversation by the id in its path. */
  static List<RestRoute> conversationScoped() {
    return List.of(GET, LEAVE, SEND, HISTORY, READ,
      EDIT, DELETE_MESSAGE, REACT, UNREACT, THREAD, RENAME, SET_ROLE, REMOVE_MEMBER, ROTATE_INVITE, MUTE, ONLINE);
  }

  /** Every command that reads a JSON body. */
  static List<RestRoute> withBody() {
    return List.of(CREATE, CREATE_GROUP, JOIN, SEND, READ, EDIT, RENAME, SET_ROLE, MUTE, SET_STATUS);
  }

  /** The path with {@code {id}} replaced. */
  String at(String conversationId) {
    return path.replace("{id}", conversationId);
  }

  /** An unsent request for {@code conversationId}, without credentials. */
  HttpRequest<Buffer> request(Api api, String conversationId) {
    return api.client().request(method, at(conversationId));
  }

  /** Sends the route's valid body (if any) with a Bearer token (none when null). */
  HttpResponse<Buffer> call(Api api, String conversationId, String token) {
    HttpRequest<Buffer> req = request(api, conversationId);
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return send(req);
  }

  /** Sends the route's valid body (if any) on a prepared request. */
  HttpResponse<Buffer> send(HttpRequest<Buffer> req) {
    return await(body == null ? req.send() : req.sendJsonObject(body));
  }

  /** Sends raw bytes as an {@code application/json} body with a Bearer token. */
  HttpResponse<Buffer> callRaw(Api api, String conversationId, String token, String raw) {
    HttpRequest<Buffer> req = request(api, conversationId).putHeader("Content-Type", "application/json");
    req.bearerTokenAuthentication(token);
    return await(req.sendBuffer(Buffer.buffer(raw)));
  }

  @Override
  public String toString() {
    return method + " " + path;
  }
}
