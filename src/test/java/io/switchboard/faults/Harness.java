package io.switchboard.faults;

import io.switchboard.testing.Jwts;
import io.switchboard.testing.Netns;
import io.switchboard.testing.NodeProcess;
import io.switchboard.testing.RestartablePostgres;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * The stage of a fault run: one PostgreSQL the test can stop and start, three (or more) node
 * processes of one Hazelcast cluster (a name and port range of {@link TestNodes.TestCluster}),
 * and the client side — a Vert.x instance of its own with one REST client, one SSE client and one
 * WebSocket client shared by every simulated user. Closing it stops everything it started, each
 * process by its own PID.
 */
final class Harness implements AutoCloseable {

  /** The HS256 secret of the nodes; tokens are minted here, no node is asked for them. */
  static final String SECRET = "switchboard-faults-secret-0123456789-abcdefghijklmnop";

  /** The nodes' server-to-server key (SPEC §9 {@code auth.apiKeys}), scope {@code publish}. */
  static final String API_KEY = "faults-publish-key";

  /** What the nodes of every scenario run with, on top of the defaults (SPEC §9 keys). */
  static final Map<String, String> BASE_ENV = Map.ofEntries(
    Map.entry("SWITCHBOARD_AUTH_JWTSECRET", SECRET),
    Map.entry("SWITCHBOARD_AUTH_APIKEYS", "[{\"key\":\"" + API_KEY + "\",\"scopes\":[\"publish\"]}]"),
    // Faster failure detection than the default 15 s: Hazelcast drops a member silent for
    // nodeTimeoutSeconds - 3 s. Not less: on a starved machine live members miss 3 s of heartbeats.
    Map.entry("SWITCHBOARD_PRESENCE_NODETIMEOUTSECONDS", "10"),
    // Heartbeats and pings often enough for clients to notice a frozen node within seconds.
    Map.entry("SWITCHBOARD_SSE_HEARTBEATSECONDS", "2"),
    Map.entry("SWITCHBOARD_WS_PINGSECONDS", "2"),
    Map.entry("SWITCHBOARD_SHUTDOWN_DRAINSECONDS", "5"),
    // Rate limits have their own tests; here they would only add 429s to every figure.
    Map.entry("SWITCHBOARD_LIMITS_MESSAGESPERSECOND", "100000"),
    Map.entry("SWITCHBOARD_LIMITS_MESSAGEBURST", "100000"),
    Map.entry("SWITCHBOARD_LIMITS_COMMANDSPERSECOND", "100000"),
    Map.entry("SWITCHBOARD_LIMITS_COMMANDBURST", "100000"));


  private final RestartablePostgres pg;
  private final List<NodeProcess> nodes;
  private final Path dataDir;
  private final Netns netns;
  private final Vertx vertx;
  private final HttpClient rest;
  private final HttpClient sse;
  private final WebSocketClient ws;
  private final List<String> incidents = java.util.Collections.synchronizedList(new ArrayList<>());

