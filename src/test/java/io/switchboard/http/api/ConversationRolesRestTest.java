package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3b group roles over REST: owner, admin, member; rename, set roles, remove members (a
 * {@code member_left} with {@code by}), rotate the invite code; the last owner; per-user mute.
 */
class ConversationRolesRestTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
  }

  static String conv(String id) {
    return "/api/conversations/" + id;
  }

  static HttpResponse<Buffer> call(HttpMethod method, String path, String token, JsonObject body) {
    return api.request(method, path, token, body);
  }

  static JsonObject get(String token, String id) {
    HttpResponse<Buffer> r = api.get(conv(id), token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject();
  }

  static String role(JsonObject conversation, String userId) {
    return conversation.getJsonArray("members").stream().map(o -> (JsonObject) o)
      .filter(m -> userId.equals(m.getString("userId"))).map(m -> m.getString("role")).findFirst().orElse(null);
  }

  static JsonArray history(String token, String id) {
    HttpResponse<Buffer> r = api.get(conv(id) + "/messages", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("messages");
  }

  @Test
  @DisplayName("owner promotes an admin; the admin renames, removes a member (member_left with by) and rotates the invite")
  void adminPowers() {
    String owner = Api.user("owner");
    String admin = Api.user("admin");
    String member = Api.user("member");
    String ownerToken = api.token(owner);
    String adminToken = api.token(admin);
    String memberToken = api.token(member);
    JsonObject group = api.group(ownerToken, "Roles", admin, member);
    String id = group.getString("id");
    assertThat(role(group, owner)).isEqualTo("owner");

    // A plain member may do none of it.
    assertError(call(HttpMethod.PATCH, conv(id), memberToken, new JsonObject().put("name", "Mine")), 403, "forbidden");
    assertError(call(HttpMethod.PUT, conv(id) + "/members/" + member, memberToken, new JsonObject().put("role", "admin")),
      403, "forbidden");
    assertError(call(HttpMethod.DELETE, conv(id) + "/members/" + admin, memberToken, null), 403, "forbidden");
    assertError(call(HttpMethod.POST, conv(id) + "/invite-code", memberToken, null), 403, "forbidden");
    assertThat(history(ownerToken, id)).isEmpty();

    HttpResponse<Buffer> promoted = call(HttpMethod.PUT, conv(id) + "/members/" + admin, ownerToken,
      new JsonObject().put("role", "admin"));
    assertThat(promoted.statusCode()).as(promoted.bodyAsString()).isEqualTo(200);
    assertThat(promoted.bodyAsJsonObject().getString("role")).isEqualTo("admin");
    assertThat(role(get(memberToken, id), admin)).isEqualTo("admin");
    // An admin does not make owners.
    assertError(call(HttpMethod.PUT, conv(id) + "/members/" + member, adminToken, new JsonObject().put("role", "owner")),
      403, "forbidden");

    HttpResponse<Buffer> renamed = call(HttpMethod.PATCH, conv(id), adminToken, new JsonObject().put("name", "Renamed"));
    assertThat(renamed.statusCode()).as(renamed.bodyAsString()).isEqualTo(200);
    assertThat(renamed.bodyAsJsonObject().getString("name")).isEqualTo("Renamed");
    assertThat(renamed.bodyAsJsonObject().getLong("seq")).isEqualTo(2L);
    assertThat(get(memberToken, id).getString("name")).isEqualTo("Renamed");

    HttpResponse<Buffer> rotated = call(HttpMethod.POST, conv(id) + "/invite-code", adminToken, null);
    assertThat(rotated.statusCode()).as(rotated.bodyAsString()).isEqualTo(200);
    String code = rotated.bodyAsJsonObject().getString("inviteCode");
    assertThat(code).isNotBlank().isNotEqualTo(group.getString("inviteCode"));
    String newcomer = api.token(Api.user("newcomer"));
    assertError(api.post("/api/groups/join", newcomer, new JsonObject().put("inviteCode", group.getString("inviteCode"))),
      404, "not_found");
    assertThat(api.post("/api/groups/join", newcomer, new JsonObject().put("inviteCode", code)).statusCode())
      .isEqualTo(200);

    HttpResponse<Buffer> removed = call(HttpMethod.DELETE, conv(id) + "/members/" + member, adminToken, null);
    assertThat(removed.statusCode()).as(removed.bodyAsString()).isEqualTo(200);
    JsonArray items = history(ownerToken, id);
    JsonObject left = items.getJsonObject(items.size() - 1);
    assertThat(left.getJsonObject("content").getString("event")).isEqualTo("member_left");
    assertThat(left.getJsonObject("content").getString("userId")).isEqualTo(member);
    assertThat(left.getJsonObject("content").getString("by")).isEqualTo(admin);
    assertThat(left.getLong("seq")).isEqualTo(removed.bodyAsJsonObject().getLong("seq"));
    // The removed member reads no more, and cannot be removed twice.
    assertError(api.get(conv(id) + "/messages", memberToken), 403, "forbidden");
    assertError(call(HttpMethod.DELETE, conv(id) + "/members/" + member, adminToken, null), 404, "not_found");
    // An admin does not remove the owner.
    assertError(call(HttpMethod.DELETE, conv(id) + "/members/" + owner, adminToken, null), 403, "forbidden");
  }

  @Test
  @DisplayName("the last owner can neither leave while others stay nor be demoted; after handing over, they can")
  void lastOwner() {
    String owner = Api.user("owner");
    String heir = Api.user("heir");
    String ownerToken = api.token(owner);
    String heirToken = api.token(heir);
    String id = api.group(ownerToken, "Last owner", heir).getString("id");

    assertError(api.post(conv(id) + "/leave", ownerToken, null), 409, "conflict");
    assertError(call(HttpMethod.PUT, conv(id) + "/members/" + owner, ownerToken, new JsonObject().put("role", "member")),
      409, "conflict");
    assertThat(role(get(heirToken, id), owner)).isEqualTo("owner");
    assertThat(history(ownerToken, id)).isEmpty();

    assertThat(call(HttpMethod.PUT, conv(id) + "/members/" + heir, ownerToken, new JsonObject().put("role", "owner"))
      .statusCode()).isEqualTo(200);
    HttpResponse<Buffer> left = api.post(conv(id) + "/leave", ownerToken, null);
    assertThat(left.statusCode()).as(left.bodyAsString()).isEqualTo(200);
    assertThat(role(get(heirToken, id), heir)).isEqualTo("owner");
    // The new last owner, alone, may leave.
    assertThat(api.post(conv(id) + "/leave", heirToken, null).statusCode()).isEqualTo(200);
  }

  @Test
  @DisplayName("roles and renames: wrong types, unknown roles, missing fields, direct conversations, strangers: clear errors, nothing changed")
  void badInput() {
    String owner = Api.user("owner");
    String other = Api.user("other");
    String ownerToken = api.token(owner);
    String strangerToken = api.token(Api.user("stranger"));
    String id = api.group(ownerToken, "Bad input", other).getString("id");
    String direct = api.post("/api/conversations", ownerToken, new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(other)))
      .bodyAsJsonObject().getString("id");

    assertError(call(HttpMethod.PATCH, conv(id), ownerToken, new JsonObject()), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, conv(id), ownerToken, new JsonObject().put("name", 5)), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, conv(id), ownerToken, new JsonObject().put("name", "n".repeat(201))),
      400, "invalid_request");
    assertError(call(HttpMethod.PATCH, conv(id), strangerToken, new JsonObject().put("name", "x")), 403, "forbidden");
    assertError(call(HttpMethod.PATCH, conv(direct), ownerToken, new JsonObject().put("name", "x")), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, conv("00000000-0000-0000-0000-000000000000"), ownerToken,
      new JsonObject().put("name", "x")), 404, "not_found");
    assertError(call(HttpMethod.PUT, conv(id) + "/members/" + other, ownerToken, new JsonObject().put("role", "king")),
      400, "invalid_request");
    assertError(call(HttpMethod.PUT, conv(id) + "/members/" + other, ownerToken, new JsonObject()), 400, "invalid_request");
    assertError(call(HttpMethod.PUT, conv(id) + "/members/nobody-here", ownerToken, new JsonObject().put("role", "admin")),
      404, "not_found");
    assertError(call(HttpMethod.DELETE, conv(id) + "/members/" + owner, ownerToken, null), 400, "invalid_request");
    assertError(call(HttpMethod.PUT, conv(id) + "/mute", ownerToken, new JsonObject().put("muted", "yes")),
      400, "invalid_request");
    assertError(call(HttpMethod.PUT, conv(id) + "/mute", ownerToken, new JsonObject()), 400, "invalid_request");
    assertError(call(HttpMethod.PUT, conv(id) + "/mute", strangerToken, new JsonObject().put("muted", true)),
      403, "forbidden");
    assertError(call(HttpMethod.POST, conv(direct) + "/invite-code", ownerToken, null), 400, "invalid_request");

    JsonObject after = get(ownerToken, id);
    assertThat(after.getString("name")).isEqualTo("Bad input");
    assertThat(role(after, other)).isEqualTo("member");
    assertThat(history(ownerToken, id)).isEmpty();
  }

  @Test
  @DisplayName("mute is a member's own setting, reported in their conversation list only")
  void mute() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Mute", bob).getString("id");

    HttpResponse<Buffer> r = call(HttpMethod.PUT, conv(id) + "/mute", bobToken, new JsonObject().put("muted", true));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.bodyAsJsonObject().getBoolean("muted")).isTrue();

    assertThat(listed(bobToken, id).getBoolean("muted")).isTrue();
    assertThat(listed(aliceToken, id).getBoolean("muted")).isFalse();
    assertThat(call(HttpMethod.PUT, conv(id) + "/mute", bobToken, new JsonObject().put("muted", false)).statusCode())
      .isEqualTo(200);
    assertThat(listed(bobToken, id).getBoolean("muted")).isFalse();
    assertThat(history(bobToken, id)).isEmpty();
  }

  static JsonObject listed(String token, String id) {
    HttpResponse<Buffer> r = api.get("/api/conversations", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("conversations").stream().map(o -> (JsonObject) o)
      .filter(c -> id.equals(c.getString("id"))).findFirst().orElseThrow();
  }
}
