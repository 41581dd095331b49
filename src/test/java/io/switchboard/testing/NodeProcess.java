package io.switchboard.testing;

import io.switchboard.Main;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One Switchboard node as an operating-system process of its own ({@code java io.switchboard.Main}
 * on the test classpath), for tests that kill, freeze or stop a node. Every signal goes to this
 * child's own PID: SIGKILL and SIGTERM through {@link ProcessHandle}, SIGSTOP and SIGCONT through
 * {@code kill -STOP <pid>}. The node logs to a file of its own, kept across restarts.
 *
 * <p>A {@code launcher} prefix (for instance {@code ip netns exec <ns>}, which execs the command
 * and so keeps its PID) runs the node somewhere else; {@code host} is the address clients use.
 * Whatever happens to the test, a JVM shutdown hook kills every node still running.
 *
 * <p>Unlike {@link SwitchboardProcess} (one process, with lighter test settings for its pool), a
 * {@code NodeProcess} is a slot that outlives its processes: the same port, environment and log
 * across kills and restarts, the node's own defaults, and a launcher.
 */
public final class NodeProcess implements AutoCloseable {

  private static final Set<NodeProcess> RUNNING = ConcurrentHashMap.newKeySet();
  private static final HttpClient PROBE = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(NodeProcess::close),
      "node-process-reaper"));
  }

  private final String name;
  private final String host;
  private final int httpPort;
  private final Map<String, String> env;
  private final List<String> jvmArgs;
  private final List<String> launcher;
  private final Path log;
  private volatile Process process;
  private volatile boolean frozen;
  private volatile int starts;

  /**
   * @param env      the {@code SWITCHBOARD_*} variables of the node (the test JVM's own are dropped)
   * @param jvmArgs  extra JVM options (heap, compiler)
   * @param launcher a command prefix, or empty
   */
  public NodeProcess(String name, String host, int httpPort, Map<String, String> env, List<String> jvmArgs,
                     List<String> launcher) {
    this.name = name;
    this.host = host;
    this.httpPort = httpPort;
    this.env = Map.copyOf(env);
    this.jvmArgs = List.copyOf(jvmArgs);
    this.launcher = List.copyOf(launcher);
    try {
      this.log = Files.createTempFile("sb-" + name + "-", ".log");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String name() {
    return name;
  }

  public String host() {
    return host;
  }

  public int httpPort() {
    return httpPort;
  }

  /** Where this node writes its output (every start appends). */
  public Path log() {
    return log;
  }

  /** How many times this node was started. */
  public int starts() {
    return starts;
  }

  /** The PID of the running process, or -1. */
  public long pid() {
    Process p = process;
    return p == null ? -1 : p.pid();
  }

  public boolean isAlive() {
    Process p = process;
    return p != null && p.isAlive();
  }

  public boolean isFrozen() {
    return frozen && isAlive();
  }

  /** Starts the process; it is not serving yet (see {@link #awaitHealthy}). */
  public synchronized NodeProcess start() {
    if (isAlive()) {
      throw new IllegalStateException(name + " is already running (pid " + pid() + ")");
    }
    List<String> command = new ArrayList<>(launcher);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmArgs);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Main.class.getName());
    ProcessBuilder pb = new ProcessBuilder(command)
      .redirectErrorStream(true)
      .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    try {
      Files.writeString(log, "---- start " + (starts + 1) + " of " + name + " ----\n", StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.APPEND);
      process = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    frozen = false;
    starts++;
    RUNNING.add(this);
    return this;
  }

  /** SIGKILL, then waits until the process is gone. */
  public void kill() {
    Process p = process;
    if (p == null) {
      return;
    }
    p.toHandle().destroyForcibly();
    waitFor(p, Duration.ofSeconds(30));
    frozen = false;
    RUNNING.remove(this);
  }

  /**
   * SIGTERM (the node drains and leaves the cluster), then waits up to {@code timeout} for it to
   * exit; answers whether it did. A node that does not exit in time is left running.
   */
  public boolean terminate(Duration timeout) {
    Process p = process;
    if (p == null || !p.isAlive()) {
      return true;
    }
    if (frozen) {
      thaw();
    }
    p.toHandle().destroy();
    boolean exited = waitFor(p, timeout);
    if (exited) {
      RUNNING.remove(this);
    }
    return exited;
  }

  /** SIGSTOP: the process keeps its sockets but runs nothing at all. */
  public void freeze() {
    signal("STOP");
    frozen = true;
  }

  /** SIGCONT after {@link #freeze()}. */
  public void thaw() {
    signal("CONT");
    frozen = false;
  }

  private void signal(String name) {
    long pid = pid();
    if (pid < 0 || !isAlive()) {
      throw new IllegalStateException(this.name + " is not running");
    }
    try {
      Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill -" + name + " " + pid + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * {@code GET /api/health} of this node: its JSON body (with the HTTP status as {@code httpStatus}),
   * or null when it does not answer within five seconds (the node itself gives its database check two).
   */
  public JsonObject health() {
    try {
      HttpResponse<String> r = PROBE.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + httpPort
          + "/api/health")).timeout(Duration.ofSeconds(5)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
      JsonObject body = r.body().isBlank() ? new JsonObject() : new JsonObject(r.body());
      return body.put("httpStatus", r.statusCode());
    } catch (IOException | RuntimeException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * Waits until the node answers health 200 and sees {@code clusterSize} members; fails with the
   * tail of its log if it exits or takes longer than {@code timeout}.
   */
  public JsonObject awaitHealthy(Duration timeout, int clusterSize) {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonObject last = null;
    while (System.nanoTime() < deadline) {
      if (!isAlive()) {
        throw new AssertionError(name + " exited with " + process.exitValue() + " while starting; log "
          + log + ":\n" + logTail(40));
      }
      last = health();
      if (last != null && last.getInteger("httpStatus") == 200 && last.getInteger("clusterSize", 0) == clusterSize) {
        return last;
      }
      pause(200);
    }
    throw new AssertionError(name + " not healthy with " + clusterSize + " members within " + timeout
      + " (last health " + last + "); log " + log + ":\n" + logTail(40));
  }

  /** The last lines of the node's log. */
  public String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  /** Kills the process if it still runs (SIGKILL also ends a stopped process). */
  @Override
  public void close() {
    Process p = process;
    if (p != null && p.isAlive()) {
      p.toHandle().destroyForcibly();
      waitFor(p, Duration.ofSeconds(30));
    }
    RUNNING.remove(this);
  }

  private static boolean waitFor(Process p, Duration timeout) {
    try {
      return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !p.isAlive();
    }
  }

  private static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return name + "(:" + httpPort + ", pid " + pid() + ")";
  }
}
