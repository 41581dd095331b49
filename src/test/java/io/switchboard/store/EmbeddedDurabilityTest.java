package io.switchboard.store;

import io.switchboard.Node;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.EnumSet;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded PostgreSQL of a node keeps what it acknowledged (README: the data survives
 * restarts): fsync, synchronous commit and full-page writes on, where the embedding library turns
 * them off. Only tests opt out, explicitly.
 */
class EmbeddedDurabilityTest {

  @TempDir
  static Path dataDir;
  static Node node;

  @BeforeAll
  static void start() {
    // As a production node: db.url empty, and db.embeddedDurable as it ships (the tests' own
    // configuration turns it off, so it is set back explicitly).
    JsonObject config = new JsonObject()
      .put("db", new JsonObject().put("url", "").put("embeddedDurable", true))
      .put("data", new JsonObject().put("dir", dataDir.toString()));
    node = TestNodes.TestCluster.create().start(config, EnumSet.allOf(Node.Role.class));
  }

  @AfterAll
  static void stop() {
    if (node != null) {
      await(node.stop());
    }
  }

  static String show(Pool pool, String setting) {
    return await(pool.query("SHOW " + setting).execute()).iterator().next().getString(0);
  }

  @Test
  @DisplayName("a node's embedded PostgreSQL runs with fsync, synchronous_commit and full_page_writes on")
  void durableByDefault() {
    Pool pool = node.context().pool();

    assertThat(show(pool, "fsync")).isEqualTo("on");
    assertThat(show(pool, "synchronous_commit")).isEqualTo("on");
    assertThat(show(pool, "full_page_writes")).isEqualTo("on");
  }

  @Test
  @DisplayName("the tests' shared database opts out of durability, explicitly")
  void testDatabaseOptsOut() {
    Pool pool = Database.pool(node.vertx(), TestDb.url(), node.context().config().db());
    try {
      assertThat(show(pool, "fsync")).isEqualTo("off");
      assertThat(show(pool, "synchronous_commit")).isEqualTo("off");
    } finally {
      await(pool.close());
    }
  }
}
