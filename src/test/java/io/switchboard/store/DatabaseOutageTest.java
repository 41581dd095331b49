package io.switchboard.store;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.TestNodes.TestCluster;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A PostgreSQL outage under a running node (SPEC §2, §9): commands fail fast with
 * {@code unavailable} and commit nothing, health says the database is down, and the node
 * recovers by itself once the same database is back on the same port.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DatabaseOutageTest {

  /** Generous, but far from a hang: the pool must fail fast, not queue requests forever. */
  private static final Duration FAIL_FAST = Duration.ofSeconds(15);
  private static final int RECOVERY_ATTEMPTS = 40;
  private static final long RECOVERY_PAUSE_MS = 250;

  @TempDir
  static Path dataDir;

  static EmbeddedPostgres pg;
  static int pgPort;
  static Node node;
  static Api api;
  static String token;
  static String conversationId;
  static long lastCommittedSeq;

  @BeforeAll
  static void nodeOnPrivateDatabase() {
    pg = TestDb.start(dataDir, 0);
    pgPort = pg.getPort();
    node = TestCluster.create().start(
      new JsonObject().put("db", new JsonObject().put("url", Database.url(pg))),
      EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
    token = api.token(Api.user("alice"));
    conversationId = api.group(token, "Outage").getString("id");
  }

  @AfterAll
  static void stop() throws IOException {
    if (node != null) {
      await(node.stop());
    }
    if (pg != null) {
      pg.close();
    }
  }

  @Test
  @Order(1)
  @DisplayName("while the database is up, a message is stored and health is UP")
  void beforeTheOutage() {
    JsonObject message = api.send(token, conversationId, "before");
    lastCommittedSeq = message.getLong("seq");

    HttpResponse<Buffer> health = api.get("/api/health", null);
    assertThat(health.statusCode()).as(health.bodyAsString()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getString("db")).isEqualTo("UP");
  }

  @Test
  @Order(2)
  @DisplayName("with the database stopped, a send fails fast with 503 unavailable and health reports db DOWN")
  void duringTheOutage() throws IOException {
    pg.close();
    pg = null;

    long start = System.nanoTime();
    HttpResponse<Buffer> send = api.post(messages(), token, new JsonObject().put("content", "lost in the outage"));
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    Api.assertError(send, 503, "unavailable");
    assertThat(took).isLessThan(FAIL_FAST);

    HttpResponse<Buffer> health = api.get("/api/health", null);
    assertThat(health.statusCode()).as(health.bodyAsString()).isEqualTo(503);
    assertThat(health.bodyAsJsonObject().getString("status")).isEqualTo("DOWN");
    assertThat(health.bodyAsJsonObject().getString("db")).isEqualTo("DOWN");
  }

  @Test
  @Order(3)
  @DisplayName("after the database restarts, the node recovers by itself and the failed send left no trace")
  void afterTheOutage() {
    pg = TestDb.start(dataDir, pgPort);

    JsonObject body = new JsonObject().put("content", "after").put("clientMessageId", Api.user("after"));
    HttpResponse<Buffer> sent = await(sendUntilCreated(body, RECOVERY_ATTEMPTS));
    assertThat(sent.statusCode()).as(sent.bodyAsString()).isEqualTo(201);
    // Nothing was committed during the outage, so no seq was burnt either.
    assertThat(sent.bodyAsJsonObject().getLong("seq")).isEqualTo(lastCommittedSeq + 1);

    HttpResponse<Buffer> history = api.get(messages(), token);
    assertThat(history.statusCode()).as(history.bodyAsString()).isEqualTo(200);
    JsonArray items = history.bodyAsJsonObject().getJsonArray("messages");
    assertThat(items.stream().map(m -> ((JsonObject) m).getValue("content")))
      .contains("before", "after")
      .doesNotContain("lost in the outage");

    HttpResponse<Buffer> health = api.get("/api/health", null);
    assertThat(health.statusCode()).as(health.bodyAsString()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getString("db")).isEqualTo("UP");
  }

  /**
   * POSTs {@code body} until it is created, at most {@code attempts} times with a short timer in
   * between; the clientMessageId makes the retries safe. Answers the last response.
   */
  private static Future<HttpResponse<Buffer>> sendUntilCreated(JsonObject body, int attempts) {
    return api.client().post(messages())
      .bearerTokenAuthentication(token)
      .sendJsonObject(body)
      .compose(r -> r.statusCode() == 201 || attempts <= 1
        ? Future.succeededFuture(r)
        : Api.clientVertx().timer(RECOVERY_PAUSE_MS, TimeUnit.MILLISECONDS)
          .compose(v -> sendUntilCreated(body, attempts - 1)));
  }

  private static String messages() {
    return "/api/conversations/" + conversationId + "/messages";
  }
}
