package io.switchboard.stream;

import io.switchboard.Node;
import io.switchboard.store.StreamStore.Membership;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Epochs and cursors the database no longer backs (DESIGN §7): the operator's new epoch makes
 * every stream on every node reconnect and every older cursor resync with {@code reset}; the
 * replay's own checks refuse a position beyond the timeline and a replay with a hole.
 */
class EpochTest {

  static final String ADMIN_KEY = "epoch-admin-key-0123";
  static Node[] nodes = new Node[2];
  static Api[] api = new Api[2];
  final Clients clients = new Clients();

  @BeforeAll
  static void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    // A database of its own: a new epoch tells every node that uses the database to end its
    // streams, and the other tests' nodes share the test database.
    JsonObject keys = new JsonObject().put("auth", new JsonObject().put("apiKeys", new JsonArray()
      .add(new JsonObject().put("key", ADMIN_KEY).put("scopes", new JsonArray().add("admin")))))
      .put("db", new JsonObject().put("url", TestDb.newDatabase()));
    for (int i = 0; i < 2; i++) {
      nodes[i] = cluster.start(keys, EnumSet.allOf(Node.Role.class));
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

  @Test
  @DisplayName("a new epoch: streams on every node reconnect, older cursors get resync_required with reset, newer ones resume")
  void operatorsEpoch() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String conv = api[0].group(api[0].token(alice), "epoch", bob).getString("id");
    api[0].send(api[0].token(alice), conv, "before");
    SseClient sse = clients.sse(api[0].port(), api[0].token(bob));
    WsClient ws = clients.ws(api[1].port(), api[1].token(bob));
    await(sse.next("connected"));
    api[1].send(api[1].token(alice), conv, "one");
    await(sse.message("one"));
    await(ws.message("one"));
    String sseCursor = sse.lastEventId();
    String wsCursor = ws.cursor();

    HttpResponse<Buffer> r = await(api[1].client().request(HttpMethod.POST, "/api/admin/epoch")
      .putHeader("X-API-Key", ADMIN_KEY).putHeader("Content-Type", "application/json")
      .sendBuffer(Buffer.buffer(new JsonObject().put("reason", "a test").encode())));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.bodyAsJsonObject().getString("epoch")).isNotBlank();

    // Both streams, on both nodes, are told to go and come back.
    await(sse.ended());
    await(ws.closed());
    assertThat(ws.closeStatus()).isEqualTo((short) 1001);

    for (int i = 0; i < 2; i++) {
      SseClient again = clients.sse(api[i].port(), "/api/events", api[i].token(bob), "Last-Event-ID", sseCursor);
      await(again.next("connected"));
      assertThat(await(again.next("resync_required")).payload().getBoolean("reset")).isTrue();
      WsClient wsAgain = clients.track(await(WsClient.connect(api[i].port(), "/api/ws?lastEventId=" + wsCursor,
        api[i].token(bob))));
      await(wsAgain.next("connected"));
      assertThat(await(wsAgain.next("resync_required")).getJsonObject("payload").getBoolean("reset")).isTrue();
    }
    // A cursor of the new epoch resumes as before.
    SseClient fresh = clients.sse(api[0].port(), api[0].token(bob));
    await(fresh.next("connected"));
    api[0].send(api[0].token(alice), conv, "two");
    await(fresh.message("two"));
    String cursor = fresh.lastEventId();
    fresh.close();
    api[0].send(api[0].token(alice), conv, "three");
    SseClient resumed = clients.sse(api[1].port(), "/api/events", api[1].token(bob), "Last-Event-ID", cursor);
    await(resumed.message("three"));
    assertThat(resumed.events()).noneMatch(e -> "resync_required".equals(e.type()));
  }

  @Test
  @DisplayName("a position beyond the conversation's last seq is not resumable")
  void beyondTimeline() {
    UUID a = UUID.randomUUID();
    List<Membership> m = List.of(new Membership(a, 0, null, "group", "g", 7));
    assertThat(StreamVerticle.beyondTimeline(Map.of(a.toString(), 7L), m)).isFalse();
    assertThat(StreamVerticle.beyondTimeline(Map.of(a.toString(), 8L), m)).isTrue();
  }

  @Test
  @DisplayName("a replay must start right after each position and have no hole up to the last seq read at open")
  void gapless() {
    UUID a = UUID.randomUUID();
    UUID b = UUID.randomUUID();
    List<Membership> m = List.of(new Membership(a, 0, null, "group", "a", 5),
      new Membership(b, 3, null, "group", "b", 4));
    Map<String, Long> from = Map.of(a.toString(), 3L);
    assertThat(StreamVerticle.gapless(from, m, items(a, 4, 5, b, 3, 4))).isTrue();
    // More items than at open (sent since): fine.
    assertThat(StreamVerticle.gapless(from, m, items(a, 4, 5, 6, b, 3, 4))).isTrue();
    // a starts at 5: item 4 was deleted.
    assertThat(StreamVerticle.gapless(from, m, items(a, 5, b, 3, 4))).isFalse();
    // b (joined at 3) misses its items altogether.
    assertThat(StreamVerticle.gapless(from, m, items(a, 4, 5))).isFalse();
    // A hole in the middle.
    assertThat(StreamVerticle.gapless(from, List.of(new Membership(a, 0, null, "group", "a", 9)),
      items(a, 4, 5, 7, 8, 9))).isFalse();
    // A left conversation is replayed up to the leave only.
    assertThat(StreamVerticle.gapless(Map.of(a.toString(), 3L), List.of(new Membership(a, 0, 4L, "group", "a", 9)),
      items(a, 4))).isTrue();
  }

  /** Replay items: a conversation id, then its seqs, then the next id... */
  private static List<JsonObject> items(Object... spec) {
    List<JsonObject> out = new java.util.ArrayList<>();
    String conv = null;
    for (Object o : spec) {
      if (o instanceof UUID id) {
        conv = id.toString();
      } else {
        out.add(new JsonObject().put("conversationId", conv).put("seq", ((Integer) o).longValue()));
      }
    }
    return out;
  }
}