  private Harness(RestartablePostgres pg, List<NodeProcess> nodes, Path dataDir, Netns netns) {
    this.netns = netns;
    this.pg = pg;
    this.nodes = nodes;
    this.dataDir = dataDir;
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(4));
    this.rest = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setConnectTimeout(3000),
      new PoolOptions().setHttp1MaxSize(64));
    this.sse = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(false).setConnectTimeout(3000),
      new PoolOptions().setHttp1MaxSize(50_000));
    this.ws = vertx.createWebSocketClient(new WebSocketClientOptions()
      .setMaxConnections(50_000)
      .setConnectTimeout(3000));
  }

  /**
   * Starts PostgreSQL and {@code count} nodes (in parallel) with {@link #BASE_ENV} and
   * {@code extraEnv}, and waits until every node serves and sees all the others.
   */
  static Harness start(int count, Map<String, String> extraEnv) {
    return start(count, extraEnv, null, RestartablePostgres::url);
  }

  /**
   * {@link #start(int, Map)} with node {@code i} in namespace {@code i} of {@code netns} (when
   * not null): it runs
   * under {@code ip netns exec}, binds HTTP, Hazelcast and the event bus on its namespace address,
   * lists the members' addresses, and reaches PostgreSQL (which also listens on the bridge)
   * through the bridge. The harness owns {@code netns} and deletes it on close.
   */
  static Harness start(int count, Map<String, String> extraEnv, Netns netns) {
    return start(count, extraEnv, netns, netns == null ? RestartablePostgres::url : pg -> pg.url(netns.hostAddress()));
  }

  /**
   * As {@link #start(int, Map)}, with the nodes' {@code db.url} chosen by {@code dbUrl} once
   * PostgreSQL runs: for instance a proxy in front of it ({@code testing/PgProxy}).
   */
  static Harness start(int count, Map<String, String> extraEnv,
                       java.util.function.Function<RestartablePostgres, String> dbUrl) {
    return start(count, extraEnv, null, dbUrl);
  }

  private static Harness start(int count, Map<String, String> extraEnv, Netns netns,
                               java.util.function.Function<RestartablePostgres, String> dbUrl) {
    RestartablePostgres pg;
    try {
      pg = netns == null ? RestartablePostgres.start() : RestartablePostgres.start(netns.hostAddress(), netns.cidr());
    } catch (RuntimeException e) {
      if (netns != null) {
        netns.close();
      }
      throw e;
    }
    List<NodeProcess> nodes = new ArrayList<>();
    Harness h = null;
    try {
      Path dataDir = Files.createTempDirectory("sb-faults-data");
      TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
      List<String> jvm = Arrays.stream(Knobs.nodeJvmArgs().trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
      JsonArray members = new JsonArray();
      if (netns != null) {
        for (int i = 0; i < count; i++) {
          members.add(netns.address(i));
        }
      }
      String url = dbUrl.apply(pg);
      for (int i = 0; i < count; i++) {
        int port = TestNodes.freePort();
        String host = netns == null ? "127.0.0.1" : netns.address(i);
        JsonObject extra = new JsonObject()
          .put("SWITCHBOARD_DB_URL", url)
          .put("SWITCHBOARD_DATA_DIR", dataDir.resolve("node-" + i).toString());
        if (netns != null) {
          extra.put("SWITCHBOARD_HTTP_HOST", host)
            .put("SWITCHBOARD_CLUSTER_HOST", host)
            .put("SWITCHBOARD_CLUSTER_MEMBERS", members.encode());
        }
        BASE_ENV.forEach(extra::put);
        extraEnv.forEach(extra::put);
        nodes.add(new NodeProcess("node-" + i, host, port, cluster.childEnv(port, extra), jvm,
          netns == null ? List.of() : netns.launcher(i)));
      }
      h = new Harness(pg, nodes, dataDir, netns);
      nodes.forEach(NodeProcess::start);
      for (int i = 0; i < count; i++) {
        h.awaitStarted(i);
      }
      return h;
    } catch (IOException e) {
      closeQuietly(h, pg, nodes, netns);
      throw new UncheckedIOException(e);
    } catch (RuntimeException | AssertionError e) {
      closeQuietly(h, pg, nodes, netns);
      throw e;
    }
  }

  private static void closeQuietly(Harness h, RestartablePostgres pg, List<NodeProcess> nodes, Netns netns) {
    if (h != null) {
      h.close();
    } else {
      nodes.forEach(NodeProcess::close);
      pg.close();
      if (netns != null) {
        netns.close();
      }
    }
  }

  Vertx vertx() {
    return vertx;
  }

  HttpClient sseClient() {
    return sse;
  }

  WebSocketClient wsClient() {
    return ws;
  }

  RestartablePostgres postgres() {
    return pg;
  }

  /** The nodes' network namespaces, or null when they run in the test's own. */
  Netns netns() {
    return netns;
  }

  int size() {
    return nodes.size();
  }

  NodeProcess node(int i) {
    return nodes.get(i);
  }

  /** A token for {@code userId}, valid for the whole run. */
  static String token(String userId) {
    return Jwts.hs256(new JsonObject().put("sub", userId).put("name", userId).put("exp", Jwts.now() + 4 * 3600),
      SECRET);
  }

  /**
   * Starts the nodes {@code which} again all at once (after they were killed together) and
   * waits until each serves in a cluster of all.
   */
  void restartTogether(List<Integer> which) {
    which.forEach(i -> nodes.get(i).start());
    which.forEach(this::awaitStarted);
  }

  /** A backend push ({@code POST /api/publish}, SPEC §6) through node {@code node} with {@link #API_KEY}. */
  Future<Reply> publish(int node, JsonObject body, long timeoutMs) {
    NodeProcess n = nodes.get(node);
    RequestOptions o = new RequestOptions()
      .setMethod(HttpMethod.POST)
      .setHost(n.host())
      .setPort(n.httpPort())
      .setURI("/api/publish")
      .setTimeout(timeoutMs)
      .putHeader("X-API-Key", API_KEY)
      .putHeader("Content-Type", "application/json");
    return rest.request(o)
      .compose(req -> req.send(body.toBuffer()))
      .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b, resp.getHeader("Retry-After"))));
  }

  /** Starts node {@code i} again (after a kill or a stop) and waits until it serves in a cluster of all. */
  JsonObject restart(int i) {
    nodes.get(i).start();
    return awaitStarted(i);
  }

  /**
   * Waits for a started node to serve in a cluster of all. One that exits, or is still not
   * serving after {@link Knobs#nodeStartSeconds()}, is started once more, as a supervisor with a
   * startup probe would; the report names it ({@link #incidents()}).
   */
  private JsonObject awaitStarted(int i) {
    NodeProcess n = nodes.get(i);
    Duration bound = Duration.ofSeconds(Knobs.nodeStartSeconds());
    try {
      return n.awaitHealthy(bound, nodes.size());
    } catch (AssertionError failed) {
      incidents.add(n.name() + " (pid " + n.pid() + ") " + (n.isAlive() ? "was not serving " + bound.toSeconds()
        + " s after its start; killed" : "exited while starting") + " and started again. Its log (" + n.log()
        + ") ends:\n" + n.logTail(12));
      n.kill();
      n.start();
      return n.awaitHealthy(bound, nodes.size());
    }
  }

  /**
   * Makes the cluster whole again after a scenario, for the next one to share it: frozen nodes
   * continued, PostgreSQL started if it is down, nodes that are not running started again (all at
   * once), then every node healthy in one cluster of all within {@code timeout}. Forgets the
   * incidents of the scenario before. Fails, saying why, when the cluster cannot be made whole;
   * such a cluster should be closed.
   */
  void heal(Duration timeout) {
    nodes.stream().filter(NodeProcess::isFrozen).forEach(NodeProcess::thaw);
    if (!pg.running()) {
      pg.restart();
    }
    restartTogether(java.util.stream.IntStream.range(0, nodes.size())
      .filter(i -> !nodes.get(i).isAlive())
      .boxed()
      .toList());
    awaitCluster(nodes.size(), timeout);
    incidents.clear();
  }

  /** What the harness had to do that a scenario did not ask for (a node restarted by its startup bound). */
  List<String> incidents() {
    synchronized (incidents) {
      return List.copyOf(incidents);
    }
  }

  /** Waits until every running, unfrozen node answers health 200 and sees {@code size} members. */
  void awaitCluster(int size, Duration timeout) {
    awaitCondition("every running node healthy in a cluster of " + size, timeout, () -> nodes.stream()
      .filter(n -> n.isAlive() && !n.isFrozen())
      .allMatch(n -> {
        JsonObject health = n.health();
        return health != null && health.getInteger("httpStatus") == 200 && health.getInteger("clusterSize", 0) == size;
      }));
  }

  /** One REST answer: status, body and the {@code Retry-After} header. */
  record Reply(int status, Buffer body, String retryAfter) {
    JsonObject json() {
      return body == null || body.length() == 0 ? new JsonObject() : body.toJsonObject();
    }
  }

  /** A REST call to node {@code node}; fails on connection trouble or after {@code timeoutMs} of silence. */
  Future<Reply> call(int node, HttpMethod method, String uri, String token, JsonObject body, long timeoutMs) {
    NodeProcess n = nodes.get(node);
    RequestOptions o = new RequestOptions()
      .setMethod(method)
      .setHost(n.host())
      .setPort(n.httpPort())
      .setURI(uri)
      .setTimeout(timeoutMs)
      .putHeader("Authorization", "Bearer " + token);
    if (body != null) {
      o.putHeader("Content-Type", "application/json");
    }
    return rest.request(o)
      .compose(req -> body == null ? req.send() : req.send(body.toBuffer()))
      .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b, resp.getHeader("Retry-After"))));
  }

  /** Waits for a future from the test thread. */
  static <T> T await(Future<T> f, Duration timeout) {
    try {
      return f.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("timed out after " + timeout, e);
    }
  }

  /**
   * Polls {@code condition} every 100 ms until it holds; fails naming {@code what} after
   * {@code timeout}. Answers how long it took.
   */
  static Duration awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what, e);
      }
    }
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Where the nodes' logs are, for a failure message. */
  String logs() {
    StringBuilder sb = new StringBuilder();
    nodes.forEach(n -> sb.append(n.name()).append(": ").append(n.log()).append('\n'));
    return sb.toString();
  }

  @Override
  public void close() {
    nodes.forEach(n -> {
      if (n.isFrozen()) {
        n.thaw();
      }
      n.close();
    });
    try {
      vertx.close().await(30, TimeUnit.SECONDS);
    } catch (TimeoutException | RuntimeException e) {
      // the client side is going away with the JVM anyway
    }
    pg.close();
    if (netns != null) {
      netns.close();
    }
    try (var files = Files.walk(dataDir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temp directory left behind is harmless
    }
  }
}
