package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RestSmokeTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
  }

  @Test
  @DisplayName("the README walk-through works: dev token, create group, post, list")
  void walkThrough() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    JsonObject group = api.group(token, "Team");
    JsonObject message = api.send(token, group.getString("id"), "hello");
    assertThat(message.getLong("seq")).isEqualTo(1L);
    var list = api.get("/api/conversations/" + group.getString("id") + "/messages", token);
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.bodyAsJsonObject().getJsonArray("messages").getJsonObject(0).getString("content")).isEqualTo("hello");
    var health = api.get("/api/health", null).bodyAsJsonObject();
    assertThat(health.getString("status")).isEqualTo("UP");
    assertThat(health.getInteger("clusterSize")).isEqualTo(1);
  }
}
