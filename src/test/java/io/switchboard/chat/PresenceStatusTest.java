package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
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
import java.util.Map;
import java.util.stream.Collectors;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3b presence status across two nodes: set on one node (or over REST on the other), seen
 * everywhere as {@code presence_changed}; {@code invisible} seen as offline; automatic away after
 * {@code presence.awaySeconds} without a command; {@code GET /api/presence} and a conversation's
 * online members.
 */
class PresenceStatusTest {

  static final int AWAY_SECONDS = 2;
  static Node[] nodes;
  static Api[] api;
  final Clients clients = new Clients();

  @BeforeAll
  static void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject config = new JsonObject().put("presence", new JsonObject().put("nodeTimeoutSeconds", 6)
      .put("awaySeconds", AWAY_SECONDS));
    nodes = new Node[2];
    api = new Api[2];
    for (int i = 0; i < 2; i++) {
      nodes[i] = cluster.start(config, EnumSet.allOf(Node.Role.class));
      api[i] = new Api(TestNodes.port(nodes[i]));
    }
  }

  @AfterAll
  static void stop() {
    for (int i = nodes.length - 1; i >= 0; i--) {
      await(nodes[i].stop());
    }
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  static int port(int i) {
    return TestNodes.port(nodes[i]);
  }

  /** The next event of {@code type} about {@code userId} (and with {@code status}, when not null). */
  static JsonObject about(WsClient ws, String type, String userId, String status) {
    return await(ws.next(e -> type.equals(e.getString("type"))
      && userId.equals(e.getJsonObject("payload").getString("userId"))
      && (status == null || status.equals(e.getJsonObject("payload").getString("status"))),
      type + " of " + userId + (status == null ? "" : " " + status))).getJsonObject("payload");
  }

  static long count(WsClient ws, String type, String userId, String status) {
    return ws.received().stream().filter(e -> type.equals(e.getString("type"))
      && userId.equals(e.getJsonObject("payload").getString("userId"))
      && (status == null || status.equals(e.getJsonObject("payload").getString("status")))).count();
  }

  static Map<String, JsonObject> presence(Api on, String token, String... userIds) {
    HttpResponse<Buffer> r = on.get("/api/presence?userIds=" + String.join(",", userIds), token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("users").stream().map(o -> (JsonObject) o)
      .collect(Collectors.toMap(u -> u.getString("userId"), u -> u));
  }

  static JsonArray online(Api on, String token, String conversationId) {
    HttpResponse<Buffer> r = on.get("/api/conversations/" + conversationId + "/presence", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("onlineUsers");
  }

  @Test
  @DisplayName("a status set on one node reaches the other node's clients once; GET /api/presence and a conversation's online members show it")
  void statusAcrossNodes() {
    String x = Api.user("x");
    String y = Api.user("y");
    String stranger = Api.user("stranger");
    String xToken = api[0].token(x);
    String yToken = api[0].token(y);
    api[0].token(stranger);
    String id = api[0].group(xToken, "Status", y).getString("id");
    WsClient observer = clients.ws(port(0), yToken);
    WsClient device = clients.ws(port(1), xToken);
    assertThat(about(observer, "user_online", x, null).getString("status")).isIn("online", "away");

    JsonObject ack = await(device.request("set_status", new JsonObject().put("status", "busy").put("text", "in a meeting")));
    assertThat(ack.getString("type")).as(ack.encode()).isEqualTo("ack");
    JsonObject changed = about(observer, "presence_changed", x, "busy");
    assertThat(changed.getString("text")).isEqualTo("in a meeting");

    Map<String, JsonObject> seen = presence(api[0], yToken, x, y, stranger);
    assertThat(seen.keySet()).containsExactlyInAnyOrder(x, y);
    assertThat(seen.get(x).getBoolean("online")).isTrue();
    assertThat(seen.get(x).getString("status")).isEqualTo("busy");
    assertThat(seen.get(x).getString("text")).isEqualTo("in a meeting");
    assertThat(seen.get(x).containsKey("lastSeenAt")).isTrue();
    assertThat(online(api[0], yToken, id).stream().map(o -> (JsonObject) o)
      .filter(u -> x.equals(u.getString("userId"))).findFirst().orElseThrow().getString("status")).isEqualTo("busy");
    assertThat(online(api[1], xToken, id)).extracting(o -> ((JsonObject) o).getString("userId"))
      .containsExactlyInAnyOrder(x, y);

    // Over REST on the other node than x's connection; the text cleared.
    HttpResponse<Buffer> put = api[0].request(HttpMethod.PUT, "/api/presence/me", xToken,
      new JsonObject().put("status", "away"));
    assertThat(put.statusCode()).as(put.bodyAsString()).isEqualTo(200);
    JsonObject away = about(observer, "presence_changed", x, "away");
    assertThat(away.getValue("text")).isNull();
    // Everything before the away, once: the busy reached the observer exactly once.
    assertThat(count(observer, "presence_changed", x, "busy")).isEqualTo(1);
    // x's own other devices learn it too.
    assertThat(about(device, "presence_changed", x, "away").getString("userId")).isEqualTo(x);
  }

  @Test
  @DisplayName("invisible is seen as offline by others (also after reconnecting), as invisible by oneself; back online announces it")
  void invisible() {
    String x = Api.user("x");
    String y = Api.user("y");
    String xToken = api[0].token(x);
    String yToken = api[0].token(y);
    String id = api[0].group(xToken, "Invisible", y).getString("id");
    WsClient observer = clients.ws(port(0), yToken);
    WsClient device = clients.ws(port(1), xToken);
    about(observer, "user_online", x, null);

    assertThat(await(device.request("set_status", new JsonObject().put("status", "invisible"))).getString("type"))
      .isEqualTo("ack");
    about(observer, "user_offline", x, null);
    assertThat(presence(api[0], yToken, x).get(x).getBoolean("online")).isFalse();
    assertThat(presence(api[0], yToken, x).get(x).getString("status")).isEqualTo("offline");
    assertThat(presence(api[1], xToken, x).get(x).getString("status")).isEqualTo("invisible");
    assertThat(online(api[0], yToken, id)).extracting(o -> ((JsonObject) o).getString("userId")).doesNotContain(x);

    // A new connection, on the other node, after the old one closed: still invisible.
    device.close();
    await(device.closed());
    WsClient again = clients.ws(port(0), xToken);
    JsonObject own = await(again.request("get_presence", new JsonObject().put("userIds", new JsonArray().add(x))));
    assertThat(own.getJsonObject("payload").getJsonArray("users").getJsonObject(0).getString("status"))
      .isEqualTo("invisible");
    assertThat(presence(api[0], yToken, x).get(x).getString("status")).isEqualTo("offline");

    assertThat(await(again.request("set_status", new JsonObject().put("status", "online"))).getString("type"))
      .isEqualTo("ack");
    JsonObject back = await(observer.next(e -> "user_online".equals(e.getString("type"))
      && x.equals(e.getJsonObject("payload").getString("userId")), "user_online of x again")).getJsonObject("payload");
    assertThat(back.getString("status")).isIn("online", "away");
    assertThat(presence(api[1], yToken, x).get(x).getBoolean("online")).isTrue();
  }

  @Test
  @DisplayName("a user with no command for presence.awaySeconds is shown away on every node, and online again after one")
  void autoAway() {
    String z = Api.user("z");
    String y = Api.user("y");
    String zToken = api[0].token(z);
    api[0].group(zToken, "Away", y);
    WsClient observer = clients.ws(port(0), api[0].token(y));
    WsClient device = clients.ws(port(1), zToken);
    about(observer, "user_online", z, null);

    about(observer, "presence_changed", z, "away");
    assertThat(presence(api[0], api[0].token(y), z).get(z).getString("status")).isEqualTo("away");

    assertThat(await(device.request("load_conversations", new JsonObject())).getString("type"))
      .isEqualTo("conversations_loaded");
    about(observer, "presence_changed", z, "online");
  }

  @Test
  @DisplayName("presence queries: missing, empty, too many or malformed ids and unknown statuses are refused; strangers are not shown")
  void badInput() {
    String x = Api.user("x");
    String xToken = api[0].token(x);
    String stranger = Api.user("stranger");
    api[0].token(stranger);
    api[0].group(xToken, "Alone");
    assertError(api[0].get("/api/presence", xToken), 400, "invalid_request");
    assertError(api[0].get("/api/presence?userIds=", xToken), 400, "invalid_request");
    assertError(api[0].get("/api/presence?userIds=a,,b", xToken), 400, "invalid_request");
    StringBuilder many = new StringBuilder("u0");
    for (int i = 1; i <= 100; i++) {
      many.append(",u").append(i);
    }
    assertError(api[0].get("/api/presence?userIds=" + many, xToken), 400, "invalid_request");
    assertError(api[0].get("/api/presence?userIds=" + x, null), 401, "unauthorized");
    assertError(api[0].request(HttpMethod.PUT, "/api/presence/me", xToken, new JsonObject().put("status", 3)),
      400, "invalid_request");
    assertError(api[0].request(HttpMethod.PUT, "/api/presence/me", xToken, new JsonObject()), 400, "invalid_request");
    assertError(api[0].request(HttpMethod.PUT, "/api/presence/me", xToken,
      new JsonObject().put("status", "busy").put("text", 5)), 400, "invalid_request");
    assertError(api[0].get("/api/conversations/00000000-0000-0000-0000-000000000000/presence", xToken), 404, "not_found");
    assertThat(presence(api[0], xToken, stranger)).isEmpty();
    assertThat(presence(api[0], xToken, x).get(x).getString("status")).isEqualTo("offline");
  }
}
