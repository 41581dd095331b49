package io.switchboard.call;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The call rules of SPEC §5, once, through REST on the shared node, with WebSocket devices to
 * watch the events: who may call whom, the states, first answer wins, busy, glare and held ICE
 * candidates.
 */
@ExtendWith(VertxExtension.class)
class CallRestTest {

  /** An SDP with the characters a careless relay would mangle: CRLF, quotes, backslashes, non-ASCII. */
  static final String OFFER_SDP = "v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\ns=-\r\n"
    + "c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    + "a=note:\"quoted\" \\back\\slash\\ ünïcødé 📞 <tag> &amp;\r\n";
  static final String ANSWER_SDP = "v=0\r\no=bob 2808844564 2808844564 IN IP4 203.0.113.7\r\ns=-\r\n"
    + "c=IN IP4 203.0.113.7\r\nt=0 0\r\nm=audio 49174 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  static final String ROW = """
    SELECT state, end_reason, answered_at IS NOT NULL AS answered, ended_at IS NOT NULL AS ended, duration_ms,
      caller_id, callee_id, media FROM calls WHERE id = $1""";
  static final String LIVE_BETWEEN = """
    SELECT count(*) FROM calls WHERE conversation_id = $1 AND state IN ('ringing', 'active')""";

  static Node node;
  static Api api;
  final List<Device> devices = new ArrayList<>();

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
  }

  @AfterEach
  void closeDevices() {
    devices.forEach(d -> await(d.close()));
  }

  /** Two users and their direct conversation. */
  record Pair(String alice, String aliceToken, String bob, String bobToken, String conv) {
  }

  static Pair pair() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    HttpResponse<Buffer> r = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return new Pair(alice, aliceToken, bob, bobToken, r.bodyAsJsonObject().getString("id"));
  }

  Device device(String token) {
    Device d = await(Device.open(node, token));
    devices.add(d);
    return d;
  }

  static JsonObject offerBody(String conv, String sdp) {
    return new JsonObject().put("conversationId", conv).put("sdp", sdp).put("media", "audio");
  }

  static JsonObject ok(HttpResponse<Buffer> r, int status) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    return r.bodyAsJsonObject();
  }

  /** Alice calls Bob; returns the call id. */
  static String ring(Pair p) {
    JsonObject call = ok(api.post("/api/calls/offer", p.aliceToken(), offerBody(p.conv(), OFFER_SDP)), 201);
    assertThat(call.getString("state")).isEqualTo("ringing");
    return call.getString("callId");
  }

  static JsonObject callId(String id) {
    return new JsonObject().put("callId", id);
  }

  static Row row(String callId) {
    return await(node.context().pool().preparedQuery(ROW).execute(Tuple.of(UUID.fromString(callId))))
      .iterator().next();
  }

  @Test
  @DisplayName("a call in a direct conversation rings the other member, the answer reaches the caller, and the end is recorded with its duration")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void happyPath(VertxTestContext ctx) {
    Pair p = pair();
    Device bob = device(p.bobToken());
    Device alice = device(p.aliceToken());
    var rang = ctx.checkpoint();
    var answered = ctx.checkpoint();
    var ended = ctx.checkpoint();

    JsonObject offered = ok(api.post("/api/calls/offer", p.aliceToken(),
      offerBody(p.conv(), OFFER_SDP).put("media", "video")), 201);
    String id = offered.getString("callId");
    assertThat(offered.getString("callerId")).isEqualTo(p.alice());
    assertThat(offered.getString("calleeId")).isEqualTo(p.bob());
    assertThat(offered.getString("conversationId")).isEqualTo(p.conv());
    assertThat(offered.getString("media")).isEqualTo("video");

    JsonObject offer = await(bob.next(Types.CALL_OFFER)).getJsonObject("payload");
    ctx.verify(() -> assertThat(offer).isEqualTo(new JsonObject().put("callId", id).put("conversationId", p.conv())
      .put("callerId", p.alice()).put("media", "video").put("sdp", OFFER_SDP)));
    rang.flag();

    JsonObject accepted = ok(api.post("/api/calls/answer", p.bobToken(), callId(id).put("sdp", ANSWER_SDP)), 200);
    assertThat(accepted.getString("state")).isEqualTo("active");
    assertThat(accepted.getString("answeredAt")).isNotNull();
    assertThat(accepted.getJsonArray("candidates")).isEmpty();
    JsonObject answer = await(alice.next(Types.CALL_ANSWER)).getJsonObject("payload");
    ctx.verify(() -> assertThat(answer).isEqualTo(new JsonObject().put("callId", id).put("sdp", ANSWER_SDP)));
    answered.flag();

    JsonObject done = ok(api.post("/api/calls/end", p.aliceToken(), callId(id)), 200);
    assertThat(done.getString("state")).isEqualTo("ended");
    JsonObject end = await(bob.next(Types.CALL_END)).getJsonObject("payload");
    ctx.verify(() -> {
      // Bob answered over REST from no device in particular: his devices heard it was answered.
      assertThat(end).isEqualTo(new JsonObject().put("callId", id).put("reason", "answered_elsewhere"));
      JsonObject last = await(bob.next(Types.CALL_END)).getJsonObject("payload");
      assertThat(last).isEqualTo(new JsonObject().put("callId", id).put("reason", "ended"));
      assertThat(alice.events(Types.CALL_END)).isEmpty();

      Row r = row(id);
      assertThat(r.getString("state")).isEqualTo("ended");
      assertThat(r.getString("end_reason")).isEqualTo("ended");
      assertThat(r.getBoolean("answered")).isTrue();
      assertThat(r.getBoolean("ended")).isTrue();
      assertThat(r.getLong("duration_ms")).isNotNull().isGreaterThanOrEqualTo(0L);
      assertThat(r.getString("media")).isEqualTo("video");

      JsonObject record = ok(api.get("/api/calls/" + id, p.bobToken()), 200);
      assertThat(record.getString("state")).isEqualTo("ended");
      assertThat(record.getString("endReason")).isEqualTo("ended");
      assertThat(record.getLong("durationMs")).isEqualTo(r.getLong("duration_ms"));
      assertThat(record.containsKey("sdp")).isFalse();
    });
    ended.flag();
  }

  @Test
  @DisplayName("a declined call tells the caller the reason, stops the callee's other devices, and is recorded as declined")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void decline(VertxTestContext ctx) {
    Pair p = pair();
    Device alice = device(p.aliceToken());
    Device phone = device(p.bobToken());
    Device laptop = device(p.bobToken());
    String id = ring(p);
    await(phone.next(Types.CALL_OFFER));
    await(laptop.next(Types.CALL_OFFER));
    var told = ctx.checkpoint();
    var stopped = ctx.checkpoint();

    JsonObject reply = await(phone.request(Types.CALL_DECLINE, callId(id).put("reason", "in_a_meeting")));
    assertThat(reply.getString("type")).as(reply.encode()).isEqualTo(Types.ACK);
    assertThat(reply.getJsonObject("payload").getString("state")).isEqualTo("declined");

    alice.next(Types.CALL_DECLINE).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "in_a_meeting"));
      told.flag();
    })));
    JsonObject end = await(laptop.next(Types.CALL_END));
    ctx.verify(() -> {
      assertThat(end.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "declined_elsewhere"));
      Row r = row(id);
      assertThat(r.getString("state")).isEqualTo("declined");
      assertThat(r.getString("end_reason")).isEqualTo("in_a_meeting");
      assertThat(r.getBoolean("answered")).isFalse();
      assertThat(r.getValue("duration_ms")).isNull();
      // The declining device itself was not told that it declined elsewhere.
      assertThat(phone.events(Types.CALL_END)).isEmpty();
    });
    stopped.flag();
  }

  @Test
  @DisplayName("a caller who hangs up before the answer cancels the call on every device of the callee")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void cancel(VertxTestContext ctx) {
    Pair p = pair();
    Device phone = device(p.bobToken());
    Device laptop = device(p.bobToken());
    String id = ring(p);
    var stopped = ctx.checkpoint(2);

    JsonObject done = ok(api.post("/api/calls/end", p.aliceToken(), callId(id)), 200);
    assertThat(done.getString("state")).isEqualTo("ended");
    assertThat(done.getString("endReason")).isEqualTo("cancelled");
    assertThat(done.getValue("durationMs")).isNull();
    for (Device d : List.of(phone, laptop)) {
      d.next(Types.CALL_OFFER).compose(offer -> d.next(Types.CALL_END)).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
        assertThat(e.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "cancelled"));
        stopped.flag();
      })));
    }
  }

  @Test
  @DisplayName("a callee who hangs up a ringing call declines it")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void calleeHangsUpWhileRinging(VertxTestContext ctx) {
    Pair p = pair();
    Device alice = device(p.aliceToken());
    String id = ring(p);
    JsonObject done = ok(api.post("/api/calls/end", p.bobToken(), callId(id)), 200);
    assertThat(done.getString("state")).isEqualTo("declined");
    alice.next(Types.CALL_DECLINE).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "declined"));
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("in a group the caller names the callee, who must be a current member")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void groupCallee(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String conv = api.group(aliceToken, "Calls", bob, carol).getString("id");
    Device carolsPhone = device(api.token(carol));
    Device bobsPhone = device(api.token(bob));

    assertError(api.post("/api/calls/offer", aliceToken, offerBody(conv, OFFER_SDP)), 400, "invalid_request");
    assertError(api.post("/api/calls/offer", aliceToken, offerBody(conv, OFFER_SDP).put("calleeId", Api.user("dave"))),
      403, "forbidden");
    assertError(api.post("/api/calls/offer", aliceToken, offerBody(conv, OFFER_SDP).put("calleeId", alice)),
      400, "invalid_request");

    JsonObject call = ok(api.post("/api/calls/offer", aliceToken, offerBody(conv, OFFER_SDP).put("calleeId", carol)), 201);
    assertThat(call.getString("calleeId")).isEqualTo(carol);
    carolsPhone.next(Types.CALL_OFFER).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload").getString("callId")).isEqualTo(call.getString("callId"));
      // Only the named member rings.
      assertThat(bobsPhone.events(Types.CALL_OFFER)).isEmpty();
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("only members may call in a conversation, and only the two parties may touch a call")
  void access() {
    Pair p = pair();
    String strangerToken = api.token(Api.user("stranger"));
    assertError(api.post("/api/calls/offer", strangerToken, offerBody(p.conv(), OFFER_SDP)), 403, "forbidden");
    assertError(api.post("/api/calls/offer", p.aliceToken(), offerBody(UUID.randomUUID().toString(), OFFER_SDP)),
      404, "not_found");

    String id = ring(p);
    assertError(api.post("/api/calls/answer", strangerToken, callId(id).put("sdp", ANSWER_SDP)), 403, "forbidden");
    assertError(api.post("/api/calls/decline", strangerToken, callId(id)), 403, "forbidden");
    assertError(api.post("/api/calls/end", strangerToken, callId(id)), 403, "forbidden");
    assertError(api.post("/api/calls/ice-candidate", strangerToken, callId(id).put("candidate", "candidate:1")),
      403, "forbidden");
    assertError(api.get("/api/calls/" + id, strangerToken), 403, "forbidden");
    // The caller cannot take the callee's part.
    assertError(api.post("/api/calls/answer", p.aliceToken(), callId(id).put("sdp", ANSWER_SDP)), 403, "forbidden");
    assertError(api.post("/api/calls/decline", p.aliceToken(), callId(id)), 403, "forbidden");
    assertThat(row(id).getString("state")).isEqualTo("ringing");
    ok(api.post("/api/calls/end", p.aliceToken(), callId(id)), 200);
  }

  @Test
  @DisplayName("a call id that names no call is not_found on every call command")
  void unknownCall() {
    String token = api.token(Api.user("alice"));
    for (String id : List.of(UUID.randomUUID().toString(), "not-a-call-id")) {
      assertError(api.post("/api/calls/answer", token, callId(id).put("sdp", ANSWER_SDP)), 404, "not_found");
      assertError(api.post("/api/calls/decline", token, callId(id)), 404, "not_found");
      assertError(api.post("/api/calls/end", token, callId(id)), 404, "not_found");
      assertError(api.post("/api/calls/ice-candidate", token, callId(id).put("candidate", "candidate:1")),
        404, "not_found");
      assertError(api.get("/api/calls/" + id, token), 404, "not_found");
    }
  }

  @Test
  @DisplayName("a second answer is a conflict, and so is every change to a call that is over")
  void conflicts() {
    Pair p = pair();
    String id = ring(p);
    ok(api.post("/api/calls/answer", p.bobToken(), callId(id).put("sdp", ANSWER_SDP)), 200);
    assertError(api.post("/api/calls/answer", p.bobToken(), callId(id).put("sdp", ANSWER_SDP)), 409, "conflict");
    assertError(api.post("/api/calls/decline", p.bobToken(), callId(id)), 409, "conflict");

    ok(api.post("/api/calls/end", p.bobToken(), callId(id)), 200);
    assertError(api.post("/api/calls/end", p.aliceToken(), callId(id)), 409, "conflict");
    assertError(api.post("/api/calls/answer", p.bobToken(), callId(id).put("sdp", ANSWER_SDP)), 409, "conflict");
    assertError(api.post("/api/calls/ice-candidate", p.aliceToken(), callId(id).put("candidate", "candidate:1")),
      409, "conflict");
    assertThat(row(id).getString("end_reason")).isEqualTo("ended");
  }

  @Test
  @DisplayName("of two answers racing from two devices, exactly one wins")
  void racingAnswers() {
    Pair p = pair();
    String id = ring(p);
    List<Future<HttpResponse<Buffer>>> answers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      answers.add(api.client().post("/api/calls/answer").bearerTokenAuthentication(p.bobToken())
        .sendJsonObject(callId(id).put("sdp", ANSWER_SDP + "a=device:" + i + "\r\n")));
    }
    await(Future.join(answers));
    List<Integer> statuses = answers.stream().map(f -> f.result().statusCode()).sorted().toList();
    assertThat(statuses).containsExactly(200, 409);
    assertThat(row(id).getString("state")).isEqualTo("active");
  }

  static Stream<Arguments> badInput() {
    String conv = UUID.randomUUID().toString();
    String call = UUID.randomUUID().toString();
    JsonObject offer = offerBody(conv, OFFER_SDP);
    return Stream.of(
      Arguments.of("/api/calls/offer", "{}"),
      Arguments.of("/api/calls/offer", offer.copy().put("sdp", 42).encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("sdp", "").encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("sdp", new JsonObject().put("type", "offer")).encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("media", "hologram").encode()),
      Arguments.of("/api/calls/offer", offer.copy().putNull("media").encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("calleeId", 5).encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("calleeId", "").encode()),
      Arguments.of("/api/calls/offer", offer.copy().put("conversationId", 7).encode()),
      Arguments.of("/api/calls/offer", "{\"conversationId\": \"unterminated"),
      Arguments.of("/api/calls/offer", "[]"),
      Arguments.of("/api/calls/answer", "{\"callId\": \"" + call + "\"}"),
      Arguments.of("/api/calls/answer", "{\"callId\": \"" + call + "\", \"sdp\": 1}"),
      Arguments.of("/api/calls/answer", "{\"sdp\": \"v=0\"}"),
      Arguments.of("/api/calls/decline", "{\"callId\": \"" + call + "\", \"reason\": 5}"),
      Arguments.of("/api/calls/decline", "{\"callId\": \"" + call + "\", \"reason\": \"" + "r".repeat(65) + "\"}"),
      Arguments.of("/api/calls/end", "{\"callId\": 5}"),
      Arguments.of("/api/calls/end", "{}"),
      Arguments.of("/api/calls/ice-candidate", "{\"callId\": \"" + call + "\"}"),
      Arguments.of("/api/calls/ice-candidate", "{\"callId\": \"" + call + "\", \"candidate\": 5}"),
      Arguments.of("/api/calls/ice-candidate", "{\"callId\": \"" + call + "\", \"candidate\": \"\"}"),
      Arguments.of("/api/calls/ice-candidate", "{\"callId\": \"" + call + "\", \"candidate\": [\"a\"]}"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("badInput")
  @DisplayName("a call command with a missing, mistyped or malformed field is invalid_request")
  void badInput(String path, String body) {
    assertError(api.postRaw(path, api.token(Api.user("alice")), body), 400, "invalid_request");
  }

  @Test
  @DisplayName("an SDP over limits.messageBytes or an oversize ICE candidate is too_large, and nothing rings")
  void tooLarge() {
    Pair p = pair();
    String big = "a=x:" + "é".repeat(33_000);
    assertError(api.post("/api/calls/offer", p.aliceToken(), offerBody(p.conv(), big)), 413, "too_large");
    assertThat(await(node.context().pool().preparedQuery(LIVE_BETWEEN).execute(Tuple.of(UUID.fromString(p.conv()))))
      .iterator().next().getLong(0)).isZero();
    String id = ring(p);
    assertError(api.post("/api/calls/answer", p.bobToken(), callId(id).put("sdp", big)), 413, "too_large");
    assertError(api.post("/api/calls/ice-candidate", p.aliceToken(), callId(id).put("candidate", "c".repeat(9000))),
      413, "too_large");
    assertThat(row(id).getString("state")).isEqualTo("ringing");
    ok(api.post("/api/calls/end", p.aliceToken(), callId(id)), 200);
  }

  @Test
  @DisplayName("the ICE servers are the configured ones, for a signed-in user only")
  void iceServers() {
    JsonObject body = ok(api.get("/api/calls/ice-servers", api.token(Api.user("alice"))), 200);
    assertThat(body).isEqualTo(new JsonObject().put("iceServers", new JsonArray()));
    assertError(api.get("/api/calls/ice-servers", null), 401, "unauthorized");
  }

  @Test
  @DisplayName("a callee already in a call is busy: the offer is recorded as busy, the caller told, the callee not rung")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void busy(VertxTestContext ctx) {
    Pair p = pair();
    Device bob = device(p.bobToken());
    String first = ring(p);
    await(bob.next(Types.CALL_OFFER));

    String carol = Api.user("carol");
    String carolToken = api.token(carol);
    String carolAndBob = ok(api.post("/api/conversations", carolToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(p.bob()))), 201).getString("id");
    HttpResponse<Buffer> r = api.post("/api/calls/offer", carolToken, offerBody(carolAndBob, OFFER_SDP));
    JsonObject busy = ok(r, 201);
    assertThat(busy.getString("state")).isEqualTo("busy");
    assertThat(busy.getString("endReason")).isEqualTo("busy");
    Row recorded = row(busy.getString("callId"));
    assertThat(recorded.getString("state")).isEqualTo("busy");
    assertThat(recorded.getBoolean("ended")).isTrue();
    assertThat(recorded.getString("caller_id")).isEqualTo(carol);

    // A caller who is already calling cannot start a second call.
    assertError(api.post("/api/calls/offer", p.aliceToken(), offerBody(p.conv(), OFFER_SDP)), 409, "conflict");

    ok(api.post("/api/calls/end", p.aliceToken(), callId(first)), 200);
    bob.next(Types.CALL_END).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      // Bob heard of Alice's call and of its end; never of Carol's.
      assertThat(bob.types().stream().filter(t -> t.startsWith("call_")))
        .containsExactly(Types.CALL_OFFER, Types.CALL_END);
      assertThat(bob.events(Types.CALL_OFFER).get(0).getJsonObject("payload").getString("callId")).isEqualTo(first);
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("glare: a callee who calls back while ringing gets the caller's ringing call, with its offer, and no second call")
  void glare() {
    Pair p = pair();
    String first = ring(p);
    JsonObject back = ok(api.post("/api/calls/offer", p.bobToken(), offerBody(p.conv(), ANSWER_SDP)), 200);
    assertThat(back.getString("callId")).isEqualTo(first);
    assertThat(back.getBoolean("glare")).isTrue();
    assertThat(back.getString("callerId")).isEqualTo(p.alice());
    assertThat(back.getString("state")).isEqualTo("ringing");
    assertThat(back.getString("sdp")).isEqualTo(OFFER_SDP);
    assertThat(liveCalls(p.conv())).isEqualTo(1);

    ok(api.post("/api/calls/answer", p.bobToken(), callId(first).put("sdp", ANSWER_SDP)), 200);
    assertThat(row(first).getString("state")).isEqualTo("active");
    ok(api.post("/api/calls/end", p.bobToken(), callId(first)), 200);
  }

  @Test
  @DisplayName("glare: two offers crossing at the same moment resolve to one call that both sides name")
  void simultaneousGlare() {
    Pair p = pair();
    Future<HttpResponse<Buffer>> fromAlice = api.client().post("/api/calls/offer")
      .bearerTokenAuthentication(p.aliceToken()).sendJsonObject(offerBody(p.conv(), OFFER_SDP));
    Future<HttpResponse<Buffer>> fromBob = api.client().post("/api/calls/offer")
      .bearerTokenAuthentication(p.bobToken()).sendJsonObject(offerBody(p.conv(), ANSWER_SDP));
    await(Future.join(fromAlice, fromBob));
    JsonObject a = fromAlice.result().bodyAsJsonObject();
    JsonObject b = fromBob.result().bodyAsJsonObject();
    assertThat(List.of(fromAlice.result().statusCode(), fromBob.result().statusCode()))
      .as(a.encode() + " / " + b.encode()).containsExactlyInAnyOrder(201, 200);
    assertThat(a.getString("callId")).isEqualTo(b.getString("callId"));
    assertThat(liveCalls(p.conv())).isEqualTo(1);
    ok(api.post("/api/calls/end", p.aliceToken(), callId(a.getString("callId"))), 200);
  }

  static long liveCalls(String conv) {
    return await(node.context().pool().preparedQuery(LIVE_BETWEEN).execute(Tuple.of(UUID.fromString(conv))))
      .iterator().next().getLong(0);
  }

  @Test
  @DisplayName("candidates sent before the answer are held and handed to the answering device; later ones are relayed at once")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void heldCandidates(VertxTestContext ctx) {
    Pair p = pair();
    Device alice = device(p.aliceToken());
    Device bob = device(p.bobToken());
    JsonObject c1 = new JsonObject().put("candidate", "candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host")
      .put("sdpMid", "0").put("sdpMLineIndex", 0);
    String c2 = "candidate:2 1 udp 1686052607 198.51.100.20 61000 typ srflx raddr 192.0.2.10 rport 54321";
    JsonObject early = new JsonObject().put("candidate", "candidate:9 1 udp 2122260223 203.0.113.7 50000 typ host")
      .put("sdpMid", "0").put("sdpMLineIndex", 0);
    JsonObject late = new JsonObject().put("candidate", "candidate:3 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active");
    var handedOver = ctx.checkpoint();
    var relayedToBob = ctx.checkpoint();
    var relayedToAlice = ctx.checkpoint();

    String id = ring(p);
    assertThat(ok(api.post("/api/calls/ice-candidate", p.aliceToken(), callId(id).put("candidate", c1)), 200)
      .getBoolean("held")).isTrue();
    assertThat(ok(api.post("/api/calls/ice-candidate", p.aliceToken(), callId(id).put("candidate", c2)), 200)
      .getBoolean("held")).isTrue();
    await(bob.next(Types.CALL_OFFER));
    // Bob's own candidate races ahead of his answer: held too, and given to Alice after the answer.
    JsonObject bobEarly = await(bob.request(Types.ICE_CANDIDATE, callId(id).put("candidate", early)));
    assertThat(bobEarly.getJsonObject("payload").getBoolean("held")).isTrue();

    JsonObject accepted = await(bob.request(Types.CALL_ANSWER, callId(id).put("sdp", ANSWER_SDP)));
    ctx.verify(() -> {
      assertThat(accepted.getString("type")).as(accepted.encode()).isEqualTo(Types.CALL_ACCEPTED);
      assertThat(accepted.getJsonObject("payload").getJsonArray("candidates")).isEqualTo(new JsonArray().add(c1).add(c2));
      assertThat(bob.events(Types.ICE_CANDIDATE)).isEmpty();
      // The answering device is not told it was answered elsewhere.
      assertThat(bob.events(Types.CALL_END)).isEmpty();
    });
    handedOver.flag();

    await(alice.next(Types.CALL_ANSWER));
    JsonObject fromBob = await(alice.next(Types.ICE_CANDIDATE));
    ctx.verify(() -> {
      assertThat(alice.types()).containsExactly(Types.CALL_ANSWER, Types.ICE_CANDIDATE);
      assertThat(fromBob.getJsonObject("payload")).isEqualTo(callId(id).put("candidate", early));
    });
    relayedToAlice.flag();

    JsonObject relayed = ok(api.post("/api/calls/ice-candidate", p.aliceToken(), callId(id).put("candidate", late)), 200);
    assertThat(relayed.getBoolean("held")).isFalse();
    bob.next(Types.ICE_CANDIDATE).onComplete(ctx.succeeding(fromAlice -> ctx.verify(() -> {
      assertThat(fromAlice.getJsonObject("payload")).isEqualTo(callId(id).put("candidate", late));
      relayedToBob.flag();
    })));
  }

  @Test
  @DisplayName("a call command over the WebSocket that fails is answered with an error envelope carrying its requestId")
  void errorOverWebSocket() {
    Device d = device(api.token(Api.user("alice")));
    JsonObject reply = await(d.request(Types.CALL_ANSWER, callId(UUID.randomUUID().toString()).put("sdp", ANSWER_SDP)));
    assertThat(reply.getString("type")).isEqualTo(Types.ERROR);
    assertThat(reply.getString("requestId")).startsWith("r-");
    assertThat(reply.getJsonObject("payload").getString("code")).isEqualTo("not_found");
  }
}
