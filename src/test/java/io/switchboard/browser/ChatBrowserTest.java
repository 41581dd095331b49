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
import org.openqa.selenium.By;
import org.openqa.selenium.WindowType;

import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The demo app in two real Chromium browsers, alice on node A and bob on node B of one cluster:
 * a group chat with typing, presence and "seen by", a video call with Chromium's fake devices,
 * and the operations page. Saves the screenshots the README shows.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ChatBrowserTest {

  private static Node nodeA;
  private static Node nodeB;
  private static Chromium aliceBrowser;
  private static Chromium bobBrowser;
  private static ChatPage alice;
  private static ChatPage bob;
  private static String aliceId;
  private static String bobId;

  @BeforeAll
  static void start() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject config = new JsonObject().put("shutdown", new JsonObject().put("drainSeconds", 2));
    nodeA = cluster.start(config, EnumSet.allOf(Node.Role.class));
    nodeB = cluster.start(config, EnumSet.allOf(Node.Role.class));
    aliceBrowser = Chromium.start();
    bobBrowser = Chromium.start();
    alice = new ChatPage(aliceBrowser);
    bob = new ChatPage(bobBrowser);
    aliceId = Api.user("alice");
    bobId = Api.user("bob");
  }

  @AfterAll
  static void stop() {
    for (AutoCloseable c : new AutoCloseable[] {aliceBrowser, bobBrowser}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // keep stopping the rest
      }
    }
    if (nodeA != null) {
      TestNodes.await(nodeA.stop());
    }
    if (nodeB != null) {
      TestNodes.await(nodeB.stop());
    }
  }

  private static String url(Node node) {
    return "http://127.0.0.1:" + TestNodes.port(node) + "/";
  }

  @Test
  @Order(1)
  @DisplayName("two users on two nodes create a group and chat, with typing, presence and 'seen by'")
  void chat() {
    alice.signIn(url(nodeA), aliceId);
    assertThat(alice.transport()).isEqualTo("websocket");
    assertThat(alice.node()).isEqualTo(nodeA.nodeId());
    alice.createGroup("Team", bobId);
    assertThat(aliceBrowser.driver.findElement(By.id("invite-code")).getText()).hasSize(12);

    bob.signIn(url(nodeB), bobId);
    assertThat(bob.node()).isEqualTo(nodeB.nodeId());
    // bob's first connection makes him online for alice, who shares the group with him
    aliceBrowser.awaitJs("alice sees bob online",
      "return document.querySelector('#members li[data-user=\"' + arguments[0] + '\"]')?.dataset.online === 'true'", bobId);
    bob.open("Team");

    alice.type("hel");
    bobBrowser.awaitJs("bob sees alice typing",
      "return document.getElementById('typing').textContent.includes(arguments[0] + ' is typing')", aliceId);
    alice.send("hello bob");
    bob.awaitText("hello bob");
    bobBrowser.awaitJs("the typing line clears when alice sends",
      "return document.getElementById('typing').textContent === ''");
    aliceBrowser.awaitJs("alice sees that bob has seen it",
      "return document.getElementById('seen-by').textContent === 'Seen by ' + arguments[0]", bobId);

    bob.send("hi alice, all good here");
    alice.awaitText("hi alice, all good here");
    alice.send("great, let's call");
    bob.awaitText("great, let's call");
    assertThat(alice.texts()).containsExactly("hello bob", "hi alice, all good here", "great, let's call");
    assertThat(bob.texts()).containsExactly("hello bob", "hi alice, all good here", "great, let's call");
    aliceBrowser.screenshot("chat.png");
  }

  @Test
  @Order(2)
  @DisplayName("a video call between the two pages connects, shows the remote video, and a hang-up ends it on both")
  void videoCall() {
    aliceBrowser.driver.findElement(By.id("call-video")).click();
    bobBrowser.awaitJs("bob's page rings", "return document.getElementById('call').dataset.state === 'ringing'");
    bobBrowser.await("the accept button", d -> d.findElement(By.id("call-accept"))).click();
    for (Chromium b : new Chromium[] {aliceBrowser, bobBrowser}) {
      b.awaitJs("the peer connection is connected",
        "return window.sbApp.call && window.sbApp.call.pc && window.sbApp.call.pc.connectionState === 'connected'");
      b.awaitJs("the remote video shows frames",
        "const v = document.getElementById('remote-video');"
          + " return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 3");
    }
    aliceBrowser.awaitJs("the call panel says so", "return document.getElementById('call-state').textContent.startsWith('In a call')");
    aliceBrowser.screenshot("call.png");

    aliceBrowser.driver.findElement(By.id("call-hangup")).click();
    for (Chromium b : new Chromium[] {aliceBrowser, bobBrowser}) {
      b.awaitJs("the call has ended", "return document.getElementById('call').dataset.state === 'ended'");
    }
    Object reason = bobBrowser.js("return window.sbApp.call ? window.sbApp.call.endReason : 'gone'");
    assertThat(reason).isIn("ended", "gone");
  }

  @Test
  @Order(3)
  @DisplayName("the operations page shows the cluster: both nodes and the two WebSocket connections")
  void admin() {
    String chat = bobBrowser.driver.getWindowHandle();
    bobBrowser.driver.switchTo().newWindow(WindowType.TAB);
    try {
      bobBrowser.driver.get("http://127.0.0.1:" + TestNodes.port(nodeA) + "/admin");
      bobBrowser.driver.findElement(By.id("api-key")).sendKeys("dev-key");
      bobBrowser.driver.findElement(By.id("key-submit")).click();
      bobBrowser.awaitJs("two members and two connections",
        "return document.getElementById('t-members').textContent === '2/2'"
          + " && document.getElementById('t-connections').textContent === '2'");
      Object wsPerNode = bobBrowser.js(
        "return [...document.querySelectorAll('#nodes tbody tr')].map(r => r.children[2].textContent)");
      assertThat(wsPerNode).asList().containsExactly("1", "1");
      assertThat(bobBrowser.driver.findElement(By.cssSelector("#nodes tfoot td:nth-child(3)")).getText()).isEqualTo("2");
      bobBrowser.screenshot("admin.png");
    } finally {
      bobBrowser.driver.close();
      bobBrowser.driver.switchTo().window(chat);
    }
  }

  @Test
  @Order(4)
  @DisplayName("a reaction, a status and a delete made on one page show on the other (SPEC §3b)")
  void chatFeatures() {
    // The message whose text is arguments[0].
    String li = "const li = [...document.querySelectorAll('#messages li.message')]"
      + ".find(l => l.querySelector('.text').textContent === arguments[0]);";
    bobBrowser.awaitJs("bob's page shows the react button of 'hello bob'",
      li + " return !!(li && li.querySelector('button.react'))", "hello bob");
    bobBrowser.js(li + " li.querySelector('button.react').click()", "hello bob");
    aliceBrowser.awaitJs("alice sees bob's reaction",
      li + " return !!li && [...li.querySelectorAll('button.reaction')].some(b => b.textContent === '👍 1')", "hello bob");

    bobBrowser.js("const s = document.getElementById('my-status'); s.value = 'busy'; s.dispatchEvent(new Event('change'))");
    aliceBrowser.awaitJs("alice sees bob busy",
      "return !!document.querySelector('#members li[data-user=\"' + arguments[0] + '\"]')?.textContent.includes('(busy)')",
      bobId);

    aliceBrowser.js(li + " li.querySelector('button.delete').click()", "great, let's call");
    aliceBrowser.await("the confirm dialog", d -> d.switchTo().alert()).accept();
    bobBrowser.awaitJs("bob sees the message deleted",
      "return [...document.querySelectorAll('#messages li.message.deleted .text')].some(e => e.textContent === 'message deleted')");
    assertThat(bob.texts()).containsExactly("hello bob", "hi alice, all good here", "message deleted");
  }
}
