package io.switchboard.gateway;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §8 / STYLE 10: a connection releases everything it held, however it ended. */
class ConnectionReleaseTest {

  static Node node;
  static Api api;
  static WebSocketClient client;

  @BeforeAll
  static void start() {
    node = TestNodes.TestCluster.create().start(new JsonObject(), EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
    client = Api.clientVertx().createWebSocketClient();
  }

  @AfterAll
  static void stop() {
    await(client.close());
    await(node.stop());
  }

  /** Connects, waits for {@code connected}, joins a room and subscribes a topic. */
  private Future<WebSocket> connectBusy(String token, String conversationId) {
    Promise<WebSocket> ready = Promise.promise();
    client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
      .setURI("/api/ws?token=" + token)).onSuccess(ws -> ws.textMessageHandler(text -> {
        JsonObject env = new JsonObject(text);
        switch (env.getString("type")) {
          case Types.CONNECTED -> {
            ws.writeTextMessage(new JsonObject().put("type", Types.JOIN_CONVERSATION).put("requestId", "j")
              .put("payload", new JsonObject().put("conversationId", conversationId)).encode());
          }
          case Types.CONVERSATION_JOINED -> ws.writeTextMessage(new JsonObject().put("type", Types.SUBSCRIBE)
            .put("requestId", "s").put("payload", new JsonObject().put("topics", new JsonArray().add("public.release")))
            .encode());
          case Types.SUBSCRIBED -> ready.tryComplete(ws);
          case Types.ERROR -> ready.tryFail(env.encode());
          default -> {
          }
        }
      })).onFailure(ready::tryFail);
    return ready.future();
  }

  private void awaitReleased(int routes) {
    long deadline = System.currentTimeMillis() + 20_000;
    while (node.gateway().routeCount() != routes || node.context().connections().snapshot().getInteger("ws") != 0) {
      assertThat(System.currentTimeMillis()).as("connections released in time").isLessThan(deadline);
      await(Api.clientVertx().timer(50));
    }
  }

  @Test
  @DisplayName("closed by the client or by the server, connections leave no consumer, subscription or count behind")
  void everyCloseReleasesEverything() {
    int before = node.gateway().routeCount();
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conv = api.group(token, "release").getString("id");
    List<WebSocket> sockets = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      sockets.add(await(connectBusy(token, conv)));
    }
    // user address, broadcast, the conversation and the topic, each once for the whole node
    assertThat(node.gateway().routeCount()).isEqualTo(before + 4);
    assertThat(node.context().connections().snapshot().getInteger("ws")).isEqualTo(6);

    // Half close normally, half vanish without a close handshake.
    for (int i = 0; i < sockets.size(); i++) {
      if (i % 2 == 0) {
        await(sockets.get(i).close());
      } else {
        sockets.get(i).close((short) 4000);
      }
    }
    awaitReleased(before);
  }
}
