package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code messages.editWindowSeconds}: after it, the sender can no longer edit (but still delete). */
class MessageEditWindowTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.TestCluster.create().start(new JsonObject().put("messages",
      new JsonObject().put("editWindowSeconds", 1)), EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() {
    await(node.stop());
  }

  @Test
  @DisplayName("an edit after the edit window is forbidden and changes nothing; a delete is still allowed")
  void editWindow() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String id = api.group(token, "Window").getString("id");
    JsonObject m = api.send(token, id, "too late to change");
    String path = "/api/conversations/" + id + "/messages/" + m.getString("id");
    // The rule is about time: wait until the window has certainly passed since the message's own time.
    Instant closes = Instant.parse(m.getString("createdAt")).plusSeconds(1).plusMillis(200);
    long waitMs = Duration.between(Instant.now(), closes).toMillis();
    if (waitMs > 0) {
      await(Api.clientVertx().timer(waitMs));
    }

    assertError(api.request(HttpMethod.PATCH, path, token, new JsonObject().put("content", "changed")), 403,
      "forbidden");
    HttpResponse<Buffer> history = api.get("/api/conversations/" + id + "/messages", token);
    assertThat(history.bodyAsJsonObject().getJsonArray("messages")).containsExactly(m);
    assertThat(api.request(HttpMethod.DELETE, path, token, null).statusCode()).isEqualTo(200);
  }
}
