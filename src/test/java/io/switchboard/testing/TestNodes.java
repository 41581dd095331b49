package io.switchboard.testing;

import io.switchboard.Node;
import io.switchboard.cluster.ClusterSetup;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.metrics.NodeMetrics;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real clustered nodes for tests: each test cluster has its own name and Hazelcast port range,
 * so suites never join each other (or a node a developer runs). The shared one-node cluster is
 * started once per JVM and reused by every REST suite.
 */
public final class TestNodes {

  private static final AtomicInteger NEXT_PORT_BASE = new AtomicInteger(16000 + (int) (ProcessHandle.current().pid() % 400) * 40);
  private static Node shared;

  private TestNodes() {
  }

  /** One node with every role, shared by the suites of this JVM (rate limits lifted). */
  public static synchronized Node shared() {
    if (shared == null) {
      TestCluster cluster = TestCluster.create();
      // Suites hammer it from few users; the rate limits have their own tests on dedicated nodes.
      JsonObject generous = new JsonObject().put("limits", new JsonObject()
        .put("messagesPerSecond", 100_000).put("messageBurst", 100_000)
        .put("commandsPerSecond", 100_000).put("commandBurst", 100_000));
      shared = cluster.start(generous, EnumSet.allOf(Node.Role.class));
    }
    return shared;
  }

  /** The HTTP port of a started node. */
  public static int port(Node node) {
    return node.context().config().http().port();
  }

  /**
   * A free local TCP port for a server, below the kernel's ephemeral range: a port the kernel
   * hands out for {@code bind(0)} is also what it hands to the next outgoing connection, so a node
   * started (or restarted after a kill) on such a port can find it taken by one of the test's own
   * client connections. Ports are taken in turn from {@value #PORTS_FROM}..{@value #PORTS_TO}
   * (below the Hazelcast ranges of {@link TestCluster}), starting at a place of this JVM's own, each
   * checked by a bind; where the ephemeral range reaches down into them, the kernel chooses.
   */
  public static int freePort() {
    if (EPHEMERAL_FROM > PORTS_TO) {
      int span = PORTS_TO - PORTS_FROM;
      for (int tried = 0; tried < span; tried++) {
        int port = PORTS_FROM + Math.floorMod(NEXT_FREE_PORT.getAndIncrement(), span);
        if (bindable(port)) {
          return port;
        }
      }
    }
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static final int PORTS_FROM = 10_000;
  static final int PORTS_TO = 16_000;
  private static final AtomicInteger NEXT_FREE_PORT =
    new AtomicInteger((int) (ProcessHandle.current().pid() * 97 % (PORTS_TO - PORTS_FROM)));
  private static final int EPHEMERAL_FROM = ephemeralFrom();

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new java.net.InetSocketAddress(port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The low end of the kernel's ephemeral port range (Linux), or 0 when it cannot be read. */
  private static int ephemeralFrom() {
    try {
      String range = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
      return Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** A cluster of one name and port range; members are started with {@link #start}. */
  public static final class TestCluster {
    private final String name;
    private final int basePort;

    private TestCluster(String name, int basePort) {
      this.name = name;
      this.basePort = basePort;
    }

    public static TestCluster create() {
      return new TestCluster("sb-test-" + UUID.randomUUID(), NEXT_PORT_BASE.getAndAdd(10));
    }

    /** The configuration of a member: shared test database, a free HTTP port, this cluster. */
    public SwitchboardConfig config(JsonObject overrides) {
      JsonArray members = new JsonArray();
      for (int p = basePort; p < basePort + 5; p++) {
        members.add("127.0.0.1:" + p);
      }
      JsonObject base = new JsonObject()
        .put("http", new JsonObject().put("port", freePort()).put("host", "127.0.0.1"))
        // Every test mints its users' tokens from 127.0.0.1; the throttle has its own test.
        .put("auth", new JsonObject().put("devTokensPerMinute", 1_000_000))
        // Embedded databases of test nodes (db.url overridden to empty) opt out of fsync, as TestDb's.
        .put("db", new JsonObject().put("url", TestDb.url()).put("embeddedDurable", false))
        .put("cluster", new JsonObject()
          .put("name", name)
          .put("port", basePort)
          .put("members", members));
      return ConfigLoader.fromOverrides(base.mergeIn(overrides, true));
    }

    /**
     * The environment for a separate node process ({@code java io.switchboard.Main}) joining this
     * cluster on the shared test database, for kill-a-node tests.
     */
    public java.util.Map<String, String> childEnv(int httpPort, JsonObject extra) {
      SwitchboardConfig c = config(new JsonObject());
      java.util.Map<String, String> env = new java.util.HashMap<>();
      env.put("SWITCHBOARD_HTTP_PORT", String.valueOf(httpPort));
      env.put("SWITCHBOARD_HTTP_HOST", "127.0.0.1");
      env.put("SWITCHBOARD_DB_URL", TestDb.url());
      env.put("SWITCHBOARD_CLUSTER_NAME", name);
      env.put("SWITCHBOARD_CLUSTER_PORT", String.valueOf(c.cluster().port()));
      env.put("SWITCHBOARD_CLUSTER_MEMBERS", new JsonArray(c.cluster().members()).encode());
      env.put("SWITCHBOARD_AUTH_DEVTOKENSPERMINUTE", String.valueOf(c.auth().devTokensPerMinute()));
      extra.forEach(e -> env.put(e.getKey(), String.valueOf(e.getValue())));
      return env;
    }

    /** A clustered Vert.x instance joined to this cluster, with metrics as a production node has. */
    public Vertx vertx(SwitchboardConfig config) {
      return await(Vertx.builder()
        .with(ClusterSetup.withEventBus(NodeMetrics.vertxOptions(config), config.cluster()))
        .withClusterManager(ClusterSetup.clusterManager(config.cluster(), config.presenceNodeTimeoutSeconds()))
        .buildClustered());
    }

    /** Starts a member running {@code roles}. */
    public Node start(JsonObject overrides, Set<Node.Role> roles) {
      SwitchboardConfig config = config(overrides);
      return await(Node.start(vertx(config), config, roles));
    }
  }

  /** Waits for a future from a test thread. */
  public static <T> T await(Future<T> future) {
    try {
      return future.await(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("timed out", e);
    }
  }
}
