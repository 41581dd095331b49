package io.switchboard.chat;

import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §4: several members typing in one conversation, and a typist refreshing. Both change a
 * conversation's typing state that already exists, a compare-and-set the cluster map must
 * support (found by the hostile-input properties: it answered {@code internal}).
 */
class TypingTogetherTest {

  static HttpResponse<Buffer> typing(Api api, String token, String conv) {
    return api.post("/api/conversations/" + conv + "/typing", token, new JsonObject().put("state", "start"));
  }

  @Test
  @DisplayName("two members typing at once are both in typing_update, and a refresh a second later is accepted")
  void typingTogether() {
    Api api = new Api(TestNodes.port(TestNodes.shared()));
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String conv = api.group(aliceToken, "Typing together", bob, carol).getString("id");
    WsClient watcher = await(WsClient.connect(TestNodes.port(TestNodes.shared()), "/api/ws", api.token(carol)));
    try {
      await(watcher.next("connected"));
      assertThat(await(watcher.request(Types.JOIN_CONVERSATION, new JsonObject().put("conversationId", conv)))
        .getString("type")).isEqualTo(Types.CONVERSATION_JOINED);

      HttpResponse<Buffer> first = typing(api, aliceToken, conv);
      assertThat(first.statusCode()).as(first.bodyAsString()).isEqualTo(200);
      HttpResponse<Buffer> second = typing(api, bobToken, conv);
      assertThat(second.statusCode()).as(second.bodyAsString()).isEqualTo(200);

      JsonObject both = await(watcher.next(e -> Types.TYPING_UPDATE.equals(e.getString("type"))
        && e.getJsonObject("payload").getJsonArray("userIds").size() == 2, "typing_update with both typists"));
      assertThat(both.getJsonObject("payload").getJsonArray("userIds").getList()).containsExactlyInAnyOrder(alice, bob);

      // Past the one-second window in which a repeated start changes nothing: this one writes.
      await(Api.clientVertx().timer(1_200));
      HttpResponse<Buffer> refresh = typing(api, aliceToken, conv);
      assertThat(refresh.statusCode()).as(refresh.bodyAsString()).isEqualTo(200);
    } finally {
      watcher.close();
    }
  }
}
