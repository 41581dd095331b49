package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.UUID;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §3 "only members see a conversation": 403 for strangers, 404 for conversations that do not exist. */
class RestAccessTest {

  static Api api;
  static String ownerToken;
  static String strangerToken;
  static String groupId;
  static String directId;

  @BeforeAll
  static void setUp() {
    api = new Api(TestNodes.port(TestNodes.shared()));
    String owner = Api.user("owner");
    String member = Api.user("member");
    ownerToken = api.token(owner);
    strangerToken = api.token(Api.user("stranger"));
    groupId = api.group(ownerToken, "Members only", member).getString("id");
    api.send(ownerToken, groupId, "secret");
    HttpResponse<Buffer> direct = api.post("/api/conversations", ownerToken,
      new JsonObject().put("type", "direct").put("participantIds", List.of(member)));
    assertThat(direct.statusCode()).as(direct.bodyAsString()).isEqualTo(201);
    directId = direct.bodyAsJsonObject().getString("id");
    api.send(ownerToken, directId, "private");
  }

  static List<RestRoute> routes() {
    return RestRoute.conversationScoped();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("routes")
  @DisplayName("a user who is not a member of a group is forbidden on every command of it")
  void strangerInGroup(RestRoute route) {
    assertError(route.call(api, groupId, strangerToken), 403, "forbidden");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("routes")
  @DisplayName("a user who is not one of the pair is forbidden on every command of a direct conversation")
  void strangerInDirect(RestRoute route) {
    assertError(route.call(api, directId, strangerToken), 403, "forbidden");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("routes")
  @DisplayName("a random UUID that names no conversation is not_found on every command")
  void unknownUuid(RestRoute route) {
    assertError(route.call(api, UUID.randomUUID().toString(), ownerToken), 404, "not_found");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("routes")
  @DisplayName("a conversation id that is not a UUID is not_found on every command")
  void nonUuid(RestRoute route) {
    assertError(route.call(api, "not-a-uuid", ownerToken), 404, "not_found");
    assertError(route.call(api, "12345", ownerToken), 404, "not_found");
  }

  @Test
  @DisplayName("joining with an invite code no group has is not_found")
  void unknownInviteCode() {
    assertError(api.post("/api/groups/join", strangerToken, new JsonObject().put("inviteCode", "NoSuchCode12")),
      404, "not_found");
  }

  @Test
  @DisplayName("a stranger's refused commands leave the conversation untouched")
  void refusalsChangeNothing() {
    for (RestRoute route : routes()) {
      route.call(api, groupId, strangerToken);
    }
    JsonObject group = api.get("/api/conversations/" + groupId, ownerToken).bodyAsJsonObject();
    assertThat(group.getLong("lastSeq")).isEqualTo(1L);
    assertThat(group.getJsonArray("members")).hasSize(2);
    assertThat(api.get("/api/conversations", strangerToken).bodyAsJsonObject().getJsonArray("conversations"))
      .isEmpty();
  }
}
