package io.switchboard.testing;

import io.switchboard.store.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

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
        .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
