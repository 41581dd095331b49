package io.switchboard.webhook;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.Receiver;
import io.switchboard.testing.Receiver.Answer;
import io.switchboard.testing.Receiver.Hit;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Webhooks (SPEC §10) to a real HTTP receiver on loopback: signed, in order per conversation,
 * the same id on every retry and accepted once, dead-lettered after {@code webhooks.maxAttempts}
 * (visible in {@code /api/stats} and {@code /metrics}), for messages, membership, calls, presence
 * and {@code message_unseen}.
 */
class WebhookTest {

  static final String SECRET = "whsec-test-0123456789";
  static final String DEAD_SECRET = "whsec-dead";
  static final int MAX_ATTEMPTS = 4;
  /** The flaky endpoint answers 503 to its first requests, then 200. */
  static final int FLAKY_FAILURES = 3;
  static final int RETRY_BASE_MS = 100;

  static Receiver receiver;
  static Node node;
  static Api api;
  static final AtomicInteger deadCalls = new AtomicInteger();
  final Clients clients = new Clients();

  @BeforeAll
  static void start() {
    receiver = new Receiver()
      .on("/hooks", (n, body) -> n <= FLAKY_FAILURES ? new Answer(503, "busy") : Answer.ok())
      .on("/dead", (n, body) -> {
        deadCalls.incrementAndGet();
        return new Answer(500, "down");
      });
    JsonObject webhooks = new JsonObject()
      .put("endpoints", new JsonArray()
        .add(new JsonObject().put("url", receiver.url("/hooks")).put("secret", SECRET).put("events", new JsonArray().add("*")))
        .add(new JsonObject().put("url", receiver.url("/dead")).put("secret", DEAD_SECRET)
          .put("events", new JsonArray().add("call_started"))))
      .put("maxAttempts", MAX_ATTEMPTS)
      .put("unseenDelaySeconds", 1)
      .put("timeoutSeconds", 2)
      .put("retryBaseMillis", RETRY_BASE_MS)
      .put("retryMaxSeconds", 1);
    node = TestNodes.TestCluster.create().start(new JsonObject().put("webhooks", webhooks), EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() {
    await(node.stop());
    receiver.close();
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  // ---- what a receiver does (the README's Java example) ----

  /** Verifies {@code Switchboard-Signature}; refuses a timestamp more than 5 minutes off. */
  static boolean verify(String secret, String header, String body, long nowSeconds) throws Exception {
    if (header == null) {
      return false;
    }
    long t = -1;
    String v1 = null;
    for (String part : header.split(",")) {
      String[] kv = part.trim().split("=", 2);
      if (kv.length == 2 && kv[0].equals("t")) {
        t = Long.parseLong(kv[1]);
      } else if (kv.length == 2 && kv[0].equals("v1")) {
        v1 = kv[1];
      }
    }
    if (t < 0 || v1 == null || Math.abs(nowSeconds - t) > 300) {
      return false;
    }
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String expected = HexFormat.of().formatHex(mac.doFinal((t + "." + body).getBytes(StandardCharsets.UTF_8)));
    return MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8), v1.getBytes(StandardCharsets.UTF_8));
  }

  static HttpResponse<Buffer> admin(String method, String path, JsonObject body) {
    var req = api.client().request(io.vertx.core.http.HttpMethod.valueOf(method), path).putHeader("X-API-Key", "dev-key");
    return await(body == null ? req.send() : req.sendJsonObject(body));
  }

  static JsonObject ok(HttpResponse<Buffer> r, int status) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    return r.bodyAsJsonObject();
  }

  /** The accepted (2xx) webhooks of the endpoint whose data match, in the order they were accepted. */
  static List<JsonObject> accepted(List<Hit> hits, String path, Predicate<JsonObject> which) {
    List<JsonObject> out = new ArrayList<>();
    for (Hit h : hits) {
      if (h.path().equals(path) && h.status() / 100 == 2 && which.test(h.json())) {
        out.add(h.json());
      }
    }
    return out;
  }

  static Predicate<JsonObject> inConversation(String conversationId) {
    return e -> conversationId.equals(e.getJsonObject("data").getString("conversationId"));
  }

  @Test
  @DisplayName("a conversation's events arrive signed, in order, each id accepted once, though the receiver failed for a while")
  void orderedSignedOnce() throws Exception {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    JsonObject group = ok(admin("POST", "/api/admin/conversations", new JsonObject().put("type", "group")
      .put("name", "hooks").put("participantIds", new JsonArray().add(alice))), 201);
    String conv = group.getString("id");
    ok(admin("POST", "/api/admin/conversations/" + conv + "/members/" + bob, null), 200);
    String token = api.token(alice);
    List<Long> seqs = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      seqs.add(api.send(token, conv, "m" + i).getLong("seq"));
    }
    ok(admin("DELETE", "/api/admin/conversations/" + conv + "/members/" + bob, null), 200);

