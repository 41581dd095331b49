package io.switchboard.browser;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.chromium.ChromiumNetworkConditions;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The demo app when the network is against it, in real Chromium: WebSockets refused by a proxy
 * (the page goes on over SSE, then over long-poll when SSE is held too), and the node the page is
 * connected to stopping while the browser is offline (the page moves to the other node, and shows
 * every message once, in order, the one typed offline included).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailoverBrowserTest {

  private static Node nodeA;
  private static Node nodeB;
  private static boolean nodeAStopped;
  private static BlockingProxy proxy;
  private static Chromium browser;
  private static ChatPage alice;
  private static Api bobApi;
  private static String aliceId;
  private static String bobToken;
  private static String conversationId;

  @BeforeAll
  static void start() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject config = new JsonObject().put("shutdown", new JsonObject().put("drainSeconds", 2));
    nodeA = cluster.start(config, EnumSet.allOf(Node.Role.class));
    nodeB = cluster.start(config, EnumSet.allOf(Node.Role.class));
    proxy = new BlockingProxy(nodeB.vertx(), TestNodes.port(nodeB));
    browser = Chromium.start();
    alice = new ChatPage(browser);
    aliceId = Api.user("alice");
    String bobId = Api.user("bob");
    bobApi = new Api(TestNodes.port(nodeB));
    bobToken = bobApi.token(bobId);
    conversationId = bobApi.group(bobToken, "Failover", aliceId).getString("id");
  }

  @AfterAll
  static void stop() {
    if (browser != null) {
      browser.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (nodeA != null && !nodeAStopped) {
      TestNodes.await(nodeA.stop());
    }
    if (nodeB != null) {
      TestNodes.await(nodeB.stop());
    }
  }

  private static void bobSays(String text) {
    bobApi.send(bobToken, conversationId, text);
  }

  @Test
  @Order(1)
  @DisplayName("WebSockets refused by a proxy: the page works over SSE, then over long-poll when SSE is held too")
  void webSocketsRefused() {
    alice.signIn("http://127.0.0.1:" + proxy.port() + "/?connectTimeoutMs=4000", aliceId);
    assertThat(alice.transport()).isEqualTo("sse");
    alice.open("Failover");
    bobSays("over sse, from bob");
    alice.awaitText("over sse, from bob");
    alice.send("over sse, from alice");
    alice.awaitText("over sse, from alice");

    proxy.holdSse = true;
    proxy.cutStreams();
    browser.awaitJs("the page falls back to long-poll",
      "const c = document.getElementById('conn'); return c.dataset.state === 'live' && c.dataset.transport === 'poll'");
    bobSays("over long-poll, from bob");
    alice.awaitText("over long-poll, from bob");
    alice.send("over long-poll, from alice");
    alice.awaitText("over long-poll, from alice");
    assertThat(alice.texts()).containsExactly("over sse, from bob", "over sse, from alice", "over long-poll, from bob",
      "over long-poll, from alice");
  }

  @Test
  @Order(2)
  @DisplayName("the page's node stops while the browser is offline: it moves to the other node and shows every message once, in order")
  void nodeStopped() {
    String a = "http://127.0.0.1:" + TestNodes.port(nodeA);
    String b = "http://127.0.0.1:" + TestNodes.port(nodeB);
    alice.signIn(a + "/?nodes=" + a + "," + b, aliceId);
    assertThat(alice.transport()).isEqualTo("websocket");
    assertThat(alice.node()).isEqualTo(nodeA.nodeId());
    alice.open("Failover");
    bobSays("before the stop");
    alice.awaitText("before the stop");

    ChromiumNetworkConditions offline = new ChromiumNetworkConditions();
    offline.setOffline(true);
    browser.driver.setNetworkConditions(offline);
    TestNodes.await(nodeA.stop());
    nodeAStopped = true;
    browser.awaitJs("the page knows it is not connected", "return document.getElementById('conn').dataset.state !== 'live'");
    alice.send("typed while offline");
    browser.awaitJs("the offline message waits in the outbox, shown once as pending",
      "return document.querySelectorAll('#messages li.pending').length === 1");
    bobSays("missed 1");
    bobSays("missed 2");

    browser.driver.deleteNetworkConditions();
    browser.awaitJs("the page is live on the other node",
      "const c = document.getElementById('conn'); return c.dataset.state === 'live' && c.dataset.node === arguments[0]",
      nodeB.nodeId());
    alice.awaitText("missed 2");
    alice.awaitText("typed while offline");
    browser.awaitJs("nothing pending", "return document.querySelectorAll('#messages li.pending').length === 0");
    List<String> texts = alice.texts();
    assertThat(new HashSet<>(texts)).as("no message twice: %s", texts).hasSize(texts.size());
    assertThat(texts.subList(texts.size() - 4, texts.size()))
      .containsExactly("before the stop", "missed 1", "missed 2", "typed while offline");
    JsonObject history = bobApi.get("/api/conversations/" + conversationId + "/messages?limit=200", bobToken).bodyAsJsonObject();
    long stored = history.getJsonArray("messages").stream()
      .filter(m -> "typed while offline".equals(((JsonObject) m).getValue("content"))).count();
    assertThat(stored).as("stored once").isEqualTo(1);
  }
}
