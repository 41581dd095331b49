package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.store.Database;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §9 probes: {@code /api/health/live} answers while HTTP does; {@code /api/health/ready} only
 * while the node serves, reaches its database and is in its cluster; {@code /api/health} says
 * {@code DEGRADED} below {@code cluster.expectedMembers}.
 */
class HealthProbeTest {

  @TempDir
  Path dataDir;

  @Test
  @DisplayName("a serving node is live and ready, and /api/health keeps its shape")
  void liveAndReady() {
    Api api = new Api(TestNodes.port(TestNodes.shared()));
    HttpResponse<Buffer> live = api.get("/api/health/live", null);
    assertThat(live.statusCode()).isEqualTo(200);
    assertThat(live.bodyAsJsonObject().getString("status")).isEqualTo("UP");
    assertThat(live.getHeader("Cache-Control")).isEqualTo("no-store");
    HttpResponse<Buffer> ready = api.get("/api/health/ready", null);
    assertThat(ready.statusCode()).as(ready.bodyAsString()).isEqualTo(200);
    assertThat(ready.bodyAsJsonObject().getString("status")).isEqualTo("UP");
    JsonObject health = api.get("/api/health", null).bodyAsJsonObject();
    assertThat(health.fieldNames()).contains("status", "node", "clusterSize", "db", "connections");
    assertThat(health.getString("status")).as("no cluster.expectedMembers: never DEGRADED").isEqualTo("UP");
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  @DisplayName("with its database stopped a node is live but not ready (reason db), and ready again once it is back")
  void databaseDown() throws IOException {
    EmbeddedPostgres pg = TestDb.start(dataDir, 0);
    int pgPort = pg.getPort();
    Node node = TestNodes.TestCluster.create().start(
      new JsonObject().put("db", new JsonObject().put("url", Database.url(pg))), EnumSet.allOf(Node.Role.class));
    Api api = new Api(TestNodes.port(node));
    try {
      assertThat(api.get("/api/health/ready", null).statusCode()).isEqualTo(200);
      pg.close();

      JsonObject notReady = awaitBody(api, "/api/health/ready", 503, b -> "db".equals(b.getString("reason")));
      assertThat(notReady.getString("status")).isEqualTo("DOWN");
      assertThat(api.get("/api/health/live", null).statusCode()).as("live needs no database").isEqualTo(200);
      HttpResponse<Buffer> health = api.get("/api/health", null);
      assertThat(health.statusCode()).isEqualTo(503);
      assertThat(health.bodyAsJsonObject().getString("db")).isEqualTo("DOWN");

      pg = TestDb.start(dataDir, pgPort);
      awaitBody(api, "/api/health/ready", 200, b -> "UP".equals(b.getString("status")));
    } finally {
      await(node.stop());
      pg.close();
    }
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  @DisplayName("with cluster.expectedMembers 2 a lone node is DEGRADED (200), UP once a second joins; a stopping node is not ready (reason draining)")
  void degradedAndDraining() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject expectTwo = new JsonObject().put("cluster", new JsonObject().put("expectedMembers", 2));
    Node first = cluster.start(expectTwo, EnumSet.allOf(Node.Role.class));
    Api firstApi = new Api(TestNodes.port(first));
    Node second = null;
    try {
      HttpResponse<Buffer> alone = firstApi.get("/api/health", null);
      assertThat(alone.statusCode()).as("DEGRADED still serves").isEqualTo(200);
      assertThat(alone.bodyAsJsonObject().getString("status")).isEqualTo("DEGRADED");
      assertThat(alone.bodyAsJsonObject().getInteger("clusterSize")).isEqualTo(1);
      assertThat(alone.bodyAsJsonObject().getInteger("expectedMembers")).isEqualTo(2);
      assertThat(firstApi.get("/api/health/ready", null).statusCode()).as("DEGRADED is still ready").isEqualTo(200);

      second = cluster.start(expectTwo, EnumSet.allOf(Node.Role.class));
      Api secondApi = new Api(TestNodes.port(second));
      awaitBody(firstApi, "/api/health", 200, b -> "UP".equals(b.getString("status")) && b.getInteger("clusterSize") == 2);
      assertThat(secondApi.get("/api/health/ready", null).statusCode()).isEqualTo(200);

      // Stopping: the phase turns to draining before anything is released, so the next request
      // on this already open connection sees it while the port still answers.
      Future<Void> stopped = second.stop();
      HttpResponse<Buffer> draining = secondApi.get("/api/health/ready", null);
      assertThat(draining.statusCode()).isEqualTo(503);
      assertThat(draining.bodyAsJsonObject().getString("reason")).isEqualTo("draining");
      await(stopped);
      second = null;
      awaitBody(firstApi, "/api/health", 200, b -> "DEGRADED".equals(b.getString("status")));
    } finally {
      if (second != null) {
        await(second.stop());
      }
      await(first.stop());
    }
  }

  /** Polls {@code path} every 100 ms until it answers {@code status} with a body that matches (30 s at most). */
  private static JsonObject awaitBody(Api api, String path, int status, Predicate<JsonObject> matches) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    HttpResponse<Buffer> last;
    while (true) {
      last = api.get(path, null);
      if (last.statusCode() == status && matches.test(last.bodyAsJsonObject())) {
        return last.bodyAsJsonObject();
      }
      assertThat(System.nanoTime()).as("%s answering %d in time; last %d %s", path, status, last.statusCode(),
        last.bodyAsString()).isLessThan(deadline);
      await(Api.clientVertx().timer(100));
    }
  }
}
