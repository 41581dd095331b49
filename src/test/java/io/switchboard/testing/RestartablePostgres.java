package io.switchboard.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A private embedded PostgreSQL that a test can stop and start again: the same port and the same
 * data directory, so clients see the same database come back (outage tests). It is never the
 * shared test database. {@link #close()} stops it and deletes its files.
 */
public final class RestartablePostgres implements AutoCloseable {

  private final Path dataDir;
  private final int port;
  private final Consumer<EmbeddedPostgres.Builder> settings;
  private EmbeddedPostgres pg;

  private RestartablePostgres(Path dataDir, EmbeddedPostgres pg, Consumer<EmbeddedPostgres.Builder> settings) {
    this.dataDir = dataDir;
    this.pg = pg;
    this.port = pg.getPort();
    this.settings = settings;
  }

  /** Starts a fresh database on a free port. */
  public static RestartablePostgres start() {
    try {
      Path dir = Files.createTempDirectory("sb-faults-pg");
      return new RestartablePostgres(dir, TestDb.start(dir, 0), b -> { });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts a fresh database on a free port that also listens on {@code host} (an address of this
   * machine, such as a bridge's) and lets clients of {@code cidr} in without a password, as it
   * does those of 127.0.0.1; restarts keep both.
   */
  public static RestartablePostgres start(String host, String cidr) {
    Consumer<EmbeddedPostgres.Builder> settings = b -> b
      .setServerConfig("listen_addresses", "127.0.0.1," + host)
      .setDataDirectoryCustomizer(dir -> allow(dir.toPath().resolve("pg_hba.conf"), cidr));
    try {
      Path dir = Files.createTempDirectory("sb-faults-pg");
      return new RestartablePostgres(dir, TestDb.start(dir, 0, settings), settings);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Adds a trust line for {@code cidr} to pg_hba.conf, once. */
  private static void allow(Path hba, String cidr) {
    String line = "host all all " + cidr + " trust";
    try {
      String now = Files.readString(hba);
      if (!now.contains(line)) {
        Files.writeString(hba, now + (now.endsWith("\n") ? "" : "\n") + line + "\n");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The pg-client URL; it stays the same across restarts. */
  public String url() {
    return url("127.0.0.1");
  }

  /** The pg-client URL through {@code host}, one of the addresses it listens on. */
  public String url(String host) {
    return "postgresql://postgres@" + host + ":" + port + "/postgres";
  }

  public int port() {
    return port;
  }

  public synchronized boolean running() {
    return pg != null;
  }

  /** Stops the server ({@code pg_ctl stop -m fast}: open connections are cut). */
  public synchronized void stop() {
    if (pg == null) {
      return;
    }
    try {
      pg.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      pg = null;
    }
  }

  /** Starts the stopped server again on the same port and data. */
  public synchronized void restart() {
    if (pg == null) {
      pg = TestDb.start(dataDir, port, settings);
    }
  }

  @Override
  public synchronized void close() {
    stop();
    try (Stream<Path> files = Files.walk(dataDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temp directory left behind is harmless
    }
  }
}
