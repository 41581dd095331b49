package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.EnumSet;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §4: a typist whose last connection closes stops typing at once, long before the TTL. */
@ExtendWith(VertxExtension.class)
class TypingDisconnectTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    // A TTL far beyond the test's timeout: only the disconnect can clear the typist.
    node = TestNodes.TestCluster.create().start(new JsonObject().put("typing", new JsonObject().put("ttlSeconds", 600)),
      EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() {
    await(node.stop());
  }

  @Test
  @DisplayName("a typist whose last connection closes drops out of typing_update")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void lastConnectionCloses(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String conv = api.group(aliceToken, "typing-disconnect", bob).getString("id");
    Socket watcher = await(Socket.open(node, api.token(bob)));
    await(watcher.request(Types.JOIN_CONVERSATION, new JsonObject().put("conversationId", conv)));
    Socket typist = await(Socket.open(node, aliceToken));
    var cleared = ctx.checkpoint();
    watcher.onEvent(env -> {
      if (!Types.TYPING_UPDATE.equals(env.getString("type"))) {
        return;
      }
      var ids = env.getJsonObject("payload").getJsonArray("userIds");
      if (ids.contains(alice)) {
        typist.close();
      } else {
        ctx.verify(() -> assertThat(ids).isEmpty());
        watcher.close();
        cleared.flag();
      }
    });
    typist.request(Types.TYPING_START, new JsonObject().put("conversationId", conv))
      .onComplete(ctx.succeeding(reply -> ctx.verify(() -> assertThat(reply.getString("type")).isEqualTo(Types.ACK))));
  }
}
