package io.switchboard.testing;

import io.switchboard.Main;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A node as a process of its own ({@code java io.switchboard.Main} on the test class path), for
 * tests that kill, freeze or stop a node, or read what it prints. Its output goes to a log file;
 * signals go to its own PID only.
 */
public final class SwitchboardProcess implements AutoCloseable {

  private final Process process;
  private final Path log;
  private final Api api;

  private SwitchboardProcess(Process process, Path log, int httpPort) {
    this.process = process;
    this.log = log;
    this.api = new Api(httpPort);
  }

  /**
   * Starts a node with exactly the {@code SWITCHBOARD_*} variables given (none inherited from the
   * developer's shell) and the JVM options given; returns at once. A test node is kept light
   * (small heap, serial GC, quick JIT, a pool of 4) and patient with the database (30 s to
   * connect), as the machine running the tests may be busy; the variables given override that.
   */
  public static SwitchboardProcess start(int httpPort, Map<String, String> env, List<String> jvmOptions) {
    return start(httpPort, env, jvmOptions, List.of());
  }

  /** As {@link #start(int, Map, List)}, with arguments for {@code Main} ({@code -conf FILE}). */
  public static SwitchboardProcess start(int httpPort, Map<String, String> env, List<String> jvmOptions,
                                         List<String> args) {
    try {
      Path log = Files.createTempFile("sb-node-" + httpPort + "-", ".log");
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(List.of("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
      command.addAll(jvmOptions);
      command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
      command.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
      pb.environment().put("SWITCHBOARD_DB_POOLSIZE", "4");
      pb.environment().put("SWITCHBOARD_DB_CONNECTTIMEOUTSECONDS", "30");
      pb.environment().putAll(env);
      return new SwitchboardProcess(pb.start(), log, httpPort);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Api api() {
    return api;
  }

  public long pid() {
    return process.pid();
  }

  public Path logFile() {
    return log;
  }

  /** Everything the node printed so far. */
  public String output() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Polls {@code GET path} every 250 ms until {@code condition} holds for the JSON body (any
   * status), for at most {@code seconds}; returns that body. Fails early if the process exits.
   */
  public JsonObject await(String path, Predicate<JsonObject> condition, String what, long seconds) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    JsonObject last = null;
    while (true) {
      if (!process.isAlive()) {
        throw new AssertionError("node exited (" + process.exitValue() + ") while waiting for " + what
          + "; log " + log + ":\n" + tail());
      }
      try {
        HttpResponse<Buffer> r = TestNodes.await(api.client().get(path).timeout(5000).send());
        last = r.bodyAsJsonObject();
        if (last != null && condition.test(last)) {
          return last;
        }
      } catch (Exception notYet) {
        // connection refused while it starts, or no answer while it is frozen
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no " + what + " within " + seconds + " s; last " + path + ": " + last
          + "; log " + log + ":\n" + tail());
      }
      TestNodes.await(Api.clientVertx().timer(250));
    }
  }

  /** Waits until the node serves (its readiness probe answers 200). */
  public SwitchboardProcess awaitReady(long seconds) {
    await("/api/health/ready", body -> "UP".equals(body.getString("status")), "readiness", seconds);
    return this;
  }

  /** The cluster size this node reports, waiting until it is {@code size}. */
  public JsonObject awaitClusterSize(int size, long seconds) {
    return await("/api/health", body -> body.getInteger("clusterSize", -1) == size,
      "clusterSize " + size, seconds);
  }

  /** SIGSTOP: the process stops dead, its sockets stay open. */
  public void freeze() {
    signal("STOP");
  }

  /** SIGCONT. */
  public void resume() {
    signal("CONT");
  }

  private void signal(String name) {
    try {
      Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new AssertionError("kill -" + name + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private String tail() {
    List<String> lines = output().lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  /** SIGCONT (in case it is frozen), SIGTERM, and SIGKILL if it has not exited 20 s later. */
  @Override
  public void close() {
    if (!process.isAlive()) {
      return;
    }
    try {
      resume();
    } catch (AssertionError ignored) {
      // it exited meanwhile
    }
    process.destroy();
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  /** Blocks until the process exits, for at most {@code seconds}; its exit code. */
  public int awaitExit(long seconds) throws InterruptedException {
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      throw new AssertionError("node did not exit within " + seconds + " s");
    }
    return process.exitValue();
  }
}