    // member_joined, five message_created, member_left: seven events of one conversation.
    List<Hit> hits = receiver.await(h -> accepted(h, "/hooks", inConversation(conv)).stream()
      .anyMatch(e -> e.getString("type").equals("member_left")), "the conversation's member_left", 30);
    // (message_unseen for Bob may follow if he was removed only after the delay: not counted here.)
    List<JsonObject> events = accepted(hits, "/hooks", inConversation(conv).and(e -> !e.getString("type").equals("message_unseen")));
    List<String> types = events.stream().map(e -> e.getString("type")).toList();
    assertThat(types).containsExactly("member_joined", "message_created", "message_created", "message_created",
      "message_created", "message_created", "member_left");
    assertThat(events.subList(1, 6).stream().map(e -> e.getJsonObject("data").getLong("seq")).toList())
      .as("messages in seq order").isEqualTo(seqs);
    assertThat(events.subList(1, 6).stream().map(e -> e.getJsonObject("data").getValue("content")).toList())
      .containsExactly("m1", "m2", "m3", "m4", "m5");
    assertThat(events.get(0).getJsonObject("data").getString("userId")).isEqualTo(bob);
    assertThat(events.get(6).getJsonObject("data").getString("userId")).isEqualTo(bob);
    JsonObject first = events.get(1);
    assertThat(first.getString("id")).isNotBlank();
    assertThat(first.getString("createdAt")).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    assertThat(first.getJsonObject("data").getString("senderId")).isEqualTo(alice);

