package io.switchboard;

import io.switchboard.testing.MainProcess;
import io.switchboard.testing.TestDb;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A start that fails exits at once, non-zero, with one line on stderr naming the cause, so that a
 * supervisor can restart it or an operator can act: the real entry point in a child JVM, one
 * test per cause. (A bad configuration is {@link MainTest}'s.)
 */
class StartFailureTest {

  /** Far more than a failing start needs (a few seconds), far less than "for ever". */
  private static final long EXIT_SECONDS = 60;

  @TempDir
  Path dir;

  @Test
  @DisplayName("a node whose HTTP port is taken exits 1 with one line naming http.port")
  void httpPortInUse() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Map<String, String> env = MainProcess.isolatedEnv(dir);
      env.put("SWITCHBOARD_HTTP_PORT", String.valueOf(taken.getLocalPort()));

      try (MainProcess main = MainProcess.start(dir, env)) {
        assertThat(main.awaitExit(EXIT_SECONDS)).isEqualTo(1);
        assertThat(main.stderrLines()).as(main.stderr()).singleElement().asString()
          .startsWith("switchboard: cannot start:")
          .contains("http.port", String.valueOf(taken.getLocalPort()), "in use");
      }
    }
  }

  @Test
  @DisplayName("a node whose migration fails exits 1 with one line naming the migration")
  void migrationFails() throws Exception {
    String db = TestDb.newDatabase();
    // Something of the same name already there, in another shape: V1 cannot create its table.
    TestDb.execute(db, "CREATE TABLE users (something integer)");
    Map<String, String> env = MainProcess.isolatedEnv(dir);
    env.put("SWITCHBOARD_DB_URL", db);

    try (MainProcess main = MainProcess.start(dir, env)) {
      assertThat(main.awaitExit(EXIT_SECONDS)).isEqualTo(1);
      assertThat(main.stderrLines()).as(main.stderr()).singleElement().asString()
        .startsWith("switchboard: cannot start:")
        .contains("migration V1__init", "users");
    }
  }

  @Test
  @DisplayName("a node that cannot take its cluster address exits 1 with one line naming cluster.host")
  void clusterUnreachable() throws Exception {
    Map<String, String> env = MainProcess.isolatedEnv(dir);
    // TEST-NET-1: never an address of this machine, so Hazelcast has no interface to bind.
    env.put("SWITCHBOARD_CLUSTER_HOST", "192.0.2.1");

    try (MainProcess main = MainProcess.start(dir, env)) {
      assertThat(main.awaitExit(EXIT_SECONDS)).isEqualTo(1);
      assertThat(main.stderrLines()).as(main.stderr()).singleElement().asString()
        .startsWith("switchboard: cannot start:")
        .contains("cluster", "cluster.host", "192.0.2.1");
    }
  }

  @Test
  @DisplayName("a node whose embedded database is held by another running node exits 1 with one line saying so")
  void embeddedDatabaseInUse() throws Exception {
    // What a running node holds: its embedded PostgreSQL, started (and locked) in data/postgres.
    EmbeddedPostgres running = TestDb.start(dir.resolve("data").resolve("postgres"), 0);
    try {
      Map<String, String> env = MainProcess.isolatedEnv(dir);
      env.put("SWITCHBOARD_DB_URL", "");

      try (MainProcess main = MainProcess.start(dir, env)) {
        assertThat(main.awaitExit(EXIT_SECONDS)).isEqualTo(1);
        assertThat(main.stderrLines()).as(main.stderr()).singleElement().asString()
          .startsWith("switchboard: cannot start:")
          .contains("data.dir", "in use by another running node");
      }
    } finally {
      running.close();
    }
  }

  @Test
  @DisplayName("the embedded PostgreSQL left running by a node killed with SIGKILL is reclaimed by the next start")
  void staleEmbeddedDatabaseReclaimed() throws Exception {
    Map<String, String> env = MainProcess.isolatedEnv(dir);
    env.put("SWITCHBOARD_DB_URL", "");
    Path pidFile = dir.resolve("data").resolve("postgres").resolve("postmaster.pid");
    Optional<ProcessHandle> orphan = Optional.empty();
    try {
      try (MainProcess first = MainProcess.start(dir, env)) {
        first.awaitHealthy(120);
        orphan = ProcessHandle.of(Long.parseLong(Files.readAllLines(pidFile, StandardCharsets.UTF_8).get(0).trim()));
        first.kill();
      }
      assertThat(orphan).as("the killed node's PostgreSQL").isPresent();
      assertThat(orphan.get().isAlive()).as("PostgreSQL outlives a node killed with SIGKILL").isTrue();

      try (MainProcess second = MainProcess.start(dir, env)) {
        second.awaitHealthy(120);
        assertThat(orphan.get().isAlive()).as("the stale PostgreSQL was stopped").isFalse();
        assertThat(second.log()).contains("stale embedded PostgreSQL");
        assertThat(second.stop(EXIT_SECONDS)).as(second.stderr()).isIn(0, 143);
      }
      assertThat(Files.exists(pidFile)).as("the embedded PostgreSQL stopped with its node").isFalse();
    } finally {
      // Whatever happened above, no PostgreSQL of this test outlives it.
      orphan.filter(ProcessHandle::isAlive).ifPresent(p -> {
        p.destroyForcibly();
        p.onExit().orTimeout(10, TimeUnit.SECONDS).join();
      });
    }
  }
}
