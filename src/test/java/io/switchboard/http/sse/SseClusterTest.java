package io.switchboard.http.sse;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SSE across a three-node cluster: delivery from any node to any node, and resume by cursor
 * (SPEC §7, DESIGN §4) on a node other than the one that served the first stream.
 */
@ExtendWith(VertxExtension.class)
class SseClusterTest {

  static Node[] nodes;
  static Api[] api;

  final Clients clients = new Clients();

  @BeforeAll
  static void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    nodes = new Node[3];
    api = new Api[3];
    for (int i = 0; i < 3; i++) {
      nodes[i] = cluster.start(new JsonObject(), EnumSet.allOf(Node.Role.class));
      api[i] = new Api(TestNodes.port(nodes[i]));
    }
    assertThat(api[0].get("/api/health", null).bodyAsJsonObject().getInteger("clusterSize")).isEqualTo(3);
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

  /** The contents of the message_received events of a stream, in order. */
  static List<String> messages(SseClient sse) {
    return sse.events().stream().filter(e -> e.type().equals("message_received"))
      .map(e -> e.payload().getString("content")).toList();
  }

  /** The types of the events of one conversation on a stream, in order. */
  static List<String> timeline(SseClient sse, String conversationId) {
    return sse.events().stream().filter(e -> conversationId.equals(e.payload().getString("conversationId")))
      .map(e -> e.type().equals("message_received") ? e.payload().getString("content") : e.type()).toList();
  }

