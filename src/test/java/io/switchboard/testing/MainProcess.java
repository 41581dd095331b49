package io.switchboard.testing;

import io.switchboard.Main;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code java io.switchboard.Main} as a child JVM, as an operator runs it: for tests of what the
 * real entry point does when a start fails, or when a node is killed. Each child gets a cluster of
 * its own (name and Hazelcast port), an HTTP port, and a working directory; its stdout (the log)
 * and stderr go to files there.
 */
public final class MainProcess implements AutoCloseable {

  private final Process process;
  private final Path out;
  private final Path err;
  private final int httpPort;

  private MainProcess(Process process, Path out, Path err, int httpPort) {
    this.process = process;
    this.out = out;
    this.err = err;
    this.httpPort = httpPort;
  }

  /**
   * The environment of a node alone in its own cluster, on the shared test database, with its
   * data directory under {@code dir}. Callers add or replace keys before {@link #start}.
   */
  public static Map<String, String> isolatedEnv(Path dir) {
    int clusterPort = TestNodes.freePort();
    Map<String, String> env = new HashMap<>();
    env.put("SWITCHBOARD_HTTP_PORT", String.valueOf(TestNodes.freePort()));
    env.put("SWITCHBOARD_HTTP_HOST", "127.0.0.1");
    env.put("SWITCHBOARD_DB_URL", TestDb.url());
    env.put("SWITCHBOARD_DATA_DIR", dir.resolve("data").toString());
    env.put("SWITCHBOARD_CLUSTER_NAME", "sb-main-" + UUID.randomUUID());
    env.put("SWITCHBOARD_CLUSTER_PORT", String.valueOf(clusterPort));
    env.put("SWITCHBOARD_CLUSTER_MEMBERS", "[\"127.0.0.1:" + clusterPort + "\"]");
    return env;
  }

  /** Starts Main in {@code dir} with exactly the {@code SWITCHBOARD_*} variables of {@code env}. */
  public static MainProcess start(Path dir, Map<String, String> env, String... args) {
    return start(dir, env, List.of(), args);
  }

  /** As {@link #start(Path, Map, String...)}, with options for the JVM (system properties). */
  public static MainProcess start(Path dir, Map<String, String> env, List<String> jvmOptions, String... args) {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>(List.of(java.toString(), "-Xmx384m", "-XX:+UseSerialGC"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    String tag = UUID.randomUUID().toString().substring(0, 8);
    Path out = dir.resolve("main-" + tag + ".log");
    Path err = dir.resolve("main-" + tag + ".err");
    ProcessBuilder pb = new ProcessBuilder(command)
      .directory(dir.toFile())
      .redirectOutput(out.toFile())
      .redirectError(err.toFile());
    // Only the variables given here: a SWITCHBOARD_* in the developer's shell must not leak in.
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    try {
      Files.createDirectories(dir);
      String port = env.get("SWITCHBOARD_HTTP_PORT");
      return new MainProcess(pb.start(), out, err, port == null ? 8080 : Integer.parseInt(port));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Process process() {
    return process;
  }

  public int httpPort() {
    return httpPort;
  }

  /** Waits for the process to exit by itself; fails the test if it has not within {@code seconds}. */
  public int awaitExit(long seconds) throws InterruptedException {
    boolean exited = process.waitFor(seconds, TimeUnit.SECONDS);
    assertThat(exited).as("Main exited within %d s; stderr: %s; log: %s", seconds, stderr(), out).isTrue();
    return process.exitValue();
  }

  /** What the child wrote to stderr so far. */
  public String stderr() {
    return read(err);
  }

  /** The child's log (its stdout) so far. */
  public String log() {
    return read(out);
  }

  /** The non-blank lines of stderr. */
  public List<String> stderrLines() {
    return stderr().lines().filter(l -> !l.isBlank()).toList();
  }

  /** Waits until {@code GET /api/health} answers 200; fails the test if the child dies or is too slow. */
  public void awaitHealthy(long seconds) throws InterruptedException {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/api/health"))
      .timeout(Duration.ofSeconds(5)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      assertThat(process.isAlive()).as("child node running; stderr: %s; log: %s", stderr(), out).isTrue();
      assertThat(System.nanoTime()).as("child node healthy within %d s; log: %s", seconds, out).isLessThan(deadline);
      try {
        if (client.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // connection refused while it starts
      }
      // Polling a process from outside: there is no event to await.
      Thread.sleep(200);
    }
  }

  /** SIGKILL of the JVM alone, as {@code kill -9 <pid>} does: its children (PostgreSQL) live on. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("killed child exited").isTrue();
  }

  /** SIGTERM, as a supervisor stops a node; waits for the exit. */
  public int stop(long seconds) throws InterruptedException {
    process.destroy();
    return awaitExit(seconds);
  }

  /** Kills the child if a test left it running. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
