package io.switchboard.call;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.TestNodes.TestCluster;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A call across a cluster of three nodes: the caller's WebSocket on node 1, the callee's two
 * devices on nodes 2 and 3. Commands are answered by whichever node's call service the event bus
 * picks, so the state can only be right if it lives in PostgreSQL.
 */
@ExtendWith(VertxExtension.class)
class CallClusterTest {

  static final String OFFER_SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    + "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS ☎\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    + "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89\r\na=ice-ufrag:\"x\\y\"\r\n";
  static final String ANSWER_SDP = "v=0\r\no=- 99 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    + "a=setup:active\r\na=note:ünïcødé ✓\r\n";
  static final String ROW = """
    SELECT state, end_reason, answered_at IS NOT NULL AS answered, duration_ms, caller_id, callee_id
    FROM calls WHERE id = $1""";

  static final List<Node> nodes = new ArrayList<>();
  static Api api;
  final List<Device> devices = new ArrayList<>();

  @BeforeAll
  static void cluster() {
    TestCluster cluster = TestCluster.create();
    for (int i = 0; i < 3; i++) {
      nodes.add(cluster.start(new JsonObject(), EnumSet.allOf(Node.Role.class)));
    }
    api = new Api(TestNodes.port(nodes.get(0)));
  }

  @AfterAll
  static void stop() {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      await(nodes.get(i).stop());
    }
  }

  @AfterEach
  void closeDevices() {
    devices.forEach(d -> await(d.close()));
  }

  Device device(int node, String token) {
    Device d = await(Device.open(nodes.get(node), token));
    devices.add(d);
    return d;
  }

  /** Alice and Bob with a direct conversation; Alice on node 1, Bob's phone on node 2 and laptop on node 3. */
  record Parties(String alice, String bob, String conv, Device caller, Device phone, Device laptop) {
  }

  Parties parties() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    HttpResponse<Buffer> r = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    String bobToken = api.token(bob);
    return new Parties(alice, bob, r.bodyAsJsonObject().getString("id"),
      device(0, aliceToken), device(1, bobToken), device(2, bobToken));
  }

  /** Alice offers over her WebSocket; both of Bob's devices ring with the offer as sent. */
  static String offer(Parties p, VertxTestContext ctx) {
    JsonObject reply = await(p.caller().request(Types.CALL_OFFER,
      new JsonObject().put("conversationId", p.conv()).put("sdp", OFFER_SDP).put("media", "video")));
    assertThat(reply.getString("type")).as(reply.encode()).isEqualTo(Types.CALL_RINGING);
    String id = reply.getJsonObject("payload").getString("callId");
    JsonObject expected = new JsonObject().put("callId", id).put("conversationId", p.conv())
      .put("callerId", p.alice()).put("media", "video").put("sdp", OFFER_SDP);
    for (Device d : List.of(p.phone(), p.laptop())) {
      JsonObject ringing = await(d.next(Types.CALL_OFFER));
      ctx.verify(() -> assertThat(ringing.getJsonObject("payload")).isEqualTo(expected));
    }
    return id;
  }

  static JsonObject callId(String id) {
    return new JsonObject().put("callId", id);
  }

  static Row row(String id) {
    return await(nodes.get(2).context().pool().preparedQuery(ROW).execute(Tuple.of(UUID.fromString(id))))
      .iterator().next();
  }

  @Test
  @DisplayName("a caller on node 1 rings both devices of the callee on nodes 2 and 3; the one that answers wins, the other stops, the caller gets the answer untouched")
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void answeredOnOneDevice(VertxTestContext ctx) {
    Parties p = parties();
    var bothRang = ctx.checkpoint();
    var answerReachedCaller = ctx.checkpoint();
    var otherDeviceStopped = ctx.checkpoint();
    var candidateRelayed = ctx.checkpoint();
    var hungUp = ctx.checkpoint();

    String id = offer(p, ctx);
    bothRang.flag();

    JsonObject accepted = await(p.phone().request(Types.CALL_ANSWER, callId(id).put("sdp", ANSWER_SDP)));
    ctx.verify(() -> {
      assertThat(accepted.getString("type")).as(accepted.encode()).isEqualTo(Types.CALL_ACCEPTED);
      assertThat(accepted.getJsonObject("payload").getString("state")).isEqualTo("active");
    });

    JsonObject answer = await(p.caller().next(Types.CALL_ANSWER));
    ctx.verify(() -> assertThat(answer.getJsonObject("payload")).isEqualTo(callId(id).put("sdp", ANSWER_SDP)));
    answerReachedCaller.flag();

    JsonObject stopped = await(p.laptop().next(Types.CALL_END));
    ctx.verify(() -> assertThat(stopped.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "answered_elsewhere")));
    otherDeviceStopped.flag();

    JsonObject candidate = new JsonObject().put("candidate", "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host")
      .put("sdpMid", "0").put("sdpMLineIndex", 0).put("usernameFragment", "x\\y");
    JsonObject sent = await(p.caller().request(Types.ICE_CANDIDATE, callId(id).put("candidate", candidate)));
    ctx.verify(() -> assertThat(sent.getJsonObject("payload").getBoolean("held")).isFalse());
    JsonObject relayed = await(p.phone().next(Types.ICE_CANDIDATE));
    ctx.verify(() -> {
      assertThat(relayed.getJsonObject("payload")).isEqualTo(callId(id).put("candidate", candidate));
      // The answering device was never told the call was answered elsewhere.
      assertThat(p.phone().events(Types.CALL_END)).isEmpty();
    });
    candidateRelayed.flag();

    JsonObject ended = await(p.caller().request(Types.CALL_END, callId(id)));
    ctx.verify(() -> assertThat(ended.getString("type")).as(ended.encode()).isEqualTo(Types.ACK));
    JsonObject end = await(p.phone().next(Types.CALL_END));
    ctx.verify(() -> {
      assertThat(end.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "ended"));
      Row r = row(id);
      assertThat(r.getString("state")).isEqualTo("ended");
      assertThat(r.getString("end_reason")).isEqualTo("ended");
      assertThat(r.getBoolean("answered")).isTrue();
      assertThat(r.getLong("duration_ms")).isNotNull().isGreaterThanOrEqualTo(0L);
      assertThat(r.getString("caller_id")).isEqualTo(p.alice());
      assertThat(r.getString("callee_id")).isEqualTo(p.bob());
    });
    hungUp.flag();
  }

  @Test
  @DisplayName("two devices on different nodes answering at the same moment: exactly one wins, the other gets conflict and answered_elsewhere")
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void simultaneousAnswers(VertxTestContext ctx) {
    Parties p = parties();
    String id = offer(p, ctx);
    Future<JsonObject> fromPhone = p.phone().request(Types.CALL_ANSWER, callId(id).put("sdp", ANSWER_SDP));
    Future<JsonObject> fromLaptop = p.laptop().request(Types.CALL_ANSWER, callId(id).put("sdp", ANSWER_SDP + "a=laptop\r\n"));
    await(Future.all(fromPhone, fromLaptop));
    List<String> types = List.of(fromPhone.result().getString("type"), fromLaptop.result().getString("type"));
    assertThat(types).containsExactlyInAnyOrder(Types.CALL_ACCEPTED, Types.ERROR);
    boolean phoneWon = Types.CALL_ACCEPTED.equals(types.get(0));
    JsonObject lost = (phoneWon ? fromLaptop : fromPhone).result();
    assertThat(lost.getJsonObject("payload").getString("code")).isEqualTo("conflict");
    Device winner = phoneWon ? p.phone() : p.laptop();
    Device loser = phoneWon ? p.laptop() : p.phone();
    String winningSdp = phoneWon ? ANSWER_SDP : ANSWER_SDP + "a=laptop\r\n";

    var told = ctx.checkpoint(2);
    loser.next(Types.CALL_END).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(callId(id).put("reason", "answered_elsewhere"));
      told.flag();
    })));
    p.caller().next(Types.CALL_ANSWER).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(callId(id).put("sdp", winningSdp));
      assertThat(p.caller().events(Types.CALL_ANSWER)).hasSize(1);
      assertThat(winner.events(Types.CALL_END)).isEmpty();
      told.flag();
    })));
  }
}
