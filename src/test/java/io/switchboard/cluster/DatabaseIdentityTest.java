package io.switchboard.cluster;

import io.switchboard.Node;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.store.Database;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.TestNodes.TestCluster;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * One cluster, one database (SPEC §9): a node whose database is not the cluster's refuses to
 * start, and a node with an empty {@code db.url} uses the embedded database the cluster announces.
 */
class DatabaseIdentityTest {

  /** Nodes in start order; stopped in reverse, so a node owning an embedded database goes last. */
  static final List<Node> nodes = new ArrayList<>();
  static final List<EmbeddedPostgres> databases = new ArrayList<>();
  static final List<Vertx> bareMembers = new ArrayList<>();

  /** Static, so it is removed only after {@link #stop()} has stopped the embedded databases in it. */
  @TempDir
  static Path dataDirs;

  @AfterAll
  static void stop() throws IOException {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      await(nodes.get(i).stop());
    }
    for (Vertx vertx : bareMembers) {
      await(vertx.close());
    }
    for (EmbeddedPostgres pg : databases) {
      pg.close();
    }
  }

  @Test
  @DisplayName("a node whose db.url is not the cluster's database refuses to start, saying so")
  void foreignDatabaseRefused() {
    TestCluster cluster = TestCluster.create();
    Node member = start(cluster, new JsonObject());
    EmbeddedPostgres other = TestDb.start();
    databases.add(other);

    Throwable failure = failedStart(cluster, new JsonObject().put("db", new JsonObject().put("url", Database.url(other))));

    assertThat(failure).hasMessageContaining("not the cluster's database");
    assertUp(member);
  }

  @Test
  @DisplayName("an embedded-mode node refused by a cluster on another database leaves no announcement behind")
  void refusedEmbeddedNodeLeavesNoTrace() {
    TestCluster cluster = TestCluster.create();
    Node member = start(cluster, new JsonObject());

    // Nothing is announced, so each starts an embedded database of its own, which is not the
    // cluster's; the second must not be sent to the first one's stopped database.
    for (String name : new String[] {"refused-1", "refused-2"}) {
      Throwable failure = failedStart(cluster, embedded(dataDirs.resolve(name)));
      assertThat(failure).as(name).hasMessageContaining("not the cluster's database");
    }
    assertUp(member);
  }

  @Test
  @DisplayName("when the first embedded-mode node fails to start, the next one starts the cluster's database afresh")
  void failedFirstEmbeddedNodeLeavesNoTrace() throws IOException {
    TestCluster cluster = TestCluster.create();
    // A member that outlives the failed node keeps the cluster's maps, as another node would.
    bareMembers.add(cluster.vertx(cluster.config(new JsonObject())));
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      // It gets as far as announcing its database and recording its identity, then cannot open its port.
      JsonObject portTaken = embedded(dataDirs.resolve("failed-first"))
        .put("http", new JsonObject().put("port", taken.getLocalPort()));
      assertThat(failedStart(cluster, portTaken)).isNotNull();
    }

    Node next = start(cluster, embedded(dataDirs.resolve("next")));

    assertUp(next);
    assertThat(dataDirs.resolve("next").resolve("postgres")).isDirectory();
  }

  @Test
  @DisplayName("a node with an empty db.url uses the embedded database the cluster announces")
  void embeddedDatabaseShared() {
    Path firstDataDir = dataDirs.resolve("node-1");
    Path secondDataDir = dataDirs.resolve("node-2");
    TestCluster cluster = TestCluster.create();
    Node first = start(cluster, embedded(firstDataDir));
    Node second = start(cluster, embedded(secondDataDir));

    Api onFirst = new Api(TestNodes.port(first));
    Api onSecond = new Api(TestNodes.port(second));
    String token = onFirst.token(Api.user("alice"));
    JsonObject group = onFirst.group(token, "Embedded");
    JsonObject message = onFirst.send(token, group.getString("id"), "written on node 1");

    HttpResponse<Buffer> read = onSecond.get("/api/conversations/" + group.getString("id"), token);
    assertThat(read.statusCode()).as(read.bodyAsString()).isEqualTo(200);
    assertThat(read.bodyAsJsonObject().getString("name")).isEqualTo("Embedded");
    assertThat(read.bodyAsJsonObject().getLong("lastSeq")).isEqualTo(message.getLong("seq"));
    HttpResponse<Buffer> history = onSecond.get("/api/conversations/" + group.getString("id") + "/messages", token);
    assertThat(history.statusCode()).as(history.bodyAsString()).isEqualTo(200);
    assertThat(history.bodyAsJsonObject().getJsonArray("messages").stream()
      .map(m -> ((JsonObject) m).getString("id")))
      .contains(message.getString("id"));
    // The second node never started a PostgreSQL of its own.
    assertThat(firstDataDir.resolve("postgres")).isDirectory();
    assertThat(secondDataDir.resolve("postgres")).doesNotExist();
  }

  private static JsonObject embedded(Path dataDir) {
    return new JsonObject()
      .put("db", new JsonObject().put("url", ""))
      .put("data", new JsonObject().put("dir", dataDir.toString()));
  }

  private static Node start(TestCluster cluster, JsonObject overrides) {
    Node node = cluster.start(overrides, EnumSet.allOf(Node.Role.class));
    nodes.add(node);
    return node;
  }

  /** Starts a member that must fail to start; answers the failure, after closing its Vert.x. */
  private static Throwable failedStart(TestCluster cluster, JsonObject overrides) {
    SwitchboardConfig config = cluster.config(overrides);
    Vertx vertx = cluster.vertx(config);
    AsyncResult<Node> result;
    try {
      result = await(Node.start(vertx, config, EnumSet.allOf(Node.Role.class))
        .<AsyncResult<Node>>transform(Future::succeededFuture));
    } finally {
      await(vertx.close());
    }
    assertThat(result.succeeded()).as("the node was expected to refuse to start").isFalse();
    return result.cause();
  }

  private static void assertUp(Node node) {
    HttpResponse<Buffer> health = new Api(TestNodes.port(node)).get("/api/health", null);
    assertThat(health.statusCode()).as(health.bodyAsString()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getString("status")).isEqualTo("UP");
  }
}
