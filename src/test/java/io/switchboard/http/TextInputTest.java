package io.switchboard.http;

import io.switchboard.testing.Api;
import io.switchboard.testing.Jwts;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every text input is text: a NUL character (PostgreSQL cannot store it) or an unpaired surrogate
 * (not Unicode; it would be stored as "?") is refused with 400 {@code invalid_request} naming the
 * field, wherever it enters — REST bodies and query parameters, WebSocket envelopes (nested JSON
 * content included), token claims, group names, development-token user ids — and changes nothing.
 */
class TextInputTest {

  static Api api;
  static int port;
  static String alice;
  static String token;
  static String conversationId;

  @BeforeAll
  static void setUp() {
    port = TestNodes.port(TestNodes.shared());
    api = new Api(port);
    alice = Api.user("alice");
    token = api.token(alice);
    conversationId = api.group(token, "Text", Api.user("bob")).getString("id");
    api.send(token, conversationId, "first");
  }

  static long lastSeq() {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + conversationId, token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getLong("lastSeq");
  }

  static void assertRefused(HttpResponse<Buffer> r, String field) {
    Api.assertError(r, 400, "invalid_request");
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains(field);
  }

  /** A token signed with the node's secret, with claims no development token would carry. */
  static String tokenWith(JsonObject claims) {
    String secret = TestNodes.shared().context().config().auth().jwtSecret();
    return Jwts.hs256(claims.put("exp", Jwts.now() + 600), secret);
  }

  @Test
  @DisplayName("REST: message content with a NUL is 400 naming 'content', and nothing is stored")
  void nulInContent() {
    long before = lastSeq();

    assertRefused(api.postRaw("/api/conversations/" + conversationId + "/messages", token,
      "{\"content\":\"a\\u0000b\"}"), "content");

    assertThat(lastSeq()).isEqualTo(before);
  }

  @Test
  @DisplayName("REST: message content with an unpaired surrogate is 400, not stored as '?'")
  void loneSurrogateInContent() {
    long before = lastSeq();

    assertRefused(api.postRaw("/api/conversations/" + conversationId + "/messages", token,
      "{\"content\":\"\\ud800x\"}"), "content");
    assertRefused(api.postRaw("/api/conversations/" + conversationId + "/messages", token,
      "{\"content\":\"x\\udc00\"}"), "content");

    assertThat(lastSeq()).isEqualTo(before);
  }

  @Test
  @DisplayName("REST: a NUL deep inside JSON content is 400 naming the path to it")
  void nulInNestedContent() {
    long before = lastSeq();

    assertRefused(api.postRaw("/api/conversations/" + conversationId + "/messages", token,
      "{\"content\":{\"card\":{\"lines\":[\"ok\",\"bad\\u0000\"]}}}"), "content.card.lines[1]");
    assertRefused(api.postRaw("/api/conversations/" + conversationId + "/messages", token,
      "{\"content\":{\"k\\u0000\":1}}"), "content");

    assertThat(lastSeq()).isEqualTo(before);
  }

  @Test
  @DisplayName("REST: a pair of surrogates (an emoji) is text and is stored as sent")
  void pairedSurrogatesAccepted() {
    JsonObject sent = api.send(token, conversationId, "smile \uD83D\uDE00");

    assertThat(sent.getString("content")).isEqualTo("smile \uD83D\uDE00");
  }

  @Test
  @DisplayName("REST: a group name with a NUL or an unpaired surrogate is 400 naming 'name'")
  void badGroupName() {
    assertRefused(api.postRaw("/api/groups", token, "{\"name\":\"team\\u0000\"}"), "name");
    assertRefused(api.postRaw("/api/groups", token, "{\"name\":\"\\ud83d team\"}"), "name");
  }

  @Test
  @DisplayName("REST: a query parameter with a NUL is 400 naming it")
  void nulInQueryParameter() {
    assertRefused(api.get("/api/events?rooms=" + conversationId + "%00", token), "rooms");
    assertRefused(api.get("/api/events/poll?timeout=1&cursor=x%00y", token), "cursor");
  }

