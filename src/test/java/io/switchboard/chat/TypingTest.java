package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §4 typing, with the typist and the watcher on different nodes. */
@ExtendWith(VertxExtension.class)
class TypingTest {

  static Node node1;
  static Node node2;
  static Api api1;
  static Api api2;

  @BeforeAll
  static void cluster() {
    var cluster = TestNodes.TestCluster.create();
    JsonObject config = new JsonObject().put("typing", new JsonObject().put("ttlSeconds", 1));
    node1 = cluster.start(config, EnumSet.allOf(Node.Role.class));
    node2 = cluster.start(config, EnumSet.allOf(Node.Role.class));
    api1 = new Api(TestNodes.port(node1));
    api2 = new Api(TestNodes.port(node2));
  }

  @AfterAll
  static void stop() {
    await(node2.stop());
    await(node1.stop());
  }

  /** A watcher on node 2 joined to the room of a fresh group with a typist. */
  private record Room(String conv, String typist, String typistToken, Socket watcher) {
  }

  private Room room() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api1.token(alice);
    String conv = api1.group(aliceToken, "typing", bob).getString("id");
    Socket watcher = await(Socket.open(node2, api2.token(bob)));
    JsonObject joined = await(watcher.request(Types.JOIN_CONVERSATION, new JsonObject().put("conversationId", conv)));
    assertThat(joined.getString("type")).isEqualTo(Types.CONVERSATION_JOINED);
    return new Room(conv, alice, aliceToken, watcher);
  }

  private static List<JsonArray> typingUpdates(Socket s) {
    List<JsonArray> out = new ArrayList<>();
    s.received.stream().filter(e -> Types.TYPING_UPDATE.equals(e.getString("type")))
      .forEach(e -> out.add(e.getJsonObject("payload").getJsonArray("userIds")));
    return out;
  }

  private void typing(Room room, String state) {
    var r = api1.post("/api/conversations/" + room.conv() + "/typing", room.typistToken(),
      new JsonObject().put("state", state));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  @Test
  @DisplayName("typing started on node 1 reaches a WebSocket on node 2, repeated starts are not rebroadcast, and it expires")
  @Timeout(value = 20, timeUnit = TimeUnit.SECONDS)
  void startRepeatExpire(VertxTestContext ctx) {
    Room room = room();
    var started = ctx.checkpoint();
    var expired = ctx.checkpoint();
    room.watcher().onEvent(env -> {
      if (!Types.TYPING_UPDATE.equals(env.getString("type"))) {
        return;
      }
      List<JsonArray> updates = typingUpdates(room.watcher());
      ctx.verify(() -> {
        if (updates.size() == 1) {
          assertThat(updates.get(0)).containsExactly(room.typist());
          started.flag();
        } else {
          // The three starts gave one update; the next one is the expiry, nothing in between.
          assertThat(updates).hasSize(2);
          assertThat(updates.get(1)).isEmpty();
          room.watcher().close();
          expired.flag();
        }
      });
    });
    typing(room, "start");
    typing(room, "start");
    typing(room, "start");
  }

  @Test
  @DisplayName("a typist started on node 1 and stopped on node 2 leaves the set at once")
  @Timeout(value = 20, timeUnit = TimeUnit.SECONDS)
  void startHereStopThere(VertxTestContext ctx) {
    Room room = room();
    var both = ctx.checkpoint(2);
    room.watcher().onEvent(env -> {
      if (Types.TYPING_UPDATE.equals(env.getString("type"))) {
        List<JsonArray> updates = typingUpdates(room.watcher());
        if (updates.size() == 1) {
          api2.client().post("/api/conversations/" + room.conv() + "/typing")
            .bearerTokenAuthentication(room.typistToken())
            .sendJsonObject(new JsonObject().put("state", "stop"))
            .onComplete(ctx.succeeding(r -> ctx.verify(() -> assertThat(r.statusCode()).isEqualTo(200))));
        } else {
          ctx.verify(() -> assertThat(updates.get(1)).isEmpty());
          room.watcher().close();
        }
        both.flag();
      }
    });
    typing(room, "start");
  }

  @Test
  @DisplayName("sending a message ends the sender's typing in that conversation")
  @Timeout(value = 20, timeUnit = TimeUnit.SECONDS)
  void messageEndsTyping(VertxTestContext ctx) {
    Room room = room();
    var both = ctx.checkpoint(2);
    room.watcher().onEvent(env -> {
      if (Types.TYPING_UPDATE.equals(env.getString("type"))) {
        List<JsonArray> updates = typingUpdates(room.watcher());
        if (updates.size() == 1) {
          api1.client().post("/api/conversations/" + room.conv() + "/messages")
            .bearerTokenAuthentication(room.typistToken())
            .sendJsonObject(new JsonObject().put("content", "done typing"))
            .onComplete(ctx.succeeding(r -> ctx.verify(() -> assertThat(r.statusCode()).isEqualTo(201))));
        } else {
          ctx.verify(() -> assertThat(updates.get(1)).isEmpty());
          room.watcher().close();
        }
        both.flag();
      }
    });
    typing(room, "start");
  }

  @Test
  @DisplayName("only members may type: 403 for others, 404 for unknown conversations, 400 for a bad state")
  void onlyMembers() {
    Room room = room();
    String eve = api1.token(Api.user("eve"));
    Api.assertError(api1.post("/api/conversations/" + room.conv() + "/typing", eve, new JsonObject().put("state", "start")),
      403, "forbidden");
    Api.assertError(api1.post("/api/conversations/" + java.util.UUID.randomUUID() + "/typing", eve,
      new JsonObject().put("state", "start")), 404, "not_found");
    Api.assertError(api1.post("/api/conversations/" + room.conv() + "/typing", room.typistToken(),
      new JsonObject().put("state", "dancing")), 400, "invalid_request");
    Api.assertError(api1.post("/api/conversations/" + room.conv() + "/typing", null,
      new JsonObject().put("state", "start")), 401, "unauthorized");
    await(room.watcher().close());
  }
}
