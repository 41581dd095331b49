package io.switchboard.gateway;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.EnumSet;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §9: a node stopping tells every client to reconnect (WebSocket close 1012) before it goes. */
@ExtendWith(VertxExtension.class)
class GracefulShutdownTest {

  @Test
  @DisplayName("stopping a node sends reconnect to a WebSocket client and closes it with 1012")
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void reconnectOnStop(VertxTestContext ctx) {
    Node node = TestNodes.TestCluster.create().start(new JsonObject(), EnumSet.allOf(Node.Role.class));
    Api api = new Api(TestNodes.port(node));
    String token = api.token(Api.user("leaving"));
    WebSocketClient client = Api.clientVertx().createWebSocketClient();
    var reconnect = ctx.checkpoint();
    var closed = ctx.checkpoint();
    client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
      .setURI("/api/ws?token=" + token)).onComplete(ctx.succeeding(ws -> {
        ws.closeHandler(v -> {
          ctx.verify(() -> assertThat(ws.closeStatusCode()).isEqualTo((short) 1012));
          closed.flag();
          client.close();
        });
        ws.textMessageHandler(text -> {
          String type = new JsonObject(text).getString("type");
          if (Types.CONNECTED.equals(type)) {
            node.stop().onFailure(ctx::failNow);
          } else if (Types.RECONNECT.equals(type)) {
            reconnect.flag();
          }
        });
      }));
  }
}
