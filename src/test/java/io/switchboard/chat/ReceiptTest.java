package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §3/§4 receipts: forward only, coalesced under load, unreadCount right after each change. */
@ExtendWith(VertxExtension.class)
class ReceiptTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
  }

  @Test
  @DisplayName("a burst of mark_read reaches other members coalesced, in increasing order, ending at the highest seq")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void coalesced(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String conv = api.group(aliceToken, "receipts", bob).getString("id");
    for (int i = 0; i < 10; i++) {
      api.send(aliceToken, conv, "m" + i);
    }
    Socket watcher = await(Socket.open(node, aliceToken));
    Socket reader = await(Socket.open(node, api.token(bob)));
    List<Long> seen = new ArrayList<>();
    var done = ctx.checkpoint();
    watcher.onEvent(env -> {
      if (Types.RECEIPT.equals(env.getString("type")) && bob.equals(env.getJsonObject("payload").getString("userId"))) {
        seen.add(env.getJsonObject("payload").getLong("seq"));
        if (seen.get(seen.size() - 1) == 10L) {
          ctx.verify(() -> {
            assertThat(seen).isSorted().doesNotHaveDuplicates().hasSizeLessThan(10);
            watcher.close();
            reader.close();
          });
          done.flag();
        }
      }
    });
    // Marks in a burst, one of them going backwards: the position never moves back.
    Future<JsonObject> chain = Future.succeededFuture();
    for (long seq : new long[] {1, 2, 3, 4, 5, 3, 6, 7, 8, 9, 10}) {
      chain = chain.compose(v -> reader.request(Types.MARK_READ,
        new JsonObject().put("conversationId", conv).put("seq", seq)));
      chain = chain.onSuccess(reply -> ctx.verify(() -> {
        assertThat(reply.getString("type")).isEqualTo(Types.RECEIPT);
        long position = reply.getJsonObject("payload").getLong("seq");
        assertThat(position).isGreaterThanOrEqualTo(Math.min(seq, 5));
        assertThat(reply.getJsonObject("payload").getLong("unreadCount")).isEqualTo(10 - position);
      }));
    }
    chain.onFailure(ctx::failNow);
  }
}
