package io.switchboard.store;

import io.switchboard.StartException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Who holds the embedded database's directory before a node starts PostgreSQL in it.
 *
 * <p>A running node holds the directory's {@code epg-lock} (zonky's file lock, released by the OS
 * when the process dies, however it dies). A node killed with SIGKILL leaves its PostgreSQL
 * running, detached, with its {@code postmaster.pid} in the directory, and the next start would
 * fail on it. So: lock held → another node is running, refuse; lock free and a live PostgreSQL
 * in {@code postmaster.pid} → the stale server of a killed node, stop it (fast shutdown) and go
 * on; lock free and a {@code postmaster.pid} naming some other process (a PID reused after a
 * reboot or in a container) → the file is stale, remove it.
 */
final class EmbeddedDirectory {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedDirectory.class);
  /** zonky's lock file in the data directory, held for the life of the server's JVM. */
  static final String LOCK_FILE = "epg-lock";
  static final String PID_FILE = "postmaster.pid";
  private static final long STOP_SECONDS = 30;

  private EmbeddedDirectory() {
  }

  /** Makes {@code dir} free for a new server, or refuses with the reason (blocking). */
  static void reclaim(Path dir) {
    // A directory never initialised holds nothing (and initdb wants it empty: no lock file yet).
    if (!Files.exists(dir.resolve("postgresql.conf"))) {
      return;
    }
    try (FileChannel channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE,
      StandardOpenOption.WRITE)) {
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        throw new StartException("the embedded database in " + dir + " is in use by another running node: give each"
          + " node on this machine its own data.dir, or start this one in that node's cluster to share its database");
      }
      try {
        clearStaleServer(dir);
      } finally {
        lock.release();
      }
    } catch (IOException e) {
      throw new StartException("cannot check " + dir + " (data.dir): " + StartException.describe(e), e);
    }
  }

  private static void clearStaleServer(Path dir) throws IOException {
    Path pidFile = dir.resolve(PID_FILE);
    if (!Files.exists(pidFile)) {
      return;
    }
    List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    long pid;
    try {
      pid = Long.parseLong(lines.isEmpty() ? "" : lines.get(0).trim());
    } catch (NumberFormatException e) {
      throw new StartException(pidFile + " is not a PostgreSQL lock file: if no PostgreSQL runs on "
        + dir + ", delete it and start again");
    }
    Optional<ProcessHandle> process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (process.isEmpty()) {
      // PostgreSQL clears a lock file whose process is gone by itself.
      return;
    }
    String command = process.get().info().command().orElse("");
    if (command.isEmpty()) {
      throw new StartException(pidFile + " names process " + pid + ", which this node cannot inspect: if it is"
        + " not a PostgreSQL running on " + dir + ", delete " + pidFile + " and start again");
    }
    if (!Path.of(command).getFileName().toString().startsWith("postgres")) {
      LOG.warn("removing the stale {}: its process {} is {}, not PostgreSQL", pidFile, pid, command);
      Files.delete(pidFile);
      return;
    }
    LOG.warn("stopping the stale embedded PostgreSQL (pid {}) that a node killed earlier left running in {}", pid, dir);
    requestFastShutdown(pid);
    try {
      process.get().onExit().get(STOP_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new StartException("the stale embedded PostgreSQL (pid " + pid + ") that a killed node left in " + dir
        + " did not stop within " + STOP_SECONDS + " s: stop it (kill " + pid + ") and start again");
    }
    LOG.warn("reclaimed {}: the stale embedded PostgreSQL (pid {}) has stopped", dir, pid);
  }

  /**
   * Asks the server for a fast shutdown (roll back, disconnect, checkpoint): SIGINT, which Java
   * cannot send itself. Not {@code pg_ctl stop}: it refuses to run as root, and containers often do.
   */
  private static void requestFastShutdown(long pid) {
    try {
      Process p = new ProcessBuilder("kill", "-INT", String.valueOf(pid)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (IOException e) {
      LOG.warn("cannot run kill: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
