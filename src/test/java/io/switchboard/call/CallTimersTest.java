package io.switchboard.call;

import io.switchboard.Node;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
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

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The timers of SPEC §5 on a node of their own with {@code calls.ringSeconds} and
 * {@code calls.dropSeconds} of 1: missed calls, calls dropped when a party's last connection is
 * gone (announced by the presence service to the node's call watcher), and the sweep of calls
 * whose ring timer died with its node.
 */
@ExtendWith(VertxExtension.class)
class CallTimersTest {

  static final String SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  static final JsonArray ICE_SERVERS = new JsonArray()
    .add(new JsonObject().put("urls", "stun:stun.example.org:3478"))
    .add(new JsonObject().put("urls", new JsonArray().add("turn:turn.example.org:3478?transport=udp"))
      .put("username", "switchboard").put("credential", "s3cret"));
  static final String ROW = "SELECT state, end_reason, duration_ms FROM calls WHERE id = $1";
  /** What a node that died right after placing a call leaves behind: a ringing row nobody times. */
  static final String ORPHAN = """
    INSERT INTO calls (id, conversation_id, caller_id, callee_id, media, state, offer_sdp, started_at)
    VALUES ($1, $2, $3, $4, 'audio', 'ringing', 'v=0', now() - interval '1 hour')""";

  static Node node;
  static Api api;
  static io.zonky.test.db.postgres.embedded.EmbeddedPostgres pg;
  final List<Device> devices = new ArrayList<>();

  @BeforeAll
  static void start() {
    // A database of its own: every node's call watcher sweeps stale ringing calls of the whole
    // database, so on the shared test database another suite's node (in another cluster) could
    // sweep this suite's orphan and announce it where no client of this suite listens.
    pg = io.switchboard.testing.TestDb.start();
    JsonObject config = new JsonObject().put("calls", new JsonObject()
      .put("ringSeconds", 1).put("dropSeconds", 1).put("iceServers", ICE_SERVERS))
      .put("db", new JsonObject().put("url", io.switchboard.store.Database.url(pg)));
    node = TestNodes.TestCluster.create().start(config, EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() throws java.io.IOException {
    if (node != null) {
      await(node.stop());
    }
    pg.close();
  }

  @AfterEach
  void closeDevices() {
    devices.forEach(d -> await(d.close()));
  }

  record Pair(String alice, String aliceToken, String bob, String bobToken, String conv) {
  }

  static Pair pair() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    HttpResponse<Buffer> r = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return new Pair(alice, aliceToken, bob, api.token(bob), r.bodyAsJsonObject().getString("id"));
  }

  Device device(String token) {
    Device d = await(Device.open(node, token));
    devices.add(d);
    return d;
  }

  static JsonObject ok(HttpResponse<Buffer> r, int status) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    return r.bodyAsJsonObject();
  }

  static String ring(Pair p) {
    return ok(api.post("/api/calls/offer", p.aliceToken(),
      new JsonObject().put("conversationId", p.conv()).put("sdp", SDP).put("media", "audio")), 201).getString("callId");
  }

  static String call(Pair p) {
    String id = ring(p);
    ok(api.post("/api/calls/answer", p.bobToken(), new JsonObject().put("callId", id).put("sdp", SDP)), 200);
    return id;
  }

  static Row row(String callId) {
    return await(node.context().pool().preparedQuery(ROW).execute(Tuple.of(UUID.fromString(callId)))).iterator().next();
  }

  /** What the presence service sends its node's call watcher when it announced a user offline. */
  static void wentOffline(String userId) {
    node.vertx().eventBus().send(Addresses.CALL_WATCH, Envelope.of(Presence.WATCH, new JsonObject()
        .put("nodeId", node.nodeId()).put("userIds", new JsonArray().add(userId))).toJson(),
      new DeliveryOptions().setLocalOnly(true));
  }

  /** What the presence service hands its node's services when a user came online again anywhere. */
  static void cameBack(String userId) {
    node.vertx().eventBus().publish(Addresses.PRESENCE_CHANGES, Envelope.of(Presence.CHANGES, new JsonObject()
        .put("changes", new JsonArray().add(new JsonObject().put("userId", userId).put("online", true)))).toJson(),
      new DeliveryOptions().setLocalOnly(true));
  }

  static JsonObject end(String callId, String reason) {
    return new JsonObject().put("callId", callId).put("reason", reason);
  }

  @Test
  @DisplayName("a call nobody answers within calls.ringSeconds is missed for both parties, and a late answer is a conflict")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void missed(VertxTestContext ctx) {
    Pair p = pair();
    Device alice = device(p.aliceToken());
    Device bob = device(p.bobToken());
    String id = ring(p);
    var told = ctx.checkpoint(2);
    for (Device d : List.of(alice, bob)) {
      JsonObject e = await(d.next(Types.CALL_END));
      ctx.verify(() -> assertThat(e.getJsonObject("payload")).isEqualTo(end(id, "missed")));
      told.flag();
    }
    Row r = row(id);
    assertThat(r.getString("state")).isEqualTo("missed");
    assertThat(r.getString("end_reason")).isEqualTo("missed");
    assertThat(r.getValue("duration_ms")).isNull();
    assertError(api.post("/api/calls/answer", p.bobToken(), new JsonObject().put("callId", id).put("sdp", SDP)),
      409, "conflict");
  }

  @Test
  @DisplayName("a party whose last connection is gone for calls.dropSeconds ends the active call as dropped, with its duration")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void dropActive(VertxTestContext ctx) {
    Pair p = pair();
    Device bob = device(p.bobToken());
    Device alice = await(Device.open(node, p.aliceToken()));
    // Alice is online as far as the cluster is concerned before the call starts.
    await(bob.next(Types.USER_ONLINE));
    String id = call(p);
    // Alice's only connection closes: presence announces her offline after its grace, and the
    // node's call watcher, finding her in a call, ends it calls.dropSeconds later.
    await(alice.close());
    bob.next(Types.CALL_END).compose(e -> {
      ctx.verify(() -> assertThat(e.getJsonObject("payload")).isEqualTo(end(id, "answered_elsewhere")));
      return bob.next(Types.CALL_END);
    }).onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(end(id, "dropped"));
      ctx.completeNow();
    })));
    assertThat(awaitCompletion(ctx)).isTrue();
    Row r = row(id);
    assertThat(r.getString("state")).isEqualTo("ended");
    assertThat(r.getString("end_reason")).isEqualTo("dropped");
    assertThat(r.getLong("duration_ms")).isNotNull().isGreaterThanOrEqualTo(0L);
  }

  @Test
  @DisplayName("a party who comes back within calls.dropSeconds keeps the call, and a ring timer does not undo an answer")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void comeBackInTime(VertxTestContext ctx) {
    Pair kept = pair();
    Pair lost = pair();
    Device witness = device(lost.bobToken());
    String keptId = call(kept);
    String lostId = call(lost);
    // In this order on one sender: the watcher sees Alice leave and come back, then the other Alice leave.
    wentOffline(kept.alice());
    cameBack(kept.alice());
    wentOffline(lost.alice());
    witness.next(Types.CALL_END).compose(e -> witness.next(Types.CALL_END)).onComplete(ctx.succeeding(e -> {
      ctx.verify(() -> assertThat(e.getJsonObject("payload")).isEqualTo(end(lostId, "dropped")));
      ctx.completeNow();
    }));
    assertThat(awaitCompletion(ctx)).isTrue();
    // The kept call's drop timer, had it not been cancelled, was due before the lost one's; its
    // ring timer (1 s after the offer) has fired too and found it answered.
    Row r = row(keptId);
    assertThat(r.getString("state")).isEqualTo("active");
    assertThat(r.getValue("end_reason")).isNull();
    ok(api.post("/api/calls/end", kept.aliceToken(), new JsonObject().put("callId", keptId)), 200);
  }

  @Test
  @DisplayName("a call left ringing by a node that died is swept as missed, and does not make its callee busy")
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void sweep(VertxTestContext ctx) {
    Pair p = pair();
    Device bob = device(p.bobToken());
    String orphan = UUID.randomUUID().toString();
    await(node.context().pool().preparedQuery(ORPHAN)
      .execute(Tuple.of(UUID.fromString(orphan), UUID.fromString(p.conv()), p.alice(), p.bob())));
    String carol = Api.user("carol");
    String carolToken = api.token(carol);
    String carolAndBob = ok(api.post("/api/conversations", carolToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(p.bob()))), 201).getString("id");
    JsonObject fresh = ok(api.post("/api/calls/offer", carolToken,
      new JsonObject().put("conversationId", carolAndBob).put("sdp", SDP).put("media", "audio")), 201);
    assertThat(fresh.getString("state")).isEqualTo("ringing");

    var swept = ctx.checkpoint();
    bob.next(Types.CALL_END).compose(e -> e.getJsonObject("payload").getString("callId").equals(orphan)
        ? Future.succeededFuture(e) : bob.next(Types.CALL_END))
      .onComplete(ctx.succeeding(e -> ctx.verify(() -> {
        assertThat(e.getJsonObject("payload")).isEqualTo(end(orphan, "missed"));
        swept.flag();
      })));
  }

  @Test
  @DisplayName("the ICE servers are those of calls.iceServers")
  void iceServers() {
    JsonObject body = ok(api.get("/api/calls/ice-servers", api.token(Api.user("alice"))), 200);
    assertThat(body).isEqualTo(new JsonObject().put("iceServers", ICE_SERVERS));
  }

  private static boolean awaitCompletion(VertxTestContext ctx) {
    try {
      return ctx.awaitCompletion(20, TimeUnit.SECONDS) && !ctx.failed();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
