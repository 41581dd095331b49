package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.stream.Stream;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §2 and §8 over REST: malformed JSON, non-object bodies, mistyped and missing fields and
 * oversize bodies are answered with {@code invalid_request} or {@code too_large}, and change nothing.
 */
class RestBadInputTest {

  static final int FRAME_BYTES = 131_072;
  static final int MESSAGE_BYTES = 65_536;

  static Api api;
  static String token;
  static String conversationId;

  @BeforeAll
  static void setUp() {
    api = new Api(TestNodes.port(TestNodes.shared()));
    token = api.token(Api.user("alice"));
    conversationId = api.group(token, "Bad input", Api.user("bob")).getString("id");
    api.send(token, conversationId, "first");
  }

  static List<RestRoute> bodyRoutes() {
    return RestRoute.withBody();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyRoutes")
  @DisplayName("malformed JSON in the body is invalid_request")
  void malformedJson(RestRoute route) {
    assertError(route.callRaw(api, conversationId, token, "{\"content\": \"unterminated"), 400, "invalid_request");
    assertError(route.callRaw(api, conversationId, token, "{'single': 'quotes'}"), 400, "invalid_request");
    assertError(route.callRaw(api, conversationId, token, "not json at all"), 400, "invalid_request");
    assertUnchanged();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyRoutes")
  @DisplayName("a body that is a JSON array, string, number or null instead of an object is invalid_request")
  void nonObjectBody(RestRoute route) {
    assertError(route.callRaw(api, conversationId, token, new JsonArray().add(route.body()).encode()),
      400, "invalid_request");
    assertError(route.callRaw(api, conversationId, token, "\"hello\""), 400, "invalid_request");
    assertError(route.callRaw(api, conversationId, token, "42"), 400, "invalid_request");
    assertError(route.callRaw(api, conversationId, token, "null"), 400, "invalid_request");
    assertUnchanged();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyRoutes")
  @DisplayName("an empty body is invalid_request")
  void emptyBody(RestRoute route) {
    assertError(route.callRaw(api, conversationId, token, ""), 400, "invalid_request");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyRoutes")
  @DisplayName("an empty JSON object, missing the required fields, is invalid_request")
  void missingRequiredFields(RestRoute route) {
    assertError(route.callRaw(api, conversationId, token, "{}"), 400, "invalid_request");
    assertUnchanged();
  }

  static Stream<Arguments> wrongTypes() {
    return Stream.of(
      Arguments.of(RestRoute.CREATE, "{\"type\": 5}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"channel\", \"name\": \"x\"}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"group\"}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"group\", \"name\": 5}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"direct\", \"participantIds\": \"bob\"}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"direct\", \"participantIds\": [5]}"),
      Arguments.of(RestRoute.CREATE, "{\"type\": \"direct\", \"participantIds\": [\"has space\"]}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": 5}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": [\"Team\"]}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": \"   \"}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": \"Team\", \"participantIds\": \"bob\"}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": \"Team\", \"participantIds\": [\"\"]}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": \"Team\", \"participantIds\": {\"bob\": true}}"),
      Arguments.of(RestRoute.CREATE_GROUP, "{\"name\": \"" + "n".repeat(201) + "\"}"),
      Arguments.of(RestRoute.JOIN, "{\"inviteCode\": 5}"),
      Arguments.of(RestRoute.JOIN, "{\"inviteCode\": \"\"}"),
      Arguments.of(RestRoute.JOIN, "{\"inviteCode\": [\"abc\"]}"),
      Arguments.of(RestRoute.SEND, "{\"content\": 42}"),
      Arguments.of(RestRoute.SEND, "{\"content\": true}"),
      Arguments.of(RestRoute.SEND, "{\"content\": [\"a\"]}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"\"}"),
      Arguments.of(RestRoute.SEND, "{\"content\": null}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"replyTo\": -1}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"replyTo\": 0}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"replyTo\": \"1\"}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"replyTo\": 1.5}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"kind\": 5}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"kind\": \"system\"}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"kind\": \"Not A Kind\"}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"clientMessageId\": 5}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"clientMessageId\": \"\"}"),
      Arguments.of(RestRoute.SEND, "{\"content\": \"x\", \"clientMessageId\": \"" + "c".repeat(129) + "\"}"),
      Arguments.of(RestRoute.READ, "{\"seq\": \"x\"}"),
      Arguments.of(RestRoute.READ, "{\"seq\": \"1\"}"),
      Arguments.of(RestRoute.READ, "{\"seq\": -1}"),
      Arguments.of(RestRoute.READ, "{\"seq\": 1.5}"),
      Arguments.of(RestRoute.READ, "{\"seq\": null}"),
      Arguments.of(RestRoute.READ, "{\"seq\": true}"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("wrongTypes")
  @DisplayName("a field of the wrong type, an empty required field or an out-of-range value is invalid_request")
  void wrongFieldTypes(RestRoute route, String body) {
    assertError(route.callRaw(api, conversationId, token, body), 400, "invalid_request");
    assertUnchanged();
  }

  @ParameterizedTest(name = "?{0}")
  @ValueSource(strings = {"limit=abc", "before=x", "after=1.5", "limit=0", "limit=-3", "limit=201", "before=0",
    "after=-1", "limit=99999999999999999999"})
  @DisplayName("a history query with a non-numeric or out-of-range parameter is invalid_request")
  void badHistoryQuery(String query) {
    assertError(api.get("/api/conversations/" + conversationId + "/messages?" + query, token),
      400, "invalid_request");
  }

  @Test
  @DisplayName("the largest history page, limit=200, is accepted")
  void largestLimit() {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + conversationId + "/messages?limit=200", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyRoutes")
  @DisplayName("a body over limits.frameBytes is too_large on every command")
  void bodyOverFrameLimit(RestRoute route) {
    JsonObject body = route.body().copy().put("padding", "p".repeat(FRAME_BYTES));
    assertThat(body.encode().length()).isGreaterThan(FRAME_BYTES);
    assertError(route.callRaw(api, conversationId, token, body.encode()), 413, "too_large");
    assertUnchanged();
  }

  @Test
  @DisplayName("a message whose content is over limits.messageBytes, in a body under limits.frameBytes, is too_large")
  void contentOverMessageLimit() {
    String body = new JsonObject().put("content", "m".repeat(MESSAGE_BYTES + 1)).encode();
    assertThat(body.length()).isLessThan(FRAME_BYTES);
    assertError(RestRoute.SEND.callRaw(api, conversationId, token, body), 413, "too_large");
    assertUnchanged();
  }

  @Test
  @DisplayName("the message limit counts UTF-8 bytes, not characters")
  void contentLimitInBytes() {
    // 40 000 two-byte characters: under the limit in characters, over it in bytes.
    String body = new JsonObject().put("content", "é".repeat(40_000)).encode();
    assertError(RestRoute.SEND.callRaw(api, conversationId, token, body), 413, "too_large");
    assertUnchanged();
  }

  @Test
  @DisplayName("object content over limits.messageBytes once encoded is too_large")
  void objectContentOverMessageLimit() {
    JsonObject content = new JsonObject().put("ciphertext", "c".repeat(MESSAGE_BYTES));
    String body = new JsonObject().put("kind", "e2e").put("content", content).encode();
    assertError(RestRoute.SEND.callRaw(api, conversationId, token, body), 413, "too_large");
    assertUnchanged();
  }

  @Test
  @DisplayName("content of exactly limits.messageBytes is accepted")
  void contentAtMessageLimit() {
    String other = api.group(token, "At the limit").getString("id");
    HttpResponse<Buffer> r = api.post("/api/conversations/" + other + "/messages", token,
      new JsonObject().put("content", "m".repeat(MESSAGE_BYTES)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.bodyAsJsonObject().getString("content")).hasSize(MESSAGE_BYTES);
  }

  /** Bad input changed nothing: the shared conversation still has its one message and no new members. */
  private static void assertUnchanged() {
    JsonObject c = api.get("/api/conversations/" + conversationId, token).bodyAsJsonObject();
    assertThat(c.getLong("lastSeq")).isEqualTo(1L);
    assertThat(c.getJsonArray("members")).hasSize(2);
  }
}
