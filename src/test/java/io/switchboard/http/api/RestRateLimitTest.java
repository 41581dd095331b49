package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §8: the per-user message rate, over REST. */
class RestRateLimitTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.TestCluster.create().start(new JsonObject()
      .put("limits", new JsonObject().put("messagesPerSecond", 1).put("messageBurst", 3)
        .put("commandsPerSecond", 1).put("commandBurst", 10)), EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() {
    await(node.stop());
  }

  @Test
  @DisplayName("a user past the message burst gets 429 rate_limited with Retry-After, and nothing is stored")
  void burstThenRateLimited() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conv = api.group(token, "limits").getString("id");
    for (int i = 0; i < 3; i++) {
      api.send(token, conv, "ok " + i);
    }
    var limited = api.post("/api/conversations/" + conv + "/messages", token, new JsonObject().put("content", "over"));
    Api.assertError(limited, 429, "rate_limited");
    assertThat(Integer.parseInt(limited.getHeader("Retry-After"))).isGreaterThanOrEqualTo(1);
    var history = api.get("/api/conversations/" + conv + "/messages", token).bodyAsJsonObject().getJsonArray("messages");
    assertThat(history).hasSize(3);

    // Another user is not affected by alice's rate (the command burst of 10 covers bob's two calls).
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    String other = api.group(bobToken, "limits-b").getString("id");
    api.send(bobToken, other, "bob is fine");
  }

  @Test
  @DisplayName("a user past the REST command burst gets 429 rate_limited with Retry-After on any route")
  void commandBurst() {
    String carol = Api.user("carol");
    String token = api.token(carol);
    for (int i = 0; i < 10; i++) {
      assertThat(api.get("/api/conversations", token).statusCode()).isEqualTo(200);
    }
    var limited = api.get("/api/conversations", token);
    Api.assertError(limited, 429, "rate_limited");
    assertThat(Integer.parseInt(limited.getHeader("Retry-After"))).isGreaterThanOrEqualTo(1);
    // Someone else is served.
    assertThat(api.get("/api/conversations", api.token(Api.user("dave"))).statusCode()).isEqualTo(200);
  }
}
