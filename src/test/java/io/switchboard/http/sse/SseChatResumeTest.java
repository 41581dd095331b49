package io.switchboard.http.sse;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3b timeline items across resume on another node: a client that was away while a message
 * was edited, reacted to, the group renamed, a role set, a member removed and a message deleted
 * gets each change once, in seq order, as the live event — over SSE ({@code Last-Event-ID}) and
 * the WebSocket ({@code resume}).
 */
class SseChatResumeTest {

  static final Set<String> TIMELINE = Set.of("message_received", "member_joined", "member_left", "message_edited",
    "message_deleted", "reaction_updated", "conversation_updated");
  static final List<String> CHANGES = List.of("message_edited", "reaction_updated", "reaction_updated",
    "conversation_updated", "conversation_updated", "member_left", "message_deleted", "message_received");

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

  /** The people of one scenario and their group, with its first message. */
  private record Group(String owner, String ownerToken, String bob, String bobToken, String carol, String id,
                       String first) {
  }

  private Group group() {
    String owner = Api.user("owner");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String ownerToken = api[0].token(owner);
    String id = api[0].group(ownerToken, "Resume 3b", bob, carol).getString("id");
    return new Group(owner, ownerToken, bob, api[0].token(bob), carol, id, null);
  }

  /** While bob is away: every kind of change, made on node 1; then a message. */
  private void changes(Group g, String messageId, String last) {
    String c = "/api/conversations/" + g.id();
    String m = c + "/messages/" + messageId;
    List<Integer> statuses = List.of(
      api[1].request(HttpMethod.PATCH, m, g.ownerToken(), new JsonObject().put("content", "edited")).statusCode(),
      api[1].request(HttpMethod.PUT, m + "/reactions/%F0%9F%8E%89", g.ownerToken(), null).statusCode(),
      api[1].request(HttpMethod.DELETE, m + "/reactions/%F0%9F%8E%89", g.ownerToken(), null).statusCode(),
      api[1].request(HttpMethod.PATCH, c, g.ownerToken(), new JsonObject().put("name", "Renamed")).statusCode(),
      api[1].request(HttpMethod.PUT, c + "/members/" + g.bob(), g.ownerToken(), new JsonObject().put("role", "admin"))
        .statusCode(),
      api[1].request(HttpMethod.DELETE, c + "/members/" + g.carol(), g.ownerToken(), null).statusCode(),
      api[1].request(HttpMethod.DELETE, m, g.ownerToken(), null).statusCode());
    assertThat(statuses).containsOnly(200);
    api[1].send(g.ownerToken(), g.id(), last);
  }

  private void assertReplayed(List<JsonObject> envelopes, Group g, String messageId, long firstSeq) {
    List<JsonObject> timeline = envelopes.stream().filter(e -> TIMELINE.contains(e.getString("type")))
      .filter(e -> g.id().equals(e.getJsonObject("payload").getString("conversationId"))).toList();
    assertThat(timeline).extracting(e -> e.getString("type")).containsExactlyElementsOf(CHANGES);
    assertThat(timeline).extracting(e -> e.getJsonObject("payload").getLong("seq"))
      .containsExactly(firstSeq + 1, firstSeq + 2, firstSeq + 3, firstSeq + 4, firstSeq + 5, firstSeq + 6,
        firstSeq + 7, firstSeq + 8);
    JsonObject edited = timeline.get(0).getJsonObject("payload");
    assertThat(edited.getString("messageId")).isEqualTo(messageId);
    // Deleted since: the edit lost its text with the message.
    assertThat(edited.getValue("content")).isNull();
    assertThat(edited.getString("editedAt")).isNotBlank();
    JsonObject on = timeline.get(1).getJsonObject("payload");
    assertThat(on.getString("emoji")).isEqualTo("🎉");
    assertThat(on.getBoolean("on")).isTrue();
    assertThat(on.getString("userId")).isEqualTo(g.owner());
    assertThat(timeline.get(2).getJsonObject("payload").getBoolean("on")).isFalse();
    assertThat(timeline.get(3).getJsonObject("payload").getString("name")).isEqualTo("Renamed");
    assertThat(timeline.get(4).getJsonObject("payload").getJsonArray("members")).containsExactly(
      new JsonObject().put("userId", g.bob()).put("role", "admin"));
    assertThat(timeline.get(5).getJsonObject("payload").getString("userId")).isEqualTo(g.carol());
    assertThat(timeline.get(5).getJsonObject("payload").getString("by")).isEqualTo(g.owner());
    assertThat(timeline.get(6).getJsonObject("payload").getString("messageId")).isEqualTo(messageId);
  }

  @Test
  @DisplayName("SSE: Last-Event-ID on another node replays each new kind of timeline item once, in order, as its event")
  void sseResume() {
    Group g = group();
    SseClient first = clients.sse(port(0), g.bobToken());
    await(first.next("connected"));
    JsonObject m = api[0].send(g.ownerToken(), g.id(), "to change");
    await(first.message("to change"));
    String cursor = first.lastEventId();
    first.close();
    await(first.ended());

    changes(g, m.getString("id"), "after the changes");

    SseClient second = clients.sse(port(1), "/api/events", g.bobToken(), "Last-Event-ID", cursor);
    await(second.message("after the changes"));
    assertReplayed(second.events().stream().map(SseClient.Event::envelope).toList(), g, m.getString("id"),
      m.getLong("seq"));
    assertThat(second.events()).noneMatch(e -> e.type().equals("resync_required"));
  }

  @Test
  @DisplayName("WebSocket: resume {cursor} and ?lastEventId= on another node replay each new kind of timeline item once, in order")
  void wsResume() {
    Group g = group();
    WsClient first = clients.ws(port(0), g.bobToken());
    JsonObject m = api[0].send(g.ownerToken(), g.id(), "to change");
    await(first.message("to change"));
    String cursor = first.cursor();
    first.close();
    await(first.closed());

    changes(g, m.getString("id"), "after the changes");

    WsClient second = clients.ws(port(1), g.bobToken());
    JsonObject ack = await(second.request("resume", new JsonObject().put("cursor", cursor)));
    assertThat(ack.getString("type")).as(ack.encode()).isEqualTo("ack");
    assertThat(ack.getJsonObject("payload").getInteger("replayed")).isEqualTo(CHANGES.size());
    await(second.message("after the changes"));
    assertReplayed(second.received(), g, m.getString("id"), m.getLong("seq"));

    WsClient third = clients.track(await(WsClient.connect(port(1), "/api/ws?token=" + g.bobToken()
      + "&lastEventId=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8))));
    await(third.message("after the changes"));
    assertReplayed(third.received(), g, m.getString("id"), m.getLong("seq"));
    // Live after the replay: a new item arrives once.
    api[0].send(g.ownerToken(), g.id(), "live");
    await(third.message("live"));
    assertThat(third.received().stream().filter(e -> "message_received".equals(e.getString("type")))).hasSize(2);
  }
}
