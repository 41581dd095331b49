package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Presence between nodes (DESIGN §9): versioned deltas, heartbeats that carry a fingerprint, full
 * state on request; one {@code user_online} per connection however many conversations are shared;
 * no ghosts and no doubles when a node is replaced.
 */
class PresenceGossipTest {

  static TestNodes.TestCluster cluster;
  static Node a;
  static Node b;
  static Api api;
  static final JsonObject CONFIG = new JsonObject().put("presence", new JsonObject().put("nodeTimeoutSeconds", 15))
    .put("calls", new JsonObject().put("dropSeconds", 2));
  static final String SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

  @BeforeAll
  static void start() {
    cluster = TestNodes.TestCluster.create();
    a = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    b = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(a));
  }

  @AfterAll
  static void stop() {
    await(b.stop());
    await(a.stop());
  }

  /** The users among {@code userIds} that {@code node}'s presence replica has online. */
  static Set<String> onlineOn(Node node, String... userIds) {
    JsonObject reply = await(node.vertx().eventBus().<JsonObject>request(Addresses.PRESENCE_QUERY,
      new JsonObject().put("userIds", new JsonArray(List.of(userIds))), new DeliveryOptions().setLocalOnly(true))).body();
    Set<String> online = new java.util.HashSet<>();
    reply.getJsonArray("online").forEach(u -> online.add((String) u));
    return online;
  }

  /** Waits (polling every 50 ms, up to 20 s) until {@code condition} holds. */
  static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("never happened: " + what);
      }
      await(Api.clientVertx().timer(50));
    }
  }

  /** The presence events about {@code userId} a socket received, as "online"/"offline". */
  static List<String> presenceOf(Socket s, String userId) {
    return s.received.stream()
      .filter(e -> Types.USER_ONLINE.equals(e.getString("type")) || Types.USER_OFFLINE.equals(e.getString("type")))
      .filter(e -> userId.equals(e.getJsonObject("payload").getString("userId")))
      .map(e -> Types.USER_ONLINE.equals(e.getString("type")) ? "online" : "offline")
      .toList();
  }

  /** True for a gossip message of {@code type} from {@code node}. */
  static boolean gossip(DeliveryContext<Object> dc, String type, Node node) {
    return Addresses.PRESENCE_GOSSIP.equals(dc.message().address()) && dc.message().body() instanceof JsonObject env
      && type.equals(env.getString("type"))
      && node.nodeId().equals(env.getJsonObject("payload", new JsonObject()).getString("nodeId"));
  }

  @Test
  @DisplayName("a node that missed another's deltas asks for its full state and then knows its users")
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void missedDeltas() {
    String[] users = {Api.user("m1"), Api.user("m2"), Api.user("m3")};
    List<String> tokens = java.util.Arrays.stream(users).map(api::token).toList();
    AtomicBoolean paused = new AtomicBoolean(true);
    List<String> missed = new CopyOnWriteArrayList<>();
    AtomicInteger stateRequests = new AtomicInteger();
    // Node b's presence consumer "pauses": a's deltas and heartbeats never reach it.
    Handler<DeliveryContext<Object>> pause = dc -> {
      if (paused.get() && (gossip(dc, Presence.DELTA, a) || gossip(dc, Presence.HEARTBEAT, a))) {
        if (gossip(dc, Presence.DELTA, a)) {
          ((JsonObject) dc.message().body()).getJsonObject("payload").getJsonArray("joins")
            .forEach(u -> missed.add((String) u));
        }
        return;
      }
      dc.next();
    };
    Handler<DeliveryContext<Object>> count = dc -> {
      if (Addresses.nodePresence(a.nodeId()).equals(dc.message().address())) {
        stateRequests.incrementAndGet();
      }
      dc.next();
    };
    b.vertx().eventBus().addInboundInterceptor(pause);
    a.vertx().eventBus().addInboundInterceptor(count);
    List<Socket> sockets = new ArrayList<>();
    try {
      for (String token : tokens) {
        sockets.add(await(Socket.open(a, token)));
      }
      awaitTrue(() -> missed.containsAll(List.of(users)), "a's delta with the three users went out");
      assertThat(onlineOn(a, users)).containsExactlyInAnyOrder(users);
      assertThat(onlineOn(b, users)).as("b missed the delta").isEmpty();
      int before = stateRequests.get();

      paused.set(false);
      awaitTrue(() -> onlineOn(b, users).size() == users.length, "b converged on a's users");
      assertThat(stateRequests.get()).as("b asked a for its full state").isGreaterThan(before);

      // And it keeps following a's deltas from there.
      await(sockets.remove(0).close());
      awaitTrue(() -> !onlineOn(b, users).contains(users[0]), "b saw the next delta");
      assertThat(onlineOn(b, users)).containsExactlyInAnyOrder(users[1], users[2]);
    } finally {
      b.vertx().eventBus().removeInboundInterceptor(pause);
      a.vertx().eventBus().removeInboundInterceptor(count);
      sockets.forEach(s -> await(s.close()));
    }
  }

  @Test
  @DisplayName("a replica that holds a user its owner does not have is repaired by the owner's next heartbeat")
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void forgedDelta() {
    String ghost = Api.user("ghost");
    AtomicReference<Long> lastVersion = new AtomicReference<>();
    AtomicBoolean forged = new AtomicBoolean();
    // Once two heartbeats in a row show a at rest, b gets a delta a never sent, one version
    // ahead, right behind the second: b takes it, so its replica now differs from a's set.
    Handler<DeliveryContext<Object>> forge = dc -> {
      if (!gossip(dc, Presence.HEARTBEAT, a) || forged.get()) {
        dc.next();
        return;
      }
      long version = ((JsonObject) dc.message().body()).getJsonObject("payload").getLong("version");
      Long previous = lastVersion.getAndSet(version);
      dc.next();
      if (previous != null && previous == version && forged.compareAndSet(false, true)) {
        b.vertx().eventBus().publish(Addresses.PRESENCE_GOSSIP, Envelope.of(Presence.DELTA, new JsonObject()
            .put("nodeId", a.nodeId()).put("version", version + 1)
            .put("joins", new JsonArray().add(ghost)).put("leaves", new JsonArray())).toJson(),
          new DeliveryOptions().setLocalOnly(true));
      }
    };
    assertThat(onlineOn(b, ghost)).isEmpty();
    b.vertx().eventBus().addInboundInterceptor(forge);
    try {
      awaitTrue(() -> onlineOn(b, ghost).contains(ghost), "b took the forged delta");
      awaitTrue(() -> onlineOn(b, ghost).isEmpty(), "b's replica of a repaired");
      assertThat(onlineOn(a, ghost)).isEmpty();
    } finally {
      b.vertx().eventBus().removeInboundInterceptor(forge);
    }
  }

  @Test
  @DisplayName("a user sharing three conversations with another reaches each of their connections with one user_online and one user_offline")
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void onePerConnection() {
    String x = Api.user("x");
    String y = Api.user("y");
    String xToken = api.token(x);
    String yToken = api.token(y);
    for (int i = 0; i < 3; i++) {
      api.group(xToken, "shared-" + i, y);
    }
    Socket y1 = await(Socket.open(a, yToken));
    Socket y2 = await(Socket.open(b, yToken));
    // x connects on both nodes at once, and later leaves both at once: each node sees itself as
    // the first and the last, and still only one of them announces each change.
    var x1Opening = Socket.open(a, xToken);
    var x2Opening = Socket.open(b, xToken);
    Socket x1 = await(x1Opening);
    Socket x2 = await(x2Opening);
    awaitTrue(() -> presenceOf(y1, x).contains("online") && presenceOf(y2, x).contains("online"), "x online at y");
    await(io.vertx.core.Future.all(x1.close(), x2.close()));
    // The offline comes a grace after the online: a second online would long have arrived.
    awaitTrue(() -> presenceOf(y1, x).contains("offline") && presenceOf(y2, x).contains("offline"), "x offline at y");
    assertThat(presenceOf(y1, x)).containsExactly("online", "offline");
    assertThat(presenceOf(y2, x)).containsExactly("online", "offline");
    JsonObject offline = y1.received.stream().filter(e -> Types.USER_OFFLINE.equals(e.getString("type"))).findFirst()
      .orElseThrow().getJsonObject("payload");
    assertThat(offline.fieldNames()).containsExactlyInAnyOrder("userId", "lastSeenAt");
    assertThat(offline.getString("lastSeenAt")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    // Nobody hears about themselves.
    assertThat(presenceOf(x1, x)).isEmpty();
    assertThat(presenceOf(x2, x)).isEmpty();
    assertThat(presenceOf(y1, y)).isEmpty();
    await(y1.close());
    await(y2.close());
  }

  @Test
  @DisplayName("a node replaced by a new one leaves no ghost online users and makes no user online twice")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void replacedNode() {
    String o = Api.user("o");
    String u = Api.user("u");
    String w = Api.user("w");
    String v = Api.user("v");
    String oToken = api.token(o);
    String uToken = api.token(u);
    String wToken = api.token(w);
    String vToken = api.token(v);
    api.group(oToken, "replaced", u, w, v);
    Socket observer = await(Socket.open(a, oToken));
    Node doomed = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    Socket uOnDoomed = await(Socket.open(doomed, uToken));
    Socket wOnDoomed = await(Socket.open(doomed, wToken));
    Socket vOnB = await(Socket.open(b, vToken));
    Socket vOnDoomed = await(Socket.open(doomed, vToken));
    awaitTrue(() -> presenceOf(observer, u).equals(List.of("online")) && presenceOf(observer, w).equals(List.of("online"))
      && presenceOf(observer, v).equals(List.of("online")), "u, w and v online");

    // The node goes away without a goodbye from its gateway; its users go offline unless connected elsewhere.
    await(doomed.vertx().close());
    awaitTrue(() -> presenceOf(observer, u).equals(List.of("online", "offline"))
      && presenceOf(observer, w).equals(List.of("online", "offline")), "u and w offline");

    // Its replacement has a new id, knows at once who is online, and starts clean.
    Node replacement = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    try {
      assertThat(onlineOn(replacement, u, w, v)).containsExactly(v);
      Socket uBack = await(Socket.open(replacement, uToken));
      Socket vAgain = await(Socket.open(replacement, vToken));
      awaitTrue(() -> presenceOf(observer, u).equals(List.of("online", "offline", "online")), "u online again");
      for (Node n : List.of(a, b, replacement)) {
        awaitTrue(() -> onlineOn(n, u, w, v).equals(Set.of(u, v)), "u and v, not w, online on " + n.nodeId());
      }
      await(uBack.close());
      await(vOnB.close());
      await(vAgain.close());
      awaitTrue(() -> presenceOf(observer, u).size() == 4 && presenceOf(observer, v).size() == 2, "u and v offline");
      assertThat(presenceOf(observer, u)).containsExactly("online", "offline", "online", "offline");
      assertThat(presenceOf(observer, w)).containsExactly("online", "offline");
      assertThat(presenceOf(observer, v)).as("v never went offline, nor came online twice").containsExactly("online", "offline");
      for (Node n : List.of(a, b, replacement)) {
        awaitTrue(() -> onlineOn(n, u, w, v).isEmpty(), "nobody online on " + n.nodeId());
      }
    } finally {
      await(observer.close());
      for (Socket gone : List.of(uOnDoomed, wOnDoomed, vOnDoomed)) {
        await(gone.close().otherwiseEmpty());
      }
      await(replacement.stop());
    }
  }

  @Test
  @DisplayName("a call whose party went offline is still dropped when the node that announced it dies before the drop time")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void dropOutlivesTheAnnouncer() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    var direct = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)));
    assertThat(direct.statusCode()).as(direct.bodyAsString()).isEqualTo(201);
    String conv = direct.bodyAsJsonObject().getString("id");
    // The announcing node would wait a minute: only another node's watcher can drop the call in time.
    Node doomed = cluster.start(CONFIG.copy().put("calls", new JsonObject().put("dropSeconds", 60)),
      EnumSet.allOf(Node.Role.class));
    Socket bobOnA = await(Socket.open(a, bobToken));
    Socket aliceOnDoomed = await(Socket.open(doomed, aliceToken));
    awaitTrue(() -> presenceOf(bobOnA, alice).equals(List.of("online")), "alice online at bob");
    String callId = api.post("/api/calls/offer", aliceToken,
      new JsonObject().put("conversationId", conv).put("sdp", SDP).put("media", "audio")).bodyAsJsonObject().getString("callId");
    assertThat(api.post("/api/calls/answer", bobToken, new JsonObject().put("callId", callId).put("sdp", SDP))
      .statusCode()).isEqualTo(200);
    try {
      await(aliceOnDoomed.close());
      awaitTrue(() -> presenceOf(bobOnA, alice).equals(List.of("online", "offline")), "alice offline at bob");
      await(doomed.vertx().close());
      awaitTrue(() -> bobOnA.received.stream().anyMatch(e -> Types.CALL_END.equals(e.getString("type"))
        && new JsonObject().put("callId", callId).put("reason", "dropped").equals(e.getJsonObject("payload"))),
        "the call dropped");
      var row = await(a.context().pool().preparedQuery("SELECT state, end_reason FROM calls WHERE id = $1")
        .execute(io.vertx.sqlclient.Tuple.of(java.util.UUID.fromString(callId)))).iterator().next();
      assertThat(row.getString("state")).isEqualTo("ended");
      assertThat(row.getString("end_reason")).isEqualTo("dropped");
    } finally {
      await(bobOnA.close());
    }
  }
}
