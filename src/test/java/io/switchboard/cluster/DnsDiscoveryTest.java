package io.switchboard.cluster;

import io.switchboard.config.SwitchboardConfig;
import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.switchboard.testing.SwitchboardProcess;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code cluster.dns}: nodes find each other through a name that is looked up again at every join
 * and every split-brain search, so tasks that start in any order end up in one cluster; and the
 * clustered event bus on its configured port.
 */
class DnsDiscoveryTest {

  private final List<Vertx> started = new ArrayList<>();
  private final List<SwitchboardProcess> processes = new ArrayList<>();

  @TempDir
  Path dir;

  @AfterEach
  void stop() {
    started.forEach(v -> await(v.close()));
    processes.forEach(SwitchboardProcess::close);
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  @DisplayName("two nodes whose only discovery is the name localhost and their port range form one cluster, the second started long after the first, and talk over their configured event-bus ports")
  void localhostName() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    int busPort = TestNodes.freePort();
    Vertx first = start(cluster, TestNodes.freePort());
    ClusterManager firstManager = ((VertxInternal) first).clusterManager();
    assertThat(firstManager.getNodes()).hasSize(1);
    // Long after: the first has formed a cluster of its own and searched for others once already.
    await(first.timer(TimeUnit.SECONDS.toMillis(ClusterSetup.MERGE_FIRST_RUN_SECONDS + 1)));
    Vertx second = start(cluster, busPort);
    ClusterManager secondManager = ((VertxInternal) second).clusterManager();

    awaitMembers(firstManager, 2);
    awaitMembers(secondManager, 2);
    assertThat(secondManager.getNodeInfo().port()).as("event-bus port of the second").isEqualTo(busPort);
    String address = Addresses.node(secondManager.getNodeId());
    await(second.eventBus().<String>consumer(address, m -> m.reply("pong:" + m.body())).completion());
    // The registration reaches the first node's view of the subscriptions a moment after it
    // completed on the second: ask until it answers (no handlers yet is the only failure allowed).
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String reply = null;
    while (reply == null) {
      try {
        reply = await(first.eventBus().<String>request(address, "ping", new DeliveryOptions().setSendTimeout(5000))).body();
      } catch (RuntimeException e) {
        if (!(e.getCause() instanceof ReplyException r && r.failureType() == ReplyFailure.NO_HANDLERS)
          && !(e instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS)
          || System.nanoTime() > deadline) {
          throw e;
        }
        await(first.timer(100));
      }
    }
    assertThat(reply).isEqualTo("pong:ping");
  }

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("two node processes whose DNS name lists neither of them start as two clusters, and merge once the name lists them")
  void nameLookedUpAgain() throws IOException {
    Path hosts = dir.resolve("hosts");
    // The JVM's own lookups read this file instead of the system's, and cache nothing.
    writeHosts(hosts, "127.0.0.9");
    List<String> jvm = List.of("-Djdk.net.hosts.file=" + hosts, "-Dsun.net.inetaddr.ttl=0");
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    Map<String, String> discovery = Map.of(
      "SWITCHBOARD_CLUSTER_DNS", "sb-peers.test",
      "SWITCHBOARD_CLUSTER_MEMBERS", "[]");
    for (int i = 0; i < 2; i++) {
      int port = TestNodes.freePort();
      Map<String, String> env = new HashMap<>(cluster.childEnv(port, new JsonObject()));
      env.putAll(discovery);
      processes.add(SwitchboardProcess.start(port, env, jvm));
    }
    SwitchboardProcess a = processes.get(0);
    SwitchboardProcess b = processes.get(1);
    a.awaitReady(120);
    b.awaitReady(120);
    JsonObject aloneA = a.awaitClusterSize(1, 10);
    JsonObject aloneB = b.awaitClusterSize(1, 10);
    assertThat(aloneA.getString("node")).isNotEqualTo(aloneB.getString("node"));

    writeHosts(hosts, "127.0.0.1");
    long listedAt = System.nanoTime();
    JsonObject mergedA = a.awaitClusterSize(2, 60);
    JsonObject mergedB = b.awaitClusterSize(2, 60);
    assertThat(mergedA.getString("status")).isEqualTo("UP");
    assertThat(mergedB.getString("status")).isEqualTo("UP");
    LoggerFactory.getLogger(DnsDiscoveryTest.class).info("one cluster {} ms after the name listed both",
      TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - listedAt));

    // One cluster for users too: a message sent on one node reaches a client of the other.
    Api apiA = a.api();
    Api apiB = b.api();
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String conversation = apiA.group(apiA.token(alice), "dns", bob).getString("id");
    WsClient bobWs = await(WsClient.connect(apiB.port(), "/api/ws", apiB.token(bob)));
    try {
      await(bobWs.next("connected"));
      apiA.send(apiA.token(alice), conversation, "found you");
      assertThat(await(bobWs.message("found you")).getJsonObject("payload").getString("senderId")).isEqualTo(alice);
    } finally {
      bobWs.close();
    }
  }

  private Vertx start(TestNodes.TestCluster cluster, int busPort) {
    SwitchboardConfig config = cluster.config(new JsonObject().put("cluster", new JsonObject()
      .put("dns", "localhost")
      .put("members", new JsonArray())
      .put("busPort", busPort)));
    Vertx vertx = cluster.vertx(config);
    started.add(vertx);
    return vertx;
  }

  private static void awaitMembers(ClusterManager manager, int count) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (manager.getNodes().size() != count) {
      assertThat(System.nanoTime()).as("%d members within 60 s, seen %s", count, manager.getNodes()).isLessThan(deadline);
      await(Api.clientVertx().timer(100));
    }
  }

  private static void writeHosts(Path hosts, String address) throws IOException {
    Path next = hosts.resolveSibling("hosts.next");
    Files.writeString(next, "127.0.0.1 localhost\n" + address + " sb-peers.test\n", StandardCharsets.UTF_8);
    Files.move(next, hosts, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
