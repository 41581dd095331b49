package io.switchboard.gateway;

import io.switchboard.Node;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two holes of DESIGN §4: an item committed whose publish never happened (its node died in
 * between), and events that reach a node out of order. A connection must see neither a gap nor
 * a duplicate.
 */
@ExtendWith(VertxExtension.class)
class LosslessDeliveryTest {

  /** What a node leaves behind when it dies after COMMIT and before publishing. */
  static final String COMMIT_WITHOUT_PUBLISH = """
    WITH s AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
    INSERT INTO messages (conversation_id, seq, id, sender_id, kind, content)
    SELECT $1, s.last_seq, $2, $3, 'text', to_jsonb($4::text) FROM s RETURNING seq""";

  static Node node;
  static Api api;
  WebSocketClient client;

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
  }

  @AfterEach
  void closeClient() {
    if (client != null) {
      await(client.close());
    }
  }

  private WebSocket connect(String token) {
    client = Api.clientVertx().createWebSocketClient();
    return await(client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
      .setURI("/api/ws?token=" + token)));
  }

  private Future<Long> commitWithoutPublish(String conversationId, String senderId, String text) {
    return node.context().pool().preparedQuery(COMMIT_WITHOUT_PUBLISH)
      .execute(Tuple.of(UUID.fromString(conversationId), UUID.randomUUID(), senderId, text))
      .map(rows -> rows.iterator().next().getLong(0));
  }

  @Test
  @DisplayName("an item committed by a node that died before publishing it still reaches a connected client")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void commitThenCrash(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String conv = api.group(aliceToken, "lossless", bob).getString("id");
    api.send(aliceToken, conv, "published");
    WebSocket ws = connect(api.token(bob));
    List<JsonObject> received = new ArrayList<>();
    var orphanArrived = ctx.checkpoint();
    ws.textMessageHandler(text -> {
      JsonObject env = new JsonObject(text);
      if (Types.CONNECTED.equals(env.getString("type"))) {
        // Connected and following: now the item nobody will ever publish.
        commitWithoutPublish(conv, alice, "orphan").onFailure(ctx::failNow);
      } else if (Types.MESSAGE_RECEIVED.equals(env.getString("type"))) {
        received.add(env.getJsonObject("payload"));
        ctx.verify(() -> {
          assertThat(env.getJsonObject("payload").getString("content")).isEqualTo("orphan");
          assertThat(env.getJsonObject("payload").getLong("seq")).isEqualTo(2L);
          assertThat(received).hasSize(1);
        });
        orphanArrived.flag();
      }
    });
  }

  @Test
  @DisplayName("an event that overtakes an earlier one is held until the earlier one is read, so order has no gap")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void outOfOrderIsFilledFromTheDatabase(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String conv = api.group(aliceToken, "ordering", bob).getString("id");
    WebSocket ws = connect(api.token(bob));
    List<Long> seqs = new ArrayList<>();
    var both = ctx.checkpoint(2);
    ws.textMessageHandler(text -> {
      JsonObject env = new JsonObject(text);
      if (Types.CONNECTED.equals(env.getString("type"))) {
        commitWithoutPublish(conv, alice, "first")
          .compose(first -> commitWithoutPublish(conv, alice, "second").map(second -> {
            ctx.verify(() -> assertThat(second).isEqualTo(first + 1));
            return second;
          }))
          .onSuccess(second -> {
            // Only the later item is published: the connection must read the earlier one first.
            JsonObject later = new JsonObject().put("id", UUID.randomUUID().toString()).put("conversationId", conv)
              .put("seq", second).put("senderId", alice).put("kind", "text").put("content", "second");
            Events.publish(node.vertx().eventBus(), Addresses.conversation(conv),
              Envelope.of(Types.MESSAGE_RECEIVED, later).toJson());
          })
          .onFailure(ctx::failNow);
      } else if (Types.MESSAGE_RECEIVED.equals(env.getString("type"))) {
        seqs.add(env.getJsonObject("payload").getLong("seq"));
        ctx.verify(() -> assertThat(List.of(1L, 2L)).startsWith(seqs.toArray(new Long[0])));
        both.flag();
      }
    });
  }
}
