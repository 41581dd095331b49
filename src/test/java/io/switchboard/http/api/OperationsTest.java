package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.function.Predicate;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §9 operations: {@code GET /metrics} in Prometheus text format, {@code GET /api/stats} with an admin key. */
class OperationsTest {

  static Node node;
  static Api api;
  /** A node of its own whose API keys have one scope each. */
  static Node scoped;
  static Api scopedApi;

  final Clients clients = new Clients();

  @BeforeAll
  static void nodes() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
    JsonObject keys = new JsonObject().put("auth", new JsonObject().put("apiKeys", new JsonArray()
      .add(new JsonObject().put("key", "pub").put("scopes", new JsonArray().add("publish")))
      .add(new JsonObject().put("key", "adm").put("scopes", new JsonArray().add("admin")))));
    scoped = TestNodes.TestCluster.create().start(keys, EnumSet.allOf(Node.Role.class));
    scopedApi = new Api(TestNodes.port(scoped));
  }

  @AfterAll
  static void stop() {
    await(scoped.stop());
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  @Test
  @DisplayName("GET /metrics answers, without credentials, Prometheus text with Switchboard's, Vert.x's and the JVM's meters")
  void prometheusText() {
    HttpResponse<Buffer> r = api.get("/metrics", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).startsWith("text/plain");
    assertThat(r.bodyAsString())
      .contains("# TYPE switchboard_connections gauge")
      .contains("switchboard_connections{transport=\"ws\"}")
      .contains("switchboard_connections{transport=\"sse\"}")
      .contains("# TYPE switchboard_delivery_latency_seconds histogram")
      .contains("vertx_eventbus_")
      .contains("vertx_http_server_")
      .contains("jvm_memory_used_bytes");
  }

  @Test
  @DisplayName("a message posted while a WebSocket client is connected shows in /metrics as delivered, received, timed and an ok send_message")
  void messageCounted() {
    String alice = Api.user("alice");
    String aliceToken = api.token(alice);
    String bobToken = api.token(Api.user("bob"));
    String groupId = api.group(bobToken, "Metered", alice).getString("id");
    WsClient ws = clients.ws(api.port(), aliceToken);
    api.send(bobToken, groupId, "counted");
    await(ws.message("counted"));

    String text = awaitMetrics(t -> sum(t, "switchboard_events_delivered_total", "transport=\"ws\"") > 0
        && sum(t, "switchboard_commands_total", "type=\"send_message\"", "outcome=\"ok\"") >= 1
        && sum(t, "switchboard_events_received_total") > 0
        && sum(t, "switchboard_delivery_latency_seconds_count") > 0,
      "delivered, received, latency and send_message counted");
    assertThat(sum(text, "switchboard_connections", "transport=\"ws\"")).isGreaterThanOrEqualTo(1);
  }

  @Test
  @DisplayName("a command a service refuses is counted with its error code as the outcome")
  void refusalCounted() {
    String token = api.token(Api.user("stranger"));
    String groupId = api.group(api.token(Api.user("owner")), "Closed").getString("id");
    assertError(api.post("/api/conversations/" + groupId + "/messages", token,
      new JsonObject().put("content", "let me in")), 403, "forbidden");

    awaitMetrics(t -> sum(t, "switchboard_commands_total", "type=\"send_message\"", "outcome=\"forbidden\"") >= 1,
      "send_message counted as forbidden");
  }

  @Test
  @DisplayName("GET /api/stats with the admin key describes the node that answered, its WebSocket client included")
  void stats() {
    String alice = Api.user("alice");
    String aliceToken = api.token(alice);
    api.group(aliceToken, "Counted room");
    WsClient ws = clients.ws(api.port(), aliceToken);
    await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add("public.stats"))));

    HttpResponse<Buffer> r = await(api.client().get("/api/stats").putHeader("X-API-Key", "dev-key").send());
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonObject stats = r.bodyAsJsonObject();
    assertThat(stats.getString("node")).isEqualTo(node.nodeId());
    assertThat(stats.getJsonObject("connections").fieldNames()).containsExactlyInAnyOrder("sse", "ws", "bridge", "poll");
    assertThat(stats.getJsonObject("connections").getInteger("ws")).isGreaterThanOrEqualTo(1);
    assertThat(stats.getInteger("usersOnline")).isGreaterThanOrEqualTo(1);
    assertThat(stats.getInteger("rooms")).isGreaterThanOrEqualTo(1);
    assertThat(stats.getInteger("topics")).isGreaterThanOrEqualTo(1);
    assertThat(stats.getDouble("eventsInPerSecond")).isGreaterThanOrEqualTo(0);
    assertThat(stats.getDouble("eventsOutPerSecond")).isGreaterThanOrEqualTo(0);
  }

  @Test
  @DisplayName("GET /api/stats without an API key, or with one that is not configured, is unauthorized")
  void statsUnauthorized() {
    assertError(api.get("/api/stats", null), 401, "unauthorized");
    assertError(await(api.client().get("/api/stats").putHeader("X-API-Key", "not-a-key").send()), 401, "unauthorized");
    assertError(await(api.client().get("/api/stats?apiKey=not-a-key").send()), 401, "unauthorized");
  }

  @Test
  @DisplayName("GET /api/stats with a key that has only the publish scope is forbidden; the admin key is accepted")
  void statsNeedsAdminScope() {
    assertError(await(scopedApi.client().get("/api/stats").putHeader("X-API-Key", "pub").send()), 403, "forbidden");
    HttpResponse<Buffer> admin = await(scopedApi.client().get("/api/stats?apiKey=adm").send());
    assertThat(admin.statusCode()).as(admin.bodyAsString()).isEqualTo(200);
    assertThat(admin.bodyAsJsonObject().getString("node")).isEqualTo(scoped.nodeId());
    // The same rule guards publishing, the other way round.
    assertError(await(scopedApi.client().post("/api/publish").putHeader("X-API-Key", "adm")
      .sendJsonObject(new JsonObject().put("topic", "public.x").put("payload", new JsonObject()))), 403, "forbidden");
  }

  /** Scrapes {@code /metrics} until {@code condition} holds (every 50 ms, at most 100 times). */
  private static String awaitMetrics(Predicate<String> condition, String what) {
    String text = "";
    for (int attempt = 0; attempt < 100; attempt++) {
      HttpResponse<Buffer> r = api.get("/metrics", null);
      assertThat(r.statusCode()).isEqualTo(200);
      text = r.bodyAsString();
      if (condition.test(text)) {
        return text;
      }
      await(Api.clientVertx().timer(50));
    }
    throw new AssertionError("/metrics never showed " + what + ":\n" + text);
  }

  /** The sum of the samples of {@code name} whose labels contain every one of {@code labels}. */
  private static double sum(String text, String name, String... labels) {
    double total = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
        continue;
      }
      boolean matches = true;
      for (String label : labels) {
        matches &= line.contains(label);
      }
      if (matches) {
        total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }
}
