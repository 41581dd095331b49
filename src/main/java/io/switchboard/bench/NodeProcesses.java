package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Switchboard nodes the bench starts itself, as separate processes of its own jar (or class
 * path): one fresh cluster (its own name and Hazelcast ports) on the database given with
 * {@code --db-url}, generous rate limits, logs and data in a temporary directory. The bench ends
 * them by their process handles, and only them: {@link #kill} is {@code kill -9} of one,
 * {@link #stop} a SIGTERM of each (then SIGKILL after 30 s).
 */
final class NodeProcesses {

  private final RunContext ctx;
  private final List<Process> processes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final List<URI> urls = new ArrayList<>();
  final Path dir;
  /** Kept when the nodes failed to start, so their logs can be read; otherwise removed at stop. */
  private volatile boolean keepLogs;

  private NodeProcesses(RunContext ctx, Path dir) {
    this.ctx = ctx;
    this.dir = dir;
    // A bench ended by a signal must not leave its nodes running.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> processes.forEach(Process::destroyForcibly),
      "bench-nodes-reaper"));
  }

  /**
   * Starts {@code n} nodes one after the other (each waits until the previous one serves, so that
   * JVM and Hazelcast start-ups do not all compete for the cores at once), then waits until each
   * answers {@code /api/health} in a cluster of {@code n}.
   */
  static Future<NodeProcesses> start(RunContext ctx, int n) {
    return start(ctx, n, Map.of());
  }

  /** The same, each node with these {@code SWITCHBOARD_*} variables on top (e.g. shorter heartbeats). */
  static Future<NodeProcesses> start(RunContext ctx, int n, Map<String, String> extraEnv) {
    return ctx.blocking(() -> new NodeProcesses(ctx, Files.createTempDirectory("sb-bench-nodes"))).compose(nodes -> {
      nodes.extraEnv.putAll(extraEnv);
      Future<Void> chain = Future.succeededFuture();
      for (int i = 0; i < n; i++) {
        int k = i;
        chain = chain.compose(v -> ctx.blocking(() -> {
          nodes.launch(k, n);
          return null;
        })).compose(v -> nodes.awaitNode(k, k + 1, System.nanoTime() + START_NANOS));
      }
      return chain.compose(v -> nodes.awaitCluster(n)).map(nodes).recover(t -> {
        nodes.keepLogs = true;
        return nodes.stop().compose(v -> Future.failedFuture(t.getMessage() + " (node logs in " + nodes.dir + ")"));
      });
    }).onSuccess(nodes -> ctx.log("%d node processes (pids %s) serve as one cluster; logs in %s", n, nodes.pids(), nodes.dir));
  }

  /** How long one node may take to start on a busy machine. */
  private static final long START_NANOS = 240_000_000_000L;

  private String cluster;
  private int base;
  private JsonArray members;
  private final Map<String, String> extraEnv = new java.util.LinkedHashMap<>();

  private void launch(int i, int n) throws IOException {
    if (cluster == null) {
      cluster = "sb-bench-" + ctx.runId;
      base = freeRange(n + 2);
      members = new JsonArray();
      for (int p = base; p < base + n + 2; p++) {
        members.add("127.0.0.1:" + p);
      }
    }
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> classPath = new ArrayList<>();
    for (String part : System.getProperty("java.class.path").split(File.pathSeparator)) {
      classPath.add(Path.of(part).toAbsolutePath().toString());
    }
    // A restarted node keeps its HTTP port, so that its clients' addresses stay valid.
    int port = i < urls.size() ? Tokens.port(urls.get(i)) : freePort();
    Path data = Files.createDirectories(dir.resolve("node-" + i));
    ProcessBuilder pb = new ProcessBuilder(javaBin, "-Xmx" + ctx.o.nodeHeap, "-cp",
      String.join(File.pathSeparator, classPath), "io.switchboard.Main")
      .directory(data.toFile())
      .redirectErrorStream(true)
      .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("node-" + i + ".log").toFile()))
      .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    env.put("SWITCHBOARD_HTTP_PORT", String.valueOf(port));
    env.put("SWITCHBOARD_HTTP_HOST", "127.0.0.1");
    if (ctx.o.dbUrl != null) {
      env.put("SWITCHBOARD_DB_URL", ctx.o.dbUrl);
    }
    // A busy machine can take more than the default 5 s to hand out a first connection, and a
    // pool wait that times out while the node starts has been seen to leave the start hanging.
    env.put("SWITCHBOARD_DB_CONNECTTIMEOUTSECONDS", "30");
    env.put("SWITCHBOARD_DATA_DIR", data.toString());
    env.put("SWITCHBOARD_CLUSTER_NAME", cluster);
    env.put("SWITCHBOARD_CLUSTER_PORT", String.valueOf(base));
    env.put("SWITCHBOARD_CLUSTER_MEMBERS", members.encode());
    generousLimits().forEach(e -> env.put("SWITCHBOARD_LIMITS_" + e.getKey().toUpperCase(Locale.ROOT),
      String.valueOf(e.getValue())));
    if (ctx.o.jwtSecret != null) {
      env.put("SWITCHBOARD_AUTH_JWTSECRET", ctx.o.jwtSecret);
    }
    env.putAll(extraEnv);
    Process process = pb.start();
    if (i < processes.size()) {
      processes.set(i, process);
    } else {
      processes.add(process);
      urls.add(URI.create("http://127.0.0.1:" + port));
    }
    ctx.log("starting node %d of %d (pid %d, %s)", i + 1, n, processes.get(i).pid(), urls.get(i));
  }

  /**
   * The bench's load comes from few publishers and many users: rate limits out of the way, and no
   * cap on unauthenticated connections per address (every subscriber comes from one address, and
   * thousands of SockJS sockets are unauthenticated until their register frame is read).
   */
  static JsonObject generousLimits() {
    return new JsonObject()
      .put("messagesPerSecond", 1_000_000).put("messageBurst", 1_000_000)
      .put("commandsPerSecond", 1_000_000).put("commandBurst", 1_000_000)
      .put("unauthenticatedPerIp", 0);
  }

  private Future<Void> awaitCluster(int n) {
    long deadline = System.nanoTime() + START_NANOS;
    List<Future<Void>> all = new ArrayList<>();
    for (int i = 0; i < urls.size(); i++) {
      all.add(awaitNode(i, n, deadline));
    }
    return Future.all(all).mapEmpty();
  }

  private Future<Void> awaitNode(int i, int clusterSize, long deadline) {
    if (!processes.get(i).isAlive()) {
      return Future.failedFuture("node " + i + " exited with " + processes.get(i).exitValue());
    }
    if (System.nanoTime() > deadline) {
      return Future.failedFuture("node " + i + " did not join a cluster of " + clusterSize + " in time");
    }
    return new SbApi(ctx.clients, urls.get(i)).health()
      .compose(h -> h.getInteger("clusterSize", 0) >= clusterSize ? Future.<Void>succeededFuture()
        : Future.failedFuture("cluster of " + h.getInteger("clusterSize")))
      .recover(t -> ctx.vertx.timer(500).compose(v -> awaitNode(i, clusterSize, deadline)));
  }

  List<URI> urls() {
    return List.copyOf(urls);
  }

  List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  /** {@code kill -9} of node {@code i}. */
  void kill(int i) {
    processes.get(i).destroyForcibly();
  }

  /** The process of node {@code i} (a restarted node's newest one). */
  Process process(int i) {
    return processes.get(i);
  }

  /** SIGTERM of node {@code i} (its graceful shutdown), without waiting. */
  void term(int i) {
    processes.get(i).destroy();
  }

  /** {@code kill -STOP} ({@code stop == true}) or {@code kill -CONT} of node {@code i}, by its pid. Blocking. */
  void freeze(int i, boolean stop) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("kill", stop ? "-STOP" : "-CONT", String.valueOf(processes.get(i).pid()))
      .redirectErrorStream(true).start();
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("kill " + (stop ? "-STOP " : "-CONT ") + processes.get(i).pid() + " failed");
    }
  }

  /**
   * Starts node {@code i} again (its process must have exited) on the same HTTP port, data
   * directory and cluster, and waits until it serves in a cluster of {@code n}. Its log goes on.
   */
  Future<Void> restart(int i, int n) {
    return ctx.blocking(() -> {
      if (processes.get(i).isAlive()) {
        throw new IllegalStateException("node " + i + " is still running");
      }
      launch(i, n);
      return null;
    }).compose(v -> awaitNode(i, n, System.nanoTime() + START_NANOS));
  }

  /** True when node {@code i} answers {@code /api/health} in a cluster of {@code n}, once, now. */
  Future<Boolean> healthy(int i, int n) {
    if (!processes.get(i).isAlive()) {
      return Future.succeededFuture(false);
    }
    return new SbApi(ctx.clients, urls.get(i)).health().map(h -> h.getInteger("clusterSize", 0) == n)
      .otherwise(false);
  }

  /** SIGTERM to every node still running, SIGKILL to those still there after 30 s. */
  Future<Void> stop() {
    return ctx.blocking(() -> {
      for (Process p : processes) {
        if (p.isAlive()) {
          p.destroy();
        }
      }
      for (Process p : processes) {
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      if (!keepLogs) {
        deleteTree(dir);
      }
      return null;
    });
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * A free port for a node's HTTP server in 30000–32767, below Linux's ephemeral range: a port
   * the kernel hands out for {@code bind(0)} is also what it hands to the next outgoing connection,
   * and a node restarted after a fault on its own port could find it taken by one of the bench's
   * clients. The kernel chooses only when that range is full.
   */
  private static int freePort() throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = 30_000 + ThreadLocalRandom.current().nextInt(2_768);
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new java.net.InetSocketAddress(port));
        return port;
      } catch (IOException taken) {
        // the next one
      }
    }
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The first of {@code n} consecutive free ports in 20000–29999. */
  private static int freeRange(int n) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int base = 20_000 + ThreadLocalRandom.current().nextInt(1000) * 10;
      boolean free = true;
      for (int p = base; p < base + n && free; p++) {
        try (ServerSocket s = new ServerSocket(p)) {
          s.setReuseAddress(true);
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) {
        return base;
      }
    }
    throw new IOException("no free range of " + n + " ports for the cluster");
  }
}
