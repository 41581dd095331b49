package io.switchboard.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.List;
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
  private final List<Path> backups = new ArrayList<>();

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

  /**
   * A file-level backup, as an operator takes one with the server down: stops the server, copies
   * its data directory, starts it again. Answers the copy, which {@link #close()} deletes too.
   */
  public synchronized Path backup() {
    stop();
    try {
      Path copy = Files.createTempDirectory(dataDir.getParent(), dataDir.getFileName() + "-backup");
      backups.add(copy);
      copyTree(dataDir, copy);
      return copy;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      restart();
    }
  }

  /**
   * Restores a {@link #backup()}: stops the server, replaces its data directory by the copy and
   * starts it again on the same port. Every write since the backup is gone.
   */
  public synchronized void restore(Path backup) {
    stop();
    try {
      deleteTree(dataDir);
      Files.createDirectories(dataDir);
      copyTree(backup, dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    restart();
  }

  /** Runs one SQL statement (blocking, from a test thread); answers the number of rows it changed. */
  public int execute(String sql, Object... params) {
    EmbeddedPostgres server;
    synchronized (this) {
      server = pg;
    }
    if (server == null) {
      throw new IllegalStateException("the server is stopped");
    }
    try (java.sql.Connection c = server.getPostgresDatabase().getConnection();
         java.sql.PreparedStatement st = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        st.setObject(i + 1, params[i]);
      }
      return st.executeUpdate();
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
          // PostgreSQL refuses a data directory others may read (it must be 0700 or 0750).
          Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(p));
        } else if (!p.getFileName().toString().equals("postmaster.pid")) {
          Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Override
  public synchronized void close() {
    stop();
    List<Path> dirs = new ArrayList<>(backups);
    dirs.add(dataDir);
    for (Path dir : dirs) {
      try {
        deleteTree(dir);
      } catch (IOException | UncheckedIOException e) {
        // a temp directory left behind is harmless
      }
    }
  }
}