  @Test
  @DisplayName("a message posted on node 1 reaches an SSE client on node 2 and a WebSocket client on node 3")
  void crossNode(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String aliceToken = api[0].token(alice);
    String group = api[0].group(aliceToken, "Everywhere", bob, carol).getString("id");
    SseClient sse = clients.sse(port(1), api[1].token(bob));
    WsClient ws = clients.ws(port(2), api[2].token(carol));
    await(sse.next("connected"));
    var checkpoint = ctx.checkpoint(2);
    JsonObject sent = api[0].send(aliceToken, group, "hello from node 1");
    sse.message("hello from node 1").onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.payload().getLong("seq")).isEqualTo(sent.getLong("seq"));
      assertThat(e.id()).endsWith(group.substring(0, 8) + ":" + sent.getLong("seq"));
      checkpoint.flag();
    })));
    ws.message("hello from node 1").onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload").getString("id")).isEqualTo(sent.getString("id"));
      checkpoint.flag();
    })));
  }

  @Test
  @DisplayName("a client reconnecting with Last-Event-ID to another node gets exactly the missed messages, in order, once")
  void resumeOnAnotherNode(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String group = api[0].group(aliceToken, "Resume", bob).getString("id");
    String direct = directConversation(aliceToken, bob);

    SseClient first = clients.sse(port(0), bobToken);
    await(first.next("connected"));
    api[0].send(aliceToken, group, "m1");
    api[0].send(aliceToken, direct, "d1");
    api[0].send(aliceToken, group, "m2");
    await(first.message("m2"));
    await(first.message("d1"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());

    for (String m : List.of("m3", "m4", "m5")) {
      api[2].send(aliceToken, group, m);
    }
    api[2].send(aliceToken, direct, "d2");

    SseClient second = clients.sse(port(1), "/api/events", bobToken, "Last-Event-ID", cursor);
    await(second.next("connected"));
    api[2].send(aliceToken, group, "m6");
    second.message("m6").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(second.events().get(0).type()).isEqualTo("connected");
      assertThat(timeline(second, group)).containsExactly("m3", "m4", "m5", "m6");
      assertThat(timeline(second, direct)).containsExactly("d2");
      assertThat(second.events()).noneMatch(e -> e.type().equals("resync_required"));
      assertThat(last.id()).contains(group.substring(0, 8) + ":6");
      ctx.completeNow();
    })));
  }

  @RepeatedTest(3)
  @DisplayName("a client that reconnects to another node while messages keep coming misses none and sees none twice")
  void resumeUnderTraffic(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String group = api[0].group(aliceToken, "Traffic", bob).getString("id");
    List<String> posted = new ArrayList<>();
    for (int i = 1; i <= 45; i++) {
      posted.add("t" + i);
    }
    SseClient first = clients.sse(port(0), bobToken);
    await(first.next("connected"));
    // One message after the other, from each node in turn (publishes from different nodes can
    // overtake each other), while bob goes away and comes back.
    Future<Void> traffic = Future.succeededFuture();
    for (int i = 0; i < posted.size(); i++) {
      String m = posted.get(i);
      Api from = api[i % 3];
      traffic = traffic.compose(v -> from.client().post("/api/conversations/" + group + "/messages")
        .bearerTokenAuthentication(aliceToken).sendJsonObject(new JsonObject().put("content", m))
        .map(r -> {
          assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
          return null;
        }));
    }
    await(first.message("t10"));
    first.close();
    await(first.ended());
    String cursor = first.lastEventId();
    SseClient second = clients.sse(port(1), "/api/events", bobToken, "Last-Event-ID", cursor);
    Future<Void> done = traffic;
    done.compose(v -> second.message("t45")).onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      List<String> seen = new ArrayList<>(messages(first));
      seen.addAll(messages(second));
      assertThat(seen).containsExactlyElementsOf(posted);
      assertThat(second.events()).noneMatch(e -> e.type().equals("resync_required"));
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("?lastEventId= resumes like the Last-Event-ID header")
  void resumeWithQueryParameter(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String group = api[0].group(aliceToken, "Query", bob).getString("id");

    SseClient first = clients.sse(port(2), bobToken);
    await(first.next("connected"));
    api[0].send(aliceToken, group, "q1");
    await(first.message("q1"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());
    api[0].send(aliceToken, group, "q2");

    SseClient second = clients.sse(port(0),
      "/api/events?lastEventId=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8), bobToken);
    await(second.next("connected"));
    api[0].send(aliceToken, group, "q3");
    second.message("q3").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(messages(second)).containsExactly("q2", "q3");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a user who left a group while disconnected gets the group's events up to their member_left and none after")
  void resumeAcrossLeave(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String group = api[0].group(aliceToken, "Leaving", bob).getString("id");
    String direct = directConversation(aliceToken, bob);

    SseClient first = clients.sse(port(0), bobToken);
    await(first.next("connected"));
    api[0].send(aliceToken, group, "g1");
    await(first.message("g1"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());

    api[0].send(aliceToken, group, "g2");
    var left = api[1].post("/api/conversations/" + group + "/leave", bobToken, new JsonObject());
    assertThat(left.statusCode()).as(left.bodyAsString()).isEqualTo(200);
    api[0].send(aliceToken, group, "g4");

    SseClient second = clients.sse(port(1), "/api/events", bobToken, "Last-Event-ID", cursor);
    await(second.next("connected"));
    // After a live message of the group, one of a conversation bob is still in: it is the barrier.
    api[0].send(aliceToken, group, "g5");
    api[0].send(aliceToken, direct, "after the leave");
    await(second.message("after the leave"));
    ctx.verify(() -> {
      assertThat(timeline(second, group)).containsExactly("g2", "member_left");
      assertThat(second.events()).filteredOn(e -> e.type().equals("member_left")).singleElement()
        .satisfies(e -> assertThat(e.payload().getString("userId")).isEqualTo(bob));
    });

    // The cursor after the leave still resumes (no resync), and brings nothing of the group.
    String afterLeave = second.lastEventId();
    second.close();
    await(second.ended());
    api[0].send(aliceToken, direct, "later");
    SseClient third = clients.sse(port(2), "/api/events", bobToken, "Last-Event-ID", afterLeave);
    await(third.next("connected"));
    api[0].send(aliceToken, direct, "live again");
    third.message("live again").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(third.events()).noneMatch(e -> e.type().equals("resync_required"));
      assertThat(messages(third)).containsExactly("later", "live again");
      assertThat(timeline(third, group)).isEmpty();
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a user who joined a group while disconnected gets its events from their member_joined on")
  void resumeAcrossJoin(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String direct = directConversation(aliceToken, bob);

    SseClient first = clients.sse(port(0), bobToken);
    await(first.next("connected"));
    api[0].send(aliceToken, direct, "d1");
    await(first.message("d1"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());

    JsonObject group = api[0].group(aliceToken, "Joining");
    String groupId = group.getString("id");
    api[0].send(aliceToken, groupId, "before bob");
    var joined = api[2].post("/api/groups/join", bobToken, new JsonObject().put("inviteCode", group.getString("inviteCode")));
    assertThat(joined.statusCode()).as(joined.bodyAsString()).isEqualTo(200);
    api[0].send(aliceToken, groupId, "after bob joined");

    SseClient second = clients.sse(port(1), "/api/events", bobToken, "Last-Event-ID", cursor);
    await(second.next("connected"));
    api[0].send(aliceToken, groupId, "live");
    second.message("live").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(timeline(second, groupId)).containsExactly("member_joined", "after bob joined", "live");
      assertThat(second.events()).filteredOn(e -> e.type().equals("member_joined")).singleElement()
        .satisfies(e -> {
          assertThat(e.payload().getString("userId")).isEqualTo(bob);
          assertThat(e.payload().getLong("seq")).isEqualTo(2L);
          assertThat(e.id()).contains(groupId.substring(0, 8) + ":2");
        });
      assertThat(timeline(second, direct)).isEmpty();
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a group created with the user while they were away is announced before its messages on resume")
  void resumeAcrossCreation(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String direct = directConversation(aliceToken, bob);

    SseClient first = clients.sse(port(2), bobToken);
    await(first.next("connected"));
    api[0].send(aliceToken, direct, "d1");
    await(first.message("d1"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());

    String groupId = api[0].group(aliceToken, "Surprise", bob).getString("id");
    api[0].send(aliceToken, groupId, "welcome");

    SseClient second = clients.sse(port(0), "/api/events", bobToken, "Last-Event-ID", cursor);
    await(second.next("connected"));
    api[0].send(aliceToken, groupId, "live");
    second.message("live").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(timeline(second, groupId)).containsExactly("conversation_created", "welcome", "live");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("an unusable cursor (malformed, unknown, another user's) gets resync_required after connected, then live events")
  void garbageCursor(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String group = api[0].group(aliceToken, "Resync", bob).getString("id");
    String bobToken = api[0].token(bob);
    // Alice's own, valid cursor is no use to bob either.
    SseClient alices = clients.sse(port(0), aliceToken);
    String aliceCursor = await(alices.next("connected")).id();
    var checkpoint = ctx.checkpoint(3);
    for (String cursor : List.of("garbage", "AAAAAAAAAAAAAAAAAAAAAA.deadbeef:3", aliceCursor)) {
      SseClient sse = clients.sse(port(1), "/api/events", bobToken, "Last-Event-ID", cursor);
      sse.next("connected").compose(c -> sse.next("resync_required")).onComplete(ctx.succeeding(resync -> {
        ctx.verify(() -> assertThat(sse.events().get(1)).isSameAs(resync));
        api[0].client().post("/api/conversations/" + group + "/messages").bearerTokenAuthentication(aliceToken)
          .sendJsonObject(new JsonObject().put("content", "after resync " + cursor));
        sse.message("after resync " + cursor).onComplete(ctx.succeeding(m -> checkpoint.flag()));
      }));
    }
  }

  @Test
  @DisplayName("a connected user who leaves a group stops receiving it right after their member_left")
  void liveLeave(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    String group = api[0].group(aliceToken, "Live leave", bob).getString("id");
    String direct = directConversation(aliceToken, bob);
    SseClient sse = clients.sse(port(1), bobToken);
    await(sse.next("connected"));
    api[0].send(aliceToken, group, "before");
    await(sse.message("before"));
    var left = api[2].post("/api/conversations/" + group + "/leave", bobToken, new JsonObject());
    assertThat(left.statusCode()).as(left.bodyAsString()).isEqualTo(200);
    await(sse.next("member_left"));
    api[0].send(aliceToken, group, "not for bob");
    api[0].send(aliceToken, direct, "barrier");
    sse.message("barrier").onComplete(ctx.succeeding(b -> ctx.verify(() -> {
      assertThat(timeline(sse, group)).containsExactly("before", "member_left");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a connected user who joins a group on another node gets every message from their member_joined on, once")
  void liveJoin(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    String bobToken = api[0].token(bob);
    JsonObject group = api[0].group(aliceToken, "Live join");
    String groupId = group.getString("id");
    api[0].send(aliceToken, groupId, "before bob");
    SseClient sse = clients.sse(port(1), bobToken);
    await(sse.next("connected"));
    var joined = api[2].post("/api/groups/join", bobToken, new JsonObject().put("inviteCode", group.getString("inviteCode")));
    assertThat(joined.statusCode()).as(joined.bodyAsString()).isEqualTo(200);
    // Posted at once: they race the new conversation's consumer on bob's node.
    for (String m : List.of("j1", "j2", "j3")) {
      api[0].send(aliceToken, groupId, m);
    }
    sse.message("j3").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(timeline(sse, groupId)).containsExactly("member_joined", "j1", "j2", "j3");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a connected user put in a new group on another node gets conversation_created, then every message, once")
  void liveCreation(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api[0].token(alice);
    SseClient sse = clients.sse(port(2), api[2].token(bob));
    await(sse.next("connected"));
    String groupId = api[0].group(aliceToken, "Live creation", bob).getString("id");
    for (String m : List.of("c1", "c2", "c3")) {
      api[1].send(aliceToken, groupId, m);
    }
    sse.message("c3").onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(timeline(sse, groupId)).containsExactly("conversation_created", "c1", "c2", "c3");
      assertThat(last.id()).contains(groupId.substring(0, 8) + ":3");
      ctx.completeNow();
    })));
  }

  /** A direct conversation between the token's user and {@code other}. */
  static String directConversation(String token, String other) {
    var r = api[0].post("/api/conversations", token,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(other)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject().getString("id");
  }
}
