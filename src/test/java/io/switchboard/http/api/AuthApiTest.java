package io.switchboard.http.api;

import io.switchboard.config.ConfigLoader;
import io.switchboard.testing.Api;
import io.switchboard.testing.Jwts;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §1 over REST: where a token may be, which tokens get 401, and the dev-token endpoint. */
class AuthApiTest {

  private static final String CONVERSATIONS = "/api/conversations";

  static Api api;
  static String devSecret;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
    devSecret = ConfigLoader.defaults().getJsonObject("auth").getString("jwtSecret");
  }

  private static void assertUnauthorized(HttpResponse<Buffer> r, String token) {
    assertError(r, 401, "unauthorized");
    assertThat(r.bodyAsString()).doesNotContain(token);
  }

  @Test
  @DisplayName("a garbage bearer token gets 401 unauthorized")
  void garbage() {
    assertUnauthorized(api.get(CONVERSATIONS, "garbage.token.here"), "garbage.token.here");
  }

  @Test
  @DisplayName("no token at all gets 401 unauthorized")
  void noToken() {
    assertError(api.get(CONVERSATIONS, null), 401, "unauthorized");
  }

  @Test
  @DisplayName("an unsigned alg-none token naming a real user gets 401 unauthorized")
  void algNone() {
    String alice = Api.user("alice");
    api.token(alice);
    JsonObject claims = new JsonObject().put("sub", alice).put("exp", Jwts.now() + 600);
    for (String alg : new String[] {"none", "NONE"}) {
      String token = Jwts.unsigned(alg, claims);
      assertUnauthorized(api.get(CONVERSATIONS, token), token);
    }
  }

  @Test
  @DisplayName("an expired token signed with the development secret gets 401 unauthorized")
  void expired() {
    JsonObject claims = new JsonObject().put("sub", Api.user("alice")).put("exp", Jwts.now() - 3600);
    String token = Jwts.hs256(claims, devSecret);
    assertUnauthorized(api.get(CONVERSATIONS, token), token);
  }

  @Test
  @DisplayName("a signed token whose exp is not a number gets 401 unauthorized, not a 500")
  void nonNumericExp() {
    JsonObject claims = new JsonObject().put("sub", Api.user("alice")).put("exp", "tomorrow");
    String token = Jwts.hs256(claims, devSecret);
    assertUnauthorized(api.get(CONVERSATIONS, token), token);
  }

  @Test
  @DisplayName("a token signed with the development secret by the test itself is accepted")
  void selfMadeToken() {
    JsonObject claims = new JsonObject().put("sub", Api.user("alice")).put("exp", Jwts.now() + 600);
    HttpResponse<Buffer> r = api.get(CONVERSATIONS, Jwts.hs256(claims, devSecret));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  @Test
  @DisplayName("a valid token is accepted in Authorization: Bearer, in X-Auth-Token and as ?token=")
  void tokenLocations() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conversationId = api.group(token, "Where tokens go").getString("id");

    HttpResponse<Buffer> bearer = api.get(CONVERSATIONS, token);
    HttpResponse<Buffer> header = await(api.client().get(CONVERSATIONS).putHeader("X-Auth-Token", token).send());
    HttpResponse<Buffer> query = await(api.client().get(CONVERSATIONS).addQueryParam("token", token).send());

    for (HttpResponse<Buffer> r : java.util.List.of(bearer, header, query)) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
      // The list is alice's: the token's sub is who the request is for, wherever the token was.
      assertThat(r.bodyAsJsonObject().getJsonArray("conversations").stream()
        .map(c -> ((JsonObject) c).getString("id")))
        .contains(conversationId);
    }
  }

  @Test
  @DisplayName("a garbage X-Auth-Token or ?token= gets 401, like a garbage bearer token")
  void garbageInOtherLocations() {
    HttpResponse<Buffer> header = await(api.client().get(CONVERSATIONS).putHeader("X-Auth-Token", "garbage").send());
    HttpResponse<Buffer> query = await(api.client().get(CONVERSATIONS).addQueryParam("token", "garbage").send());
    assertError(header, 401, "unauthorized");
    assertError(query, 401, "unauthorized");
  }

  @Test
  @DisplayName("dev-token without userId is 400 invalid_request")
  void devTokenMissingUserId() {
    assertError(api.post("/api/auth/dev-token", null, new JsonObject().put("name", "Alice")), 400, "invalid_request");
  }

  @Test
  @DisplayName("dev-token with a userId containing a space is 400 invalid_request")
  void devTokenUserIdWithSpace() {
    assertError(api.post("/api/auth/dev-token", null, new JsonObject().put("userId", "al ice")), 400, "invalid_request");
  }

  @Test
  @DisplayName("dev-token with a body that is not JSON is 400 invalid_request")
  void devTokenNotJson() {
    assertError(api.postRaw("/api/auth/dev-token", null, "userId=alice"), 400, "invalid_request");
    assertError(api.postRaw("/api/auth/dev-token", null, "[\"alice\"]"), 400, "invalid_request");
    assertError(api.post("/api/auth/dev-token", null, null), 400, "invalid_request");
  }

  @Test
  @DisplayName("dev-token with a userId that is not a string is 400 invalid_request")
  void devTokenUserIdNotString() {
    assertError(api.post("/api/auth/dev-token", null, new JsonObject().put("userId", 42)), 400, "invalid_request");
  }
}
