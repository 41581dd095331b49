package io.switchboard.cluster;

import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.SwitchboardProcess;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, the frozen node: two real node processes; one is frozen (SIGSTOP) until the other has
 * dropped it from the cluster, then resumed (SIGCONT). Both must report the whole cluster again
 * within seconds, and typing, topic pushes and messages must cross between them again, for clients
 * that were connected all along.
 */
class SplitBrainTest {

  private static final Logger LOG = LoggerFactory.getLogger(SplitBrainTest.class);

  /** Hazelcast drops a member silent for this minus 3 s (ClusterSetup): 5 s. */
  private static final int NODE_TIMEOUT_SECONDS = 8;
  /** On this shared machine, generous: the merge itself runs every 5 s. */
  private static final long HEAL_BOUND_SECONDS = 45;

  static SwitchboardProcess a;
  static SwitchboardProcess b;
  final Clients clients = new Clients();

  @BeforeAll
  static void start() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject extra = new JsonObject()
      .put("SWITCHBOARD_PRESENCE_NODETIMEOUTSECONDS", NODE_TIMEOUT_SECONDS)
      .put("SWITCHBOARD_CLUSTER_EXPECTEDMEMBERS", 2);
    int portA = TestNodes.freePort();
    int portB = TestNodes.freePort();
    a = SwitchboardProcess.start(portA, cluster.childEnv(portA, extra), List.of());
    b = SwitchboardProcess.start(portB, cluster.childEnv(portB, extra), List.of());
    a.awaitReady(120);
    b.awaitReady(120);
    a.awaitClusterSize(2, 60);
    b.awaitClusterSize(2, 60);
  }

  @AfterEach
  void closeClients() {
    clients.closeAll();
  }

  @AfterAll
  static void stop() {
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
  }

  // One of the two is the Hazelcast master (the older member): freezing each in turn covers a
  // frozen master and a frozen non-master, whichever started first.

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  @DisplayName("node B frozen past failure detection and resumed: both whole again within seconds, and typing, topic pushes and messages cross again")
  void frozenBRejoins() {
    freezeAndHeal(b, a);
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  @DisplayName("node A frozen past failure detection and resumed: both whole again within seconds, and typing, topic pushes and messages cross again")
  void frozenARejoins() {
    freezeAndHeal(a, b);
  }

  /** Clients on both nodes all along; {@code frozen} is stopped until {@code other} drops it, then resumed. */
  private void freezeAndHeal(SwitchboardProcess frozen, SwitchboardProcess other) {
    other.awaitClusterSize(2, 60);
    frozen.awaitClusterSize(2, 60);
    Api apiA = other.api();
    Api apiB = frozen.api();
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = apiA.token(alice);
    String bobToken = apiB.token(bob);
    String conversation = apiA.group(aliceToken, "split", bob).getString("id");
    String topic = "public.split-" + UUID.randomUUID().toString().substring(0, 8);

    // Connected all along: alice on the other node (in the room, on the topic), bob on the frozen one (on the topic).
    WsClient aliceWs = clients.ws(apiA.port(), aliceToken);
    await(aliceWs.request("join_conversation", new JsonObject().put("conversationId", conversation)));
    await(aliceWs.request("subscribe", new JsonObject().put("topics", new JsonArray().add(topic))));
    WsClient bobWs = clients.ws(apiB.port(), bobToken);
    await(bobWs.request("subscribe", new JsonObject().put("topics", new JsonArray().add(topic))));

    // Before: each way, events cross.
    eventually("a push on alice's node reaches bob", () -> push(apiA, topic, "before-a"), () -> bobWs.next("before-a"));
    eventually("a push on bob's node reaches alice", () -> push(apiB, topic, "before-b"), () -> aliceWs.next("before-b"));

    frozen.freeze();
    long frozenAt = System.nanoTime();
    JsonObject alone = other.awaitClusterSize(1, 60);
    long detectedMs = millisSince(frozenAt);
    assertThat(alone.getString("status")).as("alone, below cluster.expectedMembers").isEqualTo("DEGRADED");

    frozen.resume();
    long resumedAt = System.nanoTime();
    JsonObject healedOther = other.awaitClusterSize(2, HEAL_BOUND_SECONDS);
    JsonObject healedFrozen = frozen.awaitClusterSize(2, HEAL_BOUND_SECONDS);
    long healedMs = millisSince(resumedAt);
    assertThat(healedOther.getString("status")).isEqualTo("UP");
    assertThat(healedFrozen.getString("status")).isEqualTo("UP");
    assertThat(healedOther.getString("node")).isNotEqualTo(healedFrozen.getString("node"));

    // After: the consumers registered before the split are found again, each way.
    eventually("a push on alice's node reaches bob", () -> push(apiA, topic, "after-a"), () -> bobWs.next("after-a"));
    eventually("a push on bob's node reaches alice", () -> push(apiB, topic, "after-b"), () -> aliceWs.next("after-b"));
    eventually("bob typing on his node reaches alice", () -> {
      typing(apiB, bobToken, conversation, "stop");
      typing(apiB, bobToken, conversation, "start");
    }, () -> aliceWs.next(e -> "typing_update".equals(e.getString("type"))
      && e.getJsonObject("payload").getJsonArray("userIds").contains(bob), "typing_update with bob"));
    apiB.send(bobToken, conversation, "after the split");
    JsonObject received = await(aliceWs.message("after the split"));
    assertThat(received.getJsonObject("payload").getString("senderId")).isEqualTo(bob);

    LOG.info("frozen node dropped after {} ms; both sides whole again {} ms after SIGCONT", detectedMs, healedMs);
  }

  /**
   * Repeats {@code act} every second until {@code arrived} completes (at most 30 s): after a merge
   * the consumer registrations come back asynchronously, and a push sent before they are back is
   * gone (pushes are not durable).
   */
  private static void eventually(String what, Runnable act, Supplier<Future<?>> arrived) {
    Future<?> arrival = arrived.get();
    Throwable last = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      act.run();
      try {
        arrival.await(1, TimeUnit.SECONDS);
        if (arrival.succeeded()) {
          return;
        }
      } catch (java.util.concurrent.TimeoutException notYet) {
        // act again
      } catch (Exception | AssertionError waitExpired) {
        // the client's own wait (15 s) ran out, or the socket closed: wait afresh
        last = waitExpired;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + ": nothing within 30 s", last);
      }
      if (arrival.failed()) {
        arrival = arrived.get();
      }
    }
  }

  private static void push(Api api, String topic, String event) {
    HttpResponse<Buffer> r = await(api.client().post("/api/publish").putHeader("X-API-Key", "dev-key")
      .sendJsonObject(new JsonObject().put("topic", topic).put("event", event).put("data", new JsonObject())));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  private static void typing(Api api, String token, String conversation, String state) {
    HttpResponse<Buffer> r = api.post("/api/conversations/" + conversation + "/typing", token,
      new JsonObject().put("state", state));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  private static long millisSince(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
  }
}