    // Every request on the endpoint: signed with its secret, a fresh timestamp, the id in a header too.
    long now = System.currentTimeMillis() / 1000;
    Map<String, Integer> acceptedTimes = new HashMap<>();
    Set<String> failedIds = new LinkedHashSet<>();
    for (Hit h : receiver.hits()) {
      if (!h.path().equals("/hooks")) {
        continue;
      }
      assertThat(verify(SECRET, h.header("Switchboard-Signature"), h.body(), now)).as(h.body()).isTrue();
      assertThat(verify("wrong-secret", h.header("Switchboard-Signature"), h.body(), now)).isFalse();
      // The example refuses a timestamp ten minutes old: a replay.
      assertThat(verify(SECRET, h.header("Switchboard-Signature"), h.body(), now + 600)).isFalse();
      assertThat(h.header("Switchboard-Event-Id")).isEqualTo(h.json().getString("id"));
      assertThat(h.header("Content-Type")).startsWith("application/json");
      if (h.status() / 100 == 2) {
        acceptedTimes.merge(h.json().getString("id"), 1, Integer::sum);
      } else {
        failedIds.add(h.json().getString("id"));
      }
    }
    assertThat(failedIds).as("the receiver failed some").isNotEmpty();
    assertThat(acceptedTimes.keySet()).as("each failed id came again and was accepted").containsAll(failedIds);
    assertThat(acceptedTimes.values()).as("each id accepted once").allMatch(n -> n == 1);
  }

  @Test
  @DisplayName("message_edited, message_deleted and member_left of a removal, after the message, in seq order")
  void editDeleteRemove() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    JsonObject group = ok(admin("POST", "/api/admin/conversations", new JsonObject().put("type", "group")
      .put("name", "life").put("participantIds", new JsonArray().add(alice).add(bob))), 201);
    String conv = group.getString("id");
    String token = api.token(alice);
    JsonObject sent = api.send(token, conv, "first");
    String messageId = sent.getString("id");
    ok(api.request(io.vertx.core.http.HttpMethod.PATCH, "/api/conversations/" + conv + "/messages/" + messageId, token,
      new JsonObject().put("content", "second")), 200);
    ok(api.request(io.vertx.core.http.HttpMethod.DELETE, "/api/conversations/" + conv + "/messages/" + messageId, token,
      null), 200);
    ok(api.request(io.vertx.core.http.HttpMethod.DELETE, "/api/conversations/" + conv + "/members/" + bob, token,
      null), 200);

    List<Hit> hits = receiver.await(h -> accepted(h, "/hooks", inConversation(conv)).stream()
      .anyMatch(e -> e.getString("type").equals("member_left")), "the removal's member_left", 30);
    List<JsonObject> events = accepted(hits, "/hooks", inConversation(conv).and(e -> !e.getString("type").equals("message_unseen")));
    assertThat(events.stream().map(e -> e.getString("type")).toList())
      .containsExactly("message_created", "message_edited", "message_deleted", "member_left");
    JsonObject edited = events.get(1).getJsonObject("data");
    assertThat(edited.getString("messageId")).isEqualTo(messageId);
    assertThat(edited.getValue("content")).isEqualTo("second");
    assertThat(events.get(2).getJsonObject("data").getString("messageId")).isEqualTo(messageId);
    assertThat(events.get(2).getJsonObject("data").containsKey("content")).as("a delete carries no content").isFalse();
    JsonObject left = events.get(3).getJsonObject("data");
    assertThat(left.getString("userId")).isEqualTo(bob);
    assertThat(left.getString("by")).isEqualTo(alice);
    List<Long> seqs = events.stream().map(e -> e.getJsonObject("data").getLong("seq")).toList();
    assertThat(seqs).isSorted().doesNotHaveDuplicates();
  }

  @Test
  @DisplayName("message_unseen for a member who read nothing within webhooks.unseenDelaySeconds, none for one who read")
  void unseen() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    JsonObject group = ok(admin("POST", "/api/admin/conversations", new JsonObject().put("type", "group")
      .put("name", "unseen").put("participantIds", new JsonArray().add(alice).add(bob).add(carol))), 201);
    String conv = group.getString("id");
    JsonObject sent = ok(admin("POST", "/api/admin/conversations/" + conv + "/messages",
      new JsonObject().put("senderId", alice).put("content", "ping")), 201);
    long seq = sent.getLong("seq");
    // Carol reads it at once; Bob does not.
    ok(api.post("/api/conversations/" + conv + "/read", api.token(carol), new JsonObject().put("seq", seq)), 200);
    List<Hit> hits = receiver.await(h -> !accepted(h, "/hooks", inConversation(conv).and(
      e -> e.getString("type").equals("message_unseen"))).isEmpty(), "message_unseen", 20);
    List<JsonObject> unseen = accepted(hits, "/hooks", inConversation(conv).and(e -> e.getString("type").equals("message_unseen")));
    assertThat(unseen).hasSize(1);
    JsonObject data = unseen.get(0).getJsonObject("data");
    assertThat(data.getString("userId")).isEqualTo(bob);
    assertThat(data.getLong("seq")).isEqualTo(seq);
    assertThat(data.getJsonObject("message").getString("senderId")).isEqualTo(alice);
    // message_created came first on the conversation's stream.
    List<String> types = accepted(hits, "/hooks", inConversation(conv)).stream().map(e -> e.getString("type")).toList();
    assertThat(types.indexOf("message_created")).isLessThan(types.indexOf("message_unseen"));
  }

  @Test
  @DisplayName("call_started and call_ended with outcome and duration; a call_started nobody takes is dead-lettered")
  void callsAndDeadLetters() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    long deadBefore = ok(admin("GET", "/api/stats", null), 200).getJsonObject("webhooks").getLong("deadLettered");
    JsonObject direct = ok(admin("POST", "/api/admin/conversations", new JsonObject().put("type", "direct")
      .put("participantIds", new JsonArray().add(alice).add(bob))), 201);
    String conv = direct.getString("id");
    String aliceToken = api.token(alice);
    JsonObject offered = ok(api.post("/api/calls/offer", aliceToken, new JsonObject().put("conversationId", conv)
      .put("sdp", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n").put("media", "audio")), 201);
    String callId = offered.getString("callId");
    ok(api.post("/api/calls/end", aliceToken, new JsonObject().put("callId", callId)), 200);

    List<Hit> hits = receiver.await(h -> accepted(h, "/hooks", inConversation(conv)).size() >= 2, "call webhooks", 20);
    List<JsonObject> events = accepted(hits, "/hooks", inConversation(conv));
    assertThat(events.stream().map(e -> e.getString("type")).toList()).containsExactly("call_started", "call_ended");
    JsonObject ended = events.get(1).getJsonObject("data");
    assertThat(ended.getString("callId")).isEqualTo(callId);
    assertThat(ended.getString("conversationId")).isEqualTo(conv);
    assertThat(ended.getString("outcome")).isEqualTo("cancelled");
    assertThat(ended.getInteger("durationSeconds")).isZero();

    // The /dead endpoint wants call_started and always fails: MAX_ATTEMPTS tries of one id, then a dead letter.
    receiver.await(h -> h.stream().filter(x -> x.path().equals("/dead")
      && inConversation(conv).test(x.json())).count() >= MAX_ATTEMPTS, "every attempt at /dead", 20);
    JsonObject webhooks = awaitStats(s -> s.getLong("deadLettered") >= deadBefore + 1);
    assertThat(webhooks.getInteger("endpoints")).isEqualTo(2);
    List<Hit> attempts = receiver.hits().stream().filter(x -> x.path().equals("/dead") && inConversation(conv).test(x.json())).toList();
    assertThat(attempts).hasSize(MAX_ATTEMPTS);
    assertThat(attempts.stream().map(x -> x.json().getString("id")).distinct().count()).as("one id on every retry").isEqualTo(1);
    long now = System.currentTimeMillis() / 1000;
    attempts.forEach(x -> {
      try {
        assertThat(verify(DEAD_SECRET, x.header("Switchboard-Signature"), x.body(), now)).isTrue();
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    // Backed off exponentially: wait i is at least 80 % of base × 2^(i-1) (±20 % jitter).
    for (int i = 1; i < MAX_ATTEMPTS; i++) {
      long gap = attempts.get(i).atMillis() - attempts.get(i - 1).atMillis();
      assertThat(gap).as("wait before attempt " + (i + 1)).isGreaterThanOrEqualTo((long) (0.8 * RETRY_BASE_MS * (1L << (i - 1))) - 5);
    }

    JsonObject dead = ok(admin("GET", "/api/admin/webhooks/dead-letters?limit=1000", null), 200);
    List<JsonObject> mine = dead.getJsonArray("deadLetters").stream().map(o -> (JsonObject) o)
      .filter(d -> conv.equals(d.getJsonObject("data").getString("conversationId"))).toList();
    assertThat(mine).hasSize(1);
    assertThat(mine.get(0).getString("endpoint")).isEqualTo(receiver.url("/dead"));
    assertThat(mine.get(0).getInteger("attempts")).isEqualTo(MAX_ATTEMPTS);

    // Put back in line by the admin route: the same id is sent again.
    JsonObject retried = ok(admin("POST", "/api/admin/webhooks/dead-letters/retry",
      new JsonObject().put("deliveryId", mine.get(0).getLong("deliveryId"))), 200);
    assertThat(retried.getInteger("retried")).isEqualTo(1);
    String deadId = attempts.get(0).json().getString("id");
    receiver.await(h -> h.stream().filter(x -> x.path().equals("/dead") && deadId.equals(x.json().getString("id")))
      .count() > MAX_ATTEMPTS, "the retried dead letter", 20);
    assertError(admin("POST", "/api/admin/webhooks/dead-letters/retry", new JsonObject().put("deliveryId", "one")),
      400, "invalid_request");

    // /metrics shows the dead letters (the gauge is refreshed every few seconds).
    long deadline = System.currentTimeMillis() + 20_000;
    String metrics = "";
    while (System.currentTimeMillis() < deadline) {
      metrics = await(api.client().get("/metrics").send()).bodyAsString();
      if (metricValue(metrics, "switchboard_webhooks_dead_letters") >= deadBefore + 1) {
        break;
      }
      await(Api.clientVertx().timer(200));
    }
    assertThat(metricValue(metrics, "switchboard_webhooks_dead_letters")).isGreaterThanOrEqualTo(deadBefore + 1);
  }

  @Test
  @DisplayName("user_online when a user's first connection opens, user_offline after the last one closed")
  void presence() {
    String dave = Api.user("dave");
    var ws = clients.ws(api.port(), api.token(dave));
    Predicate<JsonObject> daves = e -> dave.equals(e.getJsonObject("data").getString("userId"));
    receiver.await(h -> !accepted(h, "/hooks", daves.and(e -> e.getString("type").equals("user_online"))).isEmpty(),
      "user_online", 20);
    ws.close();
    List<Hit> hits = receiver.await(h -> !accepted(h, "/hooks", daves.and(e -> e.getString("type").equals("user_offline")))
      .isEmpty(), "user_offline", 20);
    List<JsonObject> events = accepted(hits, "/hooks", daves);
    assertThat(events.stream().map(e -> e.getString("type")).toList()).containsExactly("user_online", "user_offline");
    assertThat(events.get(1).getJsonObject("data").getString("lastSeenAt")).isNotBlank();
  }

  static JsonObject awaitStats(Predicate<JsonObject> condition) {
    long deadline = System.currentTimeMillis() + 20_000;
    JsonObject w = null;
    while (System.currentTimeMillis() < deadline) {
      w = ok(admin("GET", "/api/stats", null), 200).getJsonObject("webhooks");
      if (w != null && condition.test(w)) {
        return w;
      }
      await(Api.clientVertx().timer(100));
    }
    throw new AssertionError("webhook stats never matched; last " + w);
  }

  static double metricValue(String text, String name) {
    for (String line : text.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return -1;
  }
}
