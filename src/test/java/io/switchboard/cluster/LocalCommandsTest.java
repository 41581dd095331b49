package io.switchboard.cluster;

import io.netty.channel.EventLoop;
import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.TestNodes.TestCluster;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * DESIGN §2, "commands stay on their node": with every role on both nodes, a command is answered
 * by the node that received it. Node 2's event loops are frozen (as a SIGSTOP'd or overloaded
 * process would be, while Hazelcast still lists it); sends through node 1 must not notice.
 */
class LocalCommandsTest {

  static Node node1;
  static Node node2;

  @BeforeAll
  static void cluster() {
    TestCluster cluster = TestCluster.create();
    node1 = cluster.start(new JsonObject(), EnumSet.allOf(Node.Role.class));
    node2 = cluster.start(new JsonObject(), EnumSet.allOf(Node.Role.class));
  }

  @AfterAll
  static void stop() {
    await(node2.stop());
    await(node1.stop());
  }

  @Test
  @DisplayName("with a peer frozen, every send through a healthy node is answered by that node at once")
  void frozenPeerDoesNotStallCommands() throws Exception {
    Api api = new Api(TestNodes.port(node1));
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conv = api.group(token, "Local", Api.user("bob")).getString("id");

    CountDownLatch thaw = new CountDownLatch(1);
    List<CountDownLatch> frozen = new ArrayList<>();
    for (var executor : ((VertxInternal) node2.vertx()).nettyEventLoopGroup()) {
      CountDownLatch stopped = new CountDownLatch(1);
      frozen.add(stopped);
      ((EventLoop) executor).execute(() -> {
        stopped.countDown();
        try {
          thaw.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
    try {
      for (CountDownLatch f : frozen) {
        assertThat(f.await(10, TimeUnit.SECONDS)).as("node 2's event loops frozen").isTrue();
      }
      for (int i = 0; i < 20; i++) {
        long started = System.nanoTime();
        var response = api.post("/api/conversations/" + conv + "/messages", token,
          new JsonObject().put("content", "m" + i).put("clientMessageId", "local-" + i));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(201);
        // A command routed to node 2 would wait for the 15 s request timeout.
        assertThat(millis).as("send %d answered without waiting for node 2", i).isLessThan(5000);
      }
    } finally {
      thaw.countDown();
    }
  }
}
