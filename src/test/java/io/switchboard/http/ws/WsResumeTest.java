package io.switchboard.http.ws;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * WebSocket resume across a two-node cluster: {@code resume {cursor}} on an open socket and
 * {@code ?lastEventId=} on the upgrade, with the cursor a client builds from what it received.
 */
@ExtendWith(VertxExtension.class)
class WsResumeTest {

  static Node[] nodes;
  static Api[] api;

  final Clients clients = new Clients();

  @BeforeAll
  static void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    nodes = new Node[2];
    api = new Api[2];
    for (int i = 0; i < 2; i++) {
      nodes[i] = cluster.start(new JsonObject(), EnumSet.allOf(Node.Role.class));
      api[i] = new Api(TestNodes.port(nodes[i]));
    }
  }

  @AfterAll
  static void stop() {
    for (Node n : nodes) {
      await(n.stop());
    }
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  static int port(int i) {
    return TestNodes.port(nodes[i]);
  }

  /** The contents of the message_received envelopes of a socket, in order. */
  static List<String> messages(WsClient ws) {
    return ws.received().stream().filter(e -> e.getString("type").equals("message_received"))
      .map(e -> e.getJsonObject("payload").getString("content")).toList();
  }

  /** A group of {@code owner} with {@code members}, and a socket of the first member after some messages. */
  private record Setup(String ownerToken, String memberToken, String group, WsClient first) {
  }

  private Setup disconnectedAfter(String... seen) {
    String owner = Api.user("alice");
    String member = Api.user("bob");
    String ownerToken = api[0].token(owner);
    String memberToken = api[0].token(member);
    String group = api[0].group(ownerToken, "Resume", member).getString("id");
    WsClient first = clients.ws(port(0), memberToken);
    for (String m : seen) {
      api[0].send(ownerToken, group, m);
      await(first.message(m));
    }
    first.close();
    await(first.closed());
    return new Setup(ownerToken, memberToken, group, first);
  }

  @Test
  @DisplayName("resume {cursor} on a socket of another node replays exactly the missed messages, then the ack, then live")
  void resumeCommand(VertxTestContext ctx) {
    Setup s = disconnectedAfter("m1", "m2");
    api[1].send(s.ownerToken(), s.group(), "m3");
    api[1].send(s.ownerToken(), s.group(), "m4");
    WsClient second = clients.ws(port(1), s.memberToken());
    JsonObject ack = await(second.request("resume", new JsonObject().put("cursor", s.first().cursor())));
    ctx.verify(() -> {
      assertThat(ack.getString("type")).isEqualTo("ack");
      assertThat(ack.getJsonObject("payload").getInteger("replayed")).isEqualTo(2);
      assertThat(ack.getJsonObject("payload").getString("cursor")).isNotBlank();
      assertThat(messages(second)).containsExactly("m3", "m4");
    });
    api[0].send(s.ownerToken(), s.group(), "m5");
    second.message("m5").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
        assertThat(messages(second)).containsExactly("m3", "m4", "m5");
        assertThat(second.received()).noneMatch(e -> e.getString("type").equals("resync_required"));
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("?lastEventId= on the upgrade to another node replays the missed messages after connected")
  void resumeOnUpgrade(VertxTestContext ctx) {
    Setup s = disconnectedAfter("u1");
    api[0].send(s.ownerToken(), s.group(), "u2");
    api[0].send(s.ownerToken(), s.group(), "u3");
    WsClient second = clients.track(await(WsClient.connect(port(1), "/api/ws?token=" + s.memberToken()
      + "&lastEventId=" + URLEncoder.encode(s.first().cursor(), StandardCharsets.UTF_8))));
    await(second.next("connected"));
    api[1].send(s.ownerToken(), s.group(), "u4");
    second.message("u4").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(second.received().get(0).getString("type")).isEqualTo("connected");
      assertThat(messages(second)).containsExactly("u2", "u3", "u4");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("resume with the socket's own cursor replays nothing and the stream goes on without duplicates")
  void resumeInPlace(VertxTestContext ctx) {
    String owner = Api.user("alice");
    String member = Api.user("bob");
    String ownerToken = api[0].token(owner);
    String group = api[0].group(ownerToken, "In place", member).getString("id");
    WsClient ws = clients.ws(port(1), api[1].token(member));
    api[0].send(ownerToken, group, "p1");
    await(ws.message("p1"));
    JsonObject ack = await(ws.request("resume", new JsonObject().put("cursor", ws.cursor())));
    ctx.verify(() -> assertThat(ack.getJsonObject("payload").getInteger("replayed")).isZero());
    api[0].send(ownerToken, group, "p2");
    ws.message("p2").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
        assertThat(messages(ws)).containsExactly("p1", "p2");
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("resume with an unusable cursor gets resync_required and an ack, and the socket stays live")
  void resumeGarbage(VertxTestContext ctx) {
    String owner = Api.user("alice");
    String member = Api.user("bob");
    String ownerToken = api[0].token(owner);
    String group = api[0].group(ownerToken, "Garbage", member).getString("id");
    WsClient ws = clients.ws(port(0), api[0].token(member));
    JsonObject ack = await(ws.request("resume", new JsonObject().put("cursor", "garbage")));
    ctx.verify(() -> {
      assertThat(ack.getString("type")).isEqualTo("ack");
      assertThat(ws.received()).anyMatch(e -> e.getString("type").equals("resync_required"));
    });
    api[1].send(ownerToken, group, "still live");
    ws.message("still live").onComplete(ctx.succeeding(m -> ctx.completeNow()));
  }

  @Test
  @DisplayName("a connected user who leaves with leave_conversation {membership:true} stops receiving the group at once")
  void liveLeave(VertxTestContext ctx) {
    String owner = Api.user("alice");
    String member = Api.user("bob");
    String ownerToken = api[0].token(owner);
    String group = api[0].group(ownerToken, "Live leave", member).getString("id");
    var direct = api[0].post("/api/conversations", ownerToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(member)));
    String directId = direct.bodyAsJsonObject().getString("id");
    WsClient ws = clients.ws(port(1), api[1].token(member));
    await(ws.request("leave_conversation", new JsonObject().put("conversationId", group).put("membership", true)));
    await(ws.next("member_left"));
    api[0].send(ownerToken, group, "not for bob");
    api[0].send(ownerToken, directId, "barrier");
    ws.message("barrier").onComplete(ctx.succeeding(b -> ctx.verify(() -> {
        // The reply and the event travel separately: either may come first.
        assertThat(ws.received()).filteredOn(e -> group.equals(e.getJsonObject("payload").getString("conversationId")))
          .extracting(e -> e.getString("type"))
          .containsExactlyInAnyOrder("conversation_left", "member_left");
        ctx.completeNow();
      })));
  }
}
