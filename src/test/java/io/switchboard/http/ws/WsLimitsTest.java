package io.switchboard.http.ws;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.RawWebSocket;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §8 limits and §7 origin checks on the WebSocket transport, on a node of their own with
 * small limits. Each test ends with the node back at zero connections, so the counts a test
 * reads from {@code /api/health} are its own.
 */
@ExtendWith(VertxExtension.class)
class WsLimitsTest {

  static final int COMMAND_BURST = 3;

  static Node node;
  static int port;
  static Api api;
  static Node postingNode;
  static Api posterApi;

  final Clients clients = new Clients();

  @BeforeAll
  static void start() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    node = cluster.start(new JsonObject()
      .put("http", new JsonObject().put("allowedOrigins", new JsonArray().add("http://good.example")))
      .put("limits", new JsonObject()
        .put("commandsPerSecond", 1)
        .put("commandBurst", COMMAND_BURST)
        .put("connectionsPerUser", 2)
        .put("queueEvents", 50)
        .put("queueBytes", 65536)
        .put("messagesPerSecond", 1000)
        .put("messageBurst", 1000)), EnumSet.allOf(Node.Role.class));
    port = TestNodes.port(node);
    api = new Api(port);
    // A second member to post from: REST there is not held to this node's tiny command rate.
    postingNode = cluster.start(new JsonObject().put("limits", new JsonObject()
      .put("commandsPerSecond", 10_000).put("commandBurst", 10_000)
      .put("messagesPerSecond", 10_000).put("messageBurst", 10_000)), EnumSet.allOf(Node.Role.class));
    posterApi = new Api(TestNodes.port(postingNode));
  }

  @AfterAll
  static void stop() {
    await(postingNode.stop());
    await(node.stop());
  }

  @AfterEach
  void close() {
    clients.closeAll();
    api.awaitConnections(c -> c.getInteger("ws") == 0 && c.getInteger("sse") == 0, "zero");
  }

  private WsClient connectWithOrigin(String origin, String token) {
    WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
      .setURI("/api/ws?token=" + token).setAllowOriginHeader(origin != null);
    if (origin != null) {
      options.putHeader("Origin", origin);
    }
    return clients.track(await(WsClient.connect(new WebSocketClientOptions(), options)));
  }

  @Test
  @DisplayName("a WebSocket (on /api/ws or /api/events) from an origin outside http.allowedOrigins is closed with 1008; an allowed one is served")
  void origins(VertxTestContext ctx) {
    var checkpoint = ctx.checkpoint(4);
    // The close follows the 101 at once: read by hand (see RawWebSocket).
    for (String path : List.of("/api/ws", "/api/events")) {
      RawWebSocket.openUntilClose(port, path + "?token=" + api.token(Api.user("eve")), "Origin", "http://evil.example")
        .onComplete(ctx.succeeding(closed -> ctx.verify(() -> {
          assertThat(closed.code()).isEqualTo(1008);
          assertThat(closed.texts()).isEmpty();
          checkpoint.flag();
        })));
    }
    WsClient good = connectWithOrigin("http://good.example", api.token(Api.user("gus")));
    good.next("connected").onComplete(ctx.succeeding(c -> checkpoint.flag()));
    // No Origin: not a browser page, nothing to check.
    WsClient backend = connectWithOrigin(null, api.token(Api.user("bea")));
    backend.next("connected").onComplete(ctx.succeeding(c -> checkpoint.flag()));
  }

  @Test
  @DisplayName("an SSE or REST request from an origin outside http.allowedOrigins is refused with 403 forbidden")
  void corsRefused(VertxTestContext ctx) {
    String token = api.token(Api.user("cora"));
    var events = await(api.client().get("/api/events").bearerTokenAuthentication(token)
      .putHeader("Origin", "http://evil.example").send());
    var rest = await(api.client().get("/api/conversations").bearerTokenAuthentication(token)
      .putHeader("Origin", "http://evil.example").send());
    var allowed = await(api.client().get("/api/conversations").bearerTokenAuthentication(token)
      .putHeader("Origin", "http://good.example").send());
    ctx.verify(() -> {
      Api.assertError(events, 403, "forbidden");
      Api.assertError(rest, 403, "forbidden");
      assertThat(allowed.statusCode()).isEqualTo(200);
      assertThat(allowed.getHeader("Access-Control-Allow-Origin")).isEqualTo("http://good.example");
    });
    ctx.completeNow();
  }

  @Test
  @DisplayName("a burst over limits.commandsPerSecond gets rate_limited errors, one reply per request, and the socket stays open")
  void rateLimited(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, api.token(Api.user("rita")));
    List<Future<JsonObject>> replies = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      replies.add(ws.request("ping", new JsonObject()));
    }
    Future.all(replies).onComplete(ctx.succeeding(all -> ctx.verify(() -> {
      List<JsonObject> got = replies.stream().map(Future::result).toList();
      assertThat(got.subList(0, COMMAND_BURST)).allMatch(r -> r.getString("type").equals("pong"));
      List<JsonObject> limited = got.stream().filter(r -> r.getString("type").equals("error")).toList();
      assertThat(limited).isNotEmpty()
        .allMatch(r -> r.getJsonObject("payload").getString("code").equals("rate_limited"));
      assertThat(got).allMatch(r -> r.getString("type").equals("pong") || r.getString("type").equals("error"));
      for (JsonObject r : got) {
        assertThat(ws.received()).filteredOn(e -> r.getString("requestId").equals(e.getString("requestId"))).hasSize(1);
      }
      assertThat(ws.socket().isClosed()).isFalse();
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a client that keeps hammering past the rate limit is closed with 4429")
  void abuseClosed(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, api.token(Api.user("ray")));
    hammer(ws, 0);
    ws.closed().onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      assertThat(ws.closeStatus()).isEqualTo((short) 4429);
      assertThat(ws.closeReason()).isEqualTo("rate_limited");
      ctx.completeNow();
    })));
  }

  /**
   * Rounds of ten pings, each round after the replies of the last: the outbound queue stays far
   * below limits.queueEvents, so what closes the socket is the abuse rule, not slow consumption.
   */
  private static Future<Void> hammer(WsClient ws, int round) {
    if (ws.socket().isClosed() || round == 50) {
      return Future.succeededFuture();
    }
    List<Future<JsonObject>> replies = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      replies.add(ws.request("ping", new JsonObject()));
    }
    return Future.join(replies).transform(ar -> hammer(ws, round + 1));
  }

  @Test
  @DisplayName("beyond limits.connectionsPerUser a new connection closes the user's oldest with reason replaced")
  void replaced(VertxTestContext ctx) {
    String token = api.token(Api.user("uwe"));
    WsClient first = clients.ws(port, token);
    WsClient second = clients.ws(port, token);
    WsClient third = clients.ws(port, token);
    first.closed()
      .compose(v -> second.request("ping", new JsonObject()))
      .compose(pong2 -> third.request("ping", new JsonObject()))
      .onComplete(ctx.succeeding(pong3 -> ctx.verify(() -> {
        assertThat(first.closeStatus()).isEqualTo((short) 1000);
        assertThat(first.closeReason()).isEqualTo("replaced");
        assertThat(second.socket().isClosed()).isFalse();
        assertThat(pong3.getString("type")).isEqualTo("pong");
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("a WebSocket client that stops reading is cut with 4408 while a reading client gets every message")
  void slowConsumer(VertxTestContext ctx) {
    String poster = Api.user("paul");  // posts through the second member
    String slowUser = Api.user("sid");
    String healthyUser = Api.user("hana");
    String posterToken = posterApi.token(poster);
    String group = posterApi.group(posterToken, "Firehose", slowUser, healthyUser).getString("id");
    WsClient healthy = clients.ws(port, api.token(healthyUser));
    WsClient slow = clients.track(await(WsClient.connect(new WebSocketClientOptions().setReceiveBufferSize(4096),
      new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
        .setURI("/api/ws?token=" + api.token(slowUser)).setAllowOriginHeader(false))));
    await(slow.next("connected"));
    api.awaitConnections(c -> c.getInteger("ws") == 2, "two WebSockets");
    slow.pause();

    String pad = "x".repeat(8192);
    List<String> posted = new ArrayList<>();
    // Post until the server has cut the slow client (the healthy one is still counted), then a few more.
    int extra = 5;
    for (int i = 0; i < 5000 && extra > 0; i++) {
      String content = i + " " + pad;
      posterApi.send(posterToken, group, content);
      posted.add(content);
      if (api.connections().getInteger("ws") == 1) {
        extra--;
      }
    }
    assertThat(extra).as("the slow client was never cut").isZero();
    var checkpoint = ctx.checkpoint(2);
    healthy.message(posted.get(posted.size() - 1)).onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(healthy.received()).filteredOn(e -> e.getString("type").equals("message_received"))
        .extracting(e -> e.getJsonObject("payload").getString("content"))
        .containsExactlyElementsOf(posted);
      assertThat(healthy.socket().isClosed()).isFalse();
      checkpoint.flag();
    })));
    slow.resume();
    slow.closed().onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      assertThat(slow.closeStatus()).isEqualTo((short) 4408);
      assertThat(slow.closeReason()).isEqualTo("slow_consumer");
      List<String> got = slow.received().stream().filter(e -> e.getString("type").equals("message_received"))
        .map(e -> e.getJsonObject("payload").getString("content")).toList();
      // What did reach it is in order, without gaps: a prefix of what was posted.
      assertThat(got.size()).isLessThan(posted.size());
      assertThat(got).containsExactlyElementsOf(posted.subList(0, got.size()));
      checkpoint.flag();
    })));
  }
}
