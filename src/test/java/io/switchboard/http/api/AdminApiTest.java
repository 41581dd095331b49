package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.Jwts;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.UUID;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server API (SPEC §10) on a two-node cluster: conversations, members and messages for
 * users, presence, and disconnects and token revocations that end live connections on every node;
 * bad input, no key and a key without the {@code admin} scope get a coded error and change nothing.
 */
class AdminApiTest {

  static final String ADMIN_KEY = "admin-key-0123";
  static final String PUBLISH_KEY = "publish-key-0123";
  static Node[] nodes = new Node[2];
  static Api[] api = new Api[2];
  static String secret;
  final Clients clients = new Clients();

  @BeforeAll
  static void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject keys = new JsonObject().put("auth", new JsonObject().put("apiKeys", new JsonArray()
      .add(new JsonObject().put("key", ADMIN_KEY).put("scopes", new JsonArray().add("admin")))
      .add(new JsonObject().put("key", PUBLISH_KEY).put("scopes", new JsonArray().add("publish")))));
    for (int i = 0; i < 2; i++) {
      nodes[i] = cluster.start(keys, EnumSet.allOf(Node.Role.class));
      api[i] = new Api(TestNodes.port(nodes[i]));
    }
    secret = nodes[0].context().config().auth().jwtSecret();
  }

  @AfterAll
  static void stop() {
    for (Node n : nodes) {
      await(n.stop());
    }
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  static HttpResponse<Buffer> call(int node, HttpMethod method, String path, String key, String raw) {
    var req = api[node].client().request(method, path).putHeader("Content-Type", "application/json");
    if (key != null) {
      req.putHeader("X-API-Key", key);
    }
    return await(raw == null ? req.send() : req.sendBuffer(Buffer.buffer(raw)));
  }

  static HttpResponse<Buffer> admin(int node, HttpMethod method, String path, JsonObject body) {
    return call(node, method, path, ADMIN_KEY, body == null ? null : body.encode());
  }

  static JsonObject ok(HttpResponse<Buffer> r, int status) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    return r.bodyAsJsonObject();
  }

  static JsonObject group(String... participants) {
    return ok(admin(0, HttpMethod.POST, "/api/admin/conversations", new JsonObject().put("type", "group")
      .put("name", "admin-made").put("participantIds", new JsonArray(List.of(participants)))), 201);
  }

  /** A token signed with the nodes' secret, with a jti and an iat. */
  static String token(String userId, String jti, long issuedAt) {
    JsonObject claims = new JsonObject().put("sub", userId).put("iat", issuedAt).put("exp", Jwts.now() + 3600);
    if (jti != null) {
      claims.put("jti", jti);
    }
    return Jwts.hs256(claims, secret);
  }

  @Test
  @DisplayName("create a group and a direct conversation, add and remove a member, send as a bot: users see it all")
  void conversationsForUsers() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bot = Api.user("bot");
    WsClient bobWs = clients.ws(api[1].port(), api[1].token(bob));

    JsonObject g = group(alice, bot);
    String conv = g.getString("id");
    assertThat(g.getString("type")).isEqualTo("group");
    assertThat(g.getString("name")).isEqualTo("admin-made");

    JsonObject added = ok(admin(0, HttpMethod.POST, "/api/admin/conversations/" + conv + "/members/" + bob, null), 200);
    assertThat(added.getBoolean("added")).isTrue();
    // Bob, connected to the other node, follows the conversation at once.
    await(bobWs.next(e -> "member_joined".equals(e.getString("type"))
      && conv.equals(e.getJsonObject("payload").getString("conversationId")), "member_joined"));
    // Adding again changes nothing.
    assertThat(ok(admin(0, HttpMethod.POST, "/api/admin/conversations/" + conv + "/members/" + bob, null), 200)
      .getBoolean("added")).isFalse();

    JsonObject sent = ok(admin(0, HttpMethod.POST, "/api/admin/conversations/" + conv + "/messages",
      new JsonObject().put("senderId", bot).put("content", new JsonObject().put("text", "build passed")).put("kind", "bot")), 201);
    assertThat(sent.getString("senderId")).isEqualTo(bot);
    assertThat(sent.getString("kind")).isEqualTo("bot");
    JsonObject got = await(bobWs.next(e -> "message_received".equals(e.getString("type"))
      && conv.equals(e.getJsonObject("payload").getString("conversationId")), "the bot's message")).getJsonObject("payload");
    assertThat(got.getJsonObject("content").getString("text")).isEqualTo("build passed");
    assertThat(got.getLong("seq")).isEqualTo(sent.getLong("seq"));

    ok(admin(1, HttpMethod.DELETE, "/api/admin/conversations/" + conv + "/members/" + bob, null), 200);
    await(bobWs.next(e -> "member_left".equals(e.getString("type"))
      && conv.equals(e.getJsonObject("payload").getString("conversationId")), "member_left"));
    // Bob is out: he can no longer read it.
    assertThat(api[0].get("/api/conversations/" + conv, api[0].token(bob)).statusCode()).isIn(403, 404);

    JsonObject direct = ok(admin(0, HttpMethod.POST, "/api/admin/conversations", new JsonObject().put("type", "direct")
      .put("participantIds", new JsonArray().add(alice).add(bob))), 201);
    assertThat(direct.getString("type")).isEqualTo("direct");
    // A direct conversation is one per pair: asked again, the same one.
    assertThat(ok(admin(1, HttpMethod.POST, "/api/admin/conversations", new JsonObject().put("type", "direct")
      .put("participantIds", new JsonArray().add(bob).add(alice))), 201).getString("id")).isEqualTo(direct.getString("id"));
    // No third member in a direct conversation.
    assertError(admin(0, HttpMethod.POST, "/api/admin/conversations/" + direct.getString("id") + "/members/" + bot, null),
      400, "invalid_request");
  }

  @Test
  @DisplayName("presence of any users, whichever node they are connected to")
  void presence() {
    String on = Api.user("on");
    String off = Api.user("off");
    clients.ws(api[1].port(), api[1].token(on));
    long deadline = System.currentTimeMillis() + 15_000;
    JsonArray users;
    do {
      users = ok(admin(0, HttpMethod.GET, "/api/admin/presence?userIds=" + on + "," + off, null), 200).getJsonArray("users");
      if (users.getJsonObject(0).getBoolean("online")) {
        break;
      }
      await(Api.clientVertx().timer(50));
    } while (System.currentTimeMillis() < deadline);
    assertThat(users.getJsonObject(0).getString("userId")).isEqualTo(on);
    assertThat(users.getJsonObject(0).getBoolean("online")).isTrue();
    assertThat(users.getJsonObject(1).getString("userId")).isEqualTo(off);
    assertThat(users.getJsonObject(1).getBoolean("online")).isFalse();
    assertError(admin(0, HttpMethod.GET, "/api/admin/presence", null), 400, "invalid_request");
  }

  @Test
  @DisplayName("a disconnect ends the user's connections on every node, with reconnect false, and no one else's")
  void disconnectEverywhere() {
    String alice = Api.user("alice");
    String other = Api.user("other");
    WsClient ws0 = clients.ws(api[0].port(), api[0].token(alice));
    SseClient sse1 = clients.sse(api[1].port(), api[1].token(alice));
    await(sse1.next("connected"));
    WsClient bystander = clients.ws(api[1].port(), api[1].token(other));

    JsonObject r = ok(admin(1, HttpMethod.POST, "/api/admin/users/" + alice + "/disconnect",
      new JsonObject().put("reason", "account suspended")), 200);
    assertThat(r.getString("userId")).isEqualTo(alice);

    JsonObject d = await(ws0.next("disconnect")).getJsonObject("payload");
    assertThat(d.getString("reason")).isEqualTo("account suspended");
    assertThat(d.getBoolean("reconnect")).isFalse();
    await(ws0.closed());
    assertThat(ws0.closeStatus()).isEqualTo((short) 4401);
    SseClient.Event e = await(sse1.next("disconnect"));
    assertThat(e.payload().getBoolean("reconnect")).isFalse();
    await(sse1.ended());
    // The bystander is still served.
    assertThat(await(bystander.request("ping", new JsonObject())).getString("type")).isEqualTo("pong");
    // No body at all is fine too.
    ok(call(0, HttpMethod.POST, "/api/admin/users/" + other + "/disconnect", ADMIN_KEY, null), 200);
    await(bystander.closed());
  }

  @Test
  @DisplayName("a revoked jti ends its live connections on every node and is refused on every node; other tokens still work")
  void revokeJti() {
    String alice = Api.user("alice");
    String jti = UUID.randomUUID().toString();
    long iat = Jwts.now() - 60;
    String revoked = token(alice, jti, iat);
    WsClient ws0 = clients.ws(api[0].port(), revoked);
    SseClient sse1 = clients.sse(api[1].port(), revoked);
    await(sse1.next("connected"));
    WsClient keep = clients.ws(api[1].port(), token(alice, UUID.randomUUID().toString(), iat));

    JsonObject r = ok(admin(0, HttpMethod.POST, "/api/admin/revocations", new JsonObject().put("jti", jti)
      .put("exp", Jwts.now() + 3600)), 201);
    assertThat(r.getJsonObject("revoked").getString("jti")).isEqualTo(jti);

    assertThat(await(ws0.next("disconnect")).getJsonObject("payload").getString("reason")).isEqualTo("token_revoked");
    await(ws0.closed());
    assertThat(ws0.closeStatus()).isEqualTo((short) 4401);
    await(sse1.next("disconnect"));
    await(sse1.ended());
    for (int i = 0; i < 2; i++) {
      assertError(api[i].get("/api/conversations", revoked), 401, "unauthorized");
    }
    // The user's other token is not revoked.
    assertThat(await(keep.request("ping", new JsonObject())).getString("type")).isEqualTo("pong");
    assertThat(api[1].get("/api/conversations", token(alice, UUID.randomUUID().toString(), iat)).statusCode()).isEqualTo(200);
  }

  @Test
  @DisplayName("revoking a user's tokens issued before a time ends them on every node; a token issued after works")
  void revokeUser() {
    String bob = Api.user("bob");
    long cut = Jwts.now() - 30;
    String old = token(bob, null, cut - 30);
    WsClient ws1 = clients.ws(api[1].port(), old);
    SseClient sse0 = clients.sse(api[0].port(), old);
    await(sse0.next("connected"));

    JsonObject r = ok(admin(1, HttpMethod.POST, "/api/admin/revocations", new JsonObject().put("userId", bob)
      .put("issuedBefore", java.time.Instant.ofEpochSecond(cut).toString())), 201);
    assertThat(r.getJsonObject("revoked").getString("userId")).isEqualTo(bob);

    await(ws1.next("disconnect"));
    await(ws1.closed());
    assertThat(ws1.closeStatus()).isEqualTo((short) 4401);
    await(sse0.ended());
    assertError(api[0].get("/api/conversations", old), 401, "unauthorized");
    String fresh = token(bob, null, cut + 10);
    assertThat(api[0].get("/api/conversations", fresh).statusCode()).isEqualTo(200);
    clients.ws(api[1].port(), fresh);
  }

  @Test
  @DisplayName("a node started after a revocation refuses the token from its first request")
  void revokedOnANewNode() {
    String carol = Api.user("carol");
    String jti = UUID.randomUUID().toString();
    String revoked = token(carol, jti, Jwts.now() - 60);
    ok(admin(0, HttpMethod.POST, "/api/admin/revocations", new JsonObject().put("jti", jti)), 201);
    // Another cluster on the same database: it hears no control message, it reads the revocations at start.
    Node late = TestNodes.TestCluster.create().start(new JsonObject(), EnumSet.allOf(Node.Role.class));
    try {
      Api lateApi = new Api(TestNodes.port(late));
      assertError(lateApi.get("/api/conversations", revoked), 401, "unauthorized");
      assertThat(lateApi.get("/api/conversations", token(carol, UUID.randomUUID().toString(), Jwts.now() - 60))
        .statusCode()).isEqualTo(200);
    } finally {
      await(late.stop());
    }
  }

  @Test
  @DisplayName("no key is 401, a key without the admin scope 403, on every admin route")
  void keysAndScopes() {
    String conv = UUID.randomUUID().toString();
    List<Object[]> routes = List.of(
      new Object[] {HttpMethod.POST, "/api/admin/users/u1/disconnect", "{}"},
      new Object[] {HttpMethod.POST, "/api/admin/revocations", "{\"jti\":\"x\"}"},
      new Object[] {HttpMethod.POST, "/api/admin/conversations", "{\"type\":\"group\",\"participantIds\":[\"u1\"]}"},
      new Object[] {HttpMethod.POST, "/api/admin/conversations/" + conv + "/members/u1", null},
      new Object[] {HttpMethod.DELETE, "/api/admin/conversations/" + conv + "/members/u1", null},
      new Object[] {HttpMethod.POST, "/api/admin/conversations/" + conv + "/messages", "{\"senderId\":\"u1\",\"content\":\"x\"}"},
      new Object[] {HttpMethod.GET, "/api/admin/presence?userIds=u1", null},
      new Object[] {HttpMethod.GET, "/api/admin/webhooks", null},
      new Object[] {HttpMethod.GET, "/api/stats", null});
    for (Object[] route : routes) {
      assertError(call(0, (HttpMethod) route[0], (String) route[1], null, (String) route[2]), 401, "unauthorized");
      assertError(call(0, (HttpMethod) route[0], (String) route[1], "wrong-key", (String) route[2]), 401, "unauthorized");
      assertError(call(1, (HttpMethod) route[0], (String) route[1], PUBLISH_KEY, (String) route[2]), 403, "forbidden");
    }
    // A user's token is not an API key.
    String token = api[0].token(Api.user("eve"));
    var r = await(api[0].client().post("/api/admin/revocations").bearerTokenAuthentication(token)
      .sendJsonObject(new JsonObject().put("jti", "x")));
    assertError(r, 401, "unauthorized");
  }

  @Test
  @DisplayName("malformed JSON, wrong types, missing fields and oversize bodies are invalid_request or too_large, and change nothing")
  void badInput() {
    String alice = Api.user("alice");
    String conv = group(alice).getString("id");
    String messages = "/api/admin/conversations/" + conv + "/messages";
    // Malformed JSON, a non-object, wrong types, missing fields.
    for (String raw : List.of("{", "[1,2]", "\"text\"", "{\"senderId\": 5, \"content\": \"x\"}", "{\"content\": \"x\"}",
      "{\"senderId\": \"" + alice + "\"}", "{\"senderId\": \"" + alice + "\", \"content\": \"x\", \"kind\": 7}",
      "{\"senderId\": \"" + alice + "\", \"content\": \"x\", \"kind\": \"system\"}",
      "{\"senderId\": \"~node\", \"content\": \"x\"}")) {
      assertError(call(0, HttpMethod.POST, messages, ADMIN_KEY, raw), 400, "invalid_request");
    }
    // A sender who is not a member, a conversation that does not exist, an id that is no id.
    assertThat(call(0, HttpMethod.POST, messages, ADMIN_KEY, "{\"senderId\":\"stranger-1\",\"content\":\"x\"}").statusCode())
      .isIn(403, 404);
    assertThat(call(0, HttpMethod.POST, "/api/admin/conversations/" + UUID.randomUUID() + "/members/u1", ADMIN_KEY, null)
      .statusCode()).isEqualTo(404);
    assertError(call(0, HttpMethod.POST, "/api/admin/conversations/not-a-uuid/members/u1", ADMIN_KEY, null), 404, "not_found");
    // Oversize: over limits.frameBytes.
    String big = "{\"senderId\":\"" + alice + "\",\"content\":\"" + "x".repeat(nodes[0].context().config().limits().frameBytes() + 10) + "\"}";
    assertError(call(0, HttpMethod.POST, messages, ADMIN_KEY, big), 413, "too_large");
    // Nothing was written.
    JsonObject page = ok(api[0].get("/api/conversations/" + conv + "/messages", api[0].token(alice)), 200);
    assertThat(page.getJsonArray("messages").stream().map(o -> ((JsonObject) o).getString("kind")))
      .allMatch("system"::equals);

    // Conversations: missing, wrong type, bad shapes.
    for (String raw : List.of("{}", "{\"type\":\"group\"}", "{\"type\":\"direct\",\"participantIds\":[\"a1\"]}",
      "{\"type\":\"direct\",\"participantIds\":[\"a1\",\"b1\",\"c1\"]}", "{\"type\":\"group\",\"participantIds\":\"a1\"}",
      "{\"type\":\"group\",\"participantIds\":[1,2]}", "{\"type\":\"channel\",\"participantIds\":[\"a1\"]}",
      "{\"type\":\"group\",\"participantIds\":[\"~x\"]}", "{")) {
      assertError(call(0, HttpMethod.POST, "/api/admin/conversations", ADMIN_KEY, raw), 400, "invalid_request");
    }
    // Revocations: neither or both fields, bad types, a bad time.
    for (String raw : List.of("{}", "{\"jti\":\"a\",\"userId\":\"b\"}", "{\"jti\":5}", "{\"jti\":\"\"}",
      "{\"userId\":\"b\",\"issuedBefore\":\"yesterday\"}", "{\"userId\":\"b\",\"issuedBefore\":true}", "[]")) {
      assertError(call(1, HttpMethod.POST, "/api/admin/revocations", ADMIN_KEY, raw), 400, "invalid_request");
    }
    // Disconnect: a reason that is not text, one too long.
    assertError(call(0, HttpMethod.POST, "/api/admin/users/u1/disconnect", ADMIN_KEY, "{\"reason\":5}"), 400, "invalid_request");
    assertError(call(0, HttpMethod.POST, "/api/admin/users/u1/disconnect", ADMIN_KEY,
      new JsonObject().put("reason", "r".repeat(500)).encode()), 400, "invalid_request");
    assertError(call(0, HttpMethod.POST, "/api/admin/users/u1/disconnect", ADMIN_KEY, "{"), 400, "invalid_request");
  }
}
