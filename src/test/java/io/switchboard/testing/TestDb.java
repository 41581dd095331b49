package io.switchboard.testing;

import io.switchboard.store.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The one embedded PostgreSQL of a test JVM, started on first use and shared by every suite. */
public final class TestDb {

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

  /** Starts another, private embedded PostgreSQL (for tests that stop their database). */
  public static EmbeddedPostgres start() {
    try {
      return EmbeddedPostgres.builder()
        .setDataDirectory(Files.createTempDirectory("sb-test-pg"))
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
    try {
      return EmbeddedPostgres.builder()
        .setDataDirectory(dataDir)
        .setCleanDataDirectory(false)
        .setPort(port)
        .setServerConfig("max_connections", "300")
        .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
