package io.switchboard.testing;

import io.switchboard.store.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/** The one embedded PostgreSQL of a test JVM, started on first use and shared by every suite. */
public final class TestDb {

  /**
   * Test databases opt out of durability (no fsync, asynchronous commit): they are thrown away,
   * and a test JVM writes a lot. Nodes started in tests likewise ({@code db.embeddedDurable}).
   */
  private static final boolean NOT_DURABLE = false;

  private static EmbeddedPostgres pg;

  private TestDb() {
  }

  /** The pg-client URL of the shared database. */
  public static synchronized String url() {
    if (pg == null) {
      pg = start();
    }
    return Database.url(pg);
  }

  /**
   * A new, empty database in the shared server, for a test that needs one of its own (migrations,
   * a schema in a given state); its pg-client URL. Cheaper than a server of its own.
   */
  public static synchronized String newDatabase() {
    url();
    String name = "sb_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create a test database", e);
    }
    return "postgresql://postgres@127.0.0.1:" + pg.getPort() + "/" + name;
  }

  /** Runs SQL statements on the database at {@code url} (a pg-client URL of the shared server). */
  public static void execute(String url, String... statements) {
    String jdbc = "jdbc:" + url.replace("postgresql://postgres@", "postgresql://") + "?user=postgres";
    try (Connection c = java.sql.DriverManager.getConnection(jdbc); Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot run test SQL: " + e.getMessage(), e);
    }
  }

  /** Starts another, private embedded PostgreSQL (for tests that stop their database). */
  public static EmbeddedPostgres start() {
    try {
      return Database.embeddedBuilder(Files.createTempDirectory("sb-test-pg"), NOT_DURABLE)
        .setCleanDataDirectory(true)
        .setServerConfig("max_connections", "300")
        // Statement counts for the tests that bound what a stream open costs.
        .setServerConfig("shared_preload_libraries", "pg_stat_statements")
        .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts a private embedded PostgreSQL on {@code port} (0: any free port) whose files in
   * {@code dataDir} outlive {@code close()}, so that calling this again with the port and the
   * directory of a stopped one restarts the same database (for outage tests).
   */
  public static EmbeddedPostgres start(Path dataDir, int port) {
    return start(dataDir, port, b -> { });
  }

  /** {@link #start(Path, int)} with more settings of the builder (listen addresses, a pg_hba customizer). */
  public static EmbeddedPostgres start(Path dataDir, int port, java.util.function.Consumer<EmbeddedPostgres.Builder> more) {
    try {
      EmbeddedPostgres.Builder builder = Database.embeddedBuilder(dataDir, NOT_DURABLE)
        .setCleanDataDirectory(false)
        .setPort(port);
      more.accept(builder);
      return builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