  @Test
  @DisplayName("REST: a malformed %-escape in the query string is 400, not 500")
  void malformedQueryEscape() {
    Api.assertError(api.get("/api/conversations/" + conversationId + "/messages?limit=%zz", token),
      400, "invalid_request");
  }

  @Test
  @DisplayName("a token whose 'name' claim has a NUL is 400 naming it, and cannot break its user's requests")
  void nulInNameClaim() {
    String bad = tokenWith(new JsonObject().put("sub", Api.user("nul-name")).put("name", "Eve\u0000"));

    assertRefused(api.post("/api/groups", bad, new JsonObject().put("name", "Eve's group")), "name");
    assertRefused(api.get("/api/conversations", bad), "name");
  }

  @Test
  @DisplayName("a token whose 'sub' claim has a NUL is 400 naming it")
  void nulInSubClaim() {
    String bad = tokenWith(new JsonObject().put("sub", "eve\u0000x"));

    assertRefused(api.get("/api/conversations", bad), "sub");
  }

  @Test
  @DisplayName("a development token is refused for a user id or name that is not text")
  void devTokenText() {
    assertRefused(api.postRaw("/api/auth/dev-token", null, "{\"userId\":\"eve\\ud800\"}"), "userId");
    assertRefused(api.postRaw("/api/auth/dev-token", null, "{\"userId\":\"eve\",\"name\":\"E\\u0000\"}"), "name");
  }

  @Test
  @DisplayName("WebSocket: send_message with a NUL in its content is an error naming 'content', with its requestId")
  void webSocketContent() {
    long before = lastSeq();
    WsClient ws = await(WsClient.connect(port, "/api/ws", token));
    try {
      await(ws.next("connected"));

      JsonObject nul = await(ws.request("send_message",
        new JsonObject().put("conversationId", conversationId).put("content", "a\u0000b")));
      assertThat(nul.getString("type")).isEqualTo("error");
      assertThat(nul.getJsonObject("payload").getString("code")).isEqualTo("invalid_request");
      assertThat(nul.getJsonObject("payload").getString("message")).contains("content");

      // An unpaired surrogate can only travel as a JSON escape: written by hand.
      await(ws.sendText("{\"type\":\"send_message\",\"requestId\":\"lone\",\"payload\":{\"conversationId\":\""
        + conversationId + "\",\"content\":{\"text\":\"\\udfff\"}}}"));
      JsonObject lone = await(ws.reply("lone"));
      assertThat(lone.getString("type")).isEqualTo("error");
      assertThat(lone.getJsonObject("payload").getString("code")).isEqualTo("invalid_request");
      assertThat(lone.getJsonObject("payload").getString("message")).contains("content.text");

      JsonObject group = await(ws.request("create_group", new JsonObject().put("name", "\u0000")));
      assertThat(group.getJsonObject("payload").getString("code")).isEqualTo("invalid_request");
      assertThat(group.getJsonObject("payload").getString("message")).contains("name");

      // The socket is still usable.
      assertThat(await(ws.request("ping", new JsonObject())).getString("type")).isEqualTo("pong");
    } finally {
      ws.close();
    }
    assertThat(lastSeq()).isEqualTo(before);
  }

  @Test
  @DisplayName("WebSocket: a token whose 'name' claim has a NUL gets auth_error invalid_request naming it")
  void webSocketNameClaim() {
    String bad = tokenWith(new JsonObject().put("sub", Api.user("nul-ws")).put("name", "Mallory\u0000"));
    WsClient ws = await(WsClient.connect(port, "/api/ws", bad));
    try {
      JsonObject refused = await(ws.next("auth_error"));

      assertThat(refused.getJsonObject("payload").getString("code")).isEqualTo("invalid_request");
      assertThat(refused.getJsonObject("payload").getString("message")).contains("name");
      await(ws.closed());
    } finally {
      ws.close();
    }
  }
}
