package io.switchboard.http.poll;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.function.IntPredicate;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

class PollTest {

  static final String SESSIONS = "SELECT count(*)::int FROM stream_sessions WHERE user_id = $1";

  static Node node;
  static Api api;
  static TestNodes.TestCluster cluster;
  static Node node1;
  static Node node2;

  @BeforeAll
  static void nodes() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
  }

  /** Two full members with a high message rate (the cap test sends hundreds), started on first use. */
  static synchronized void cluster() {
    if (cluster == null) {
      cluster = TestNodes.TestCluster.create();
      JsonObject overrides = new JsonObject().put("limits", new JsonObject()
        .put("commandsPerSecond", 10_000).put("commandBurst", 10_000)
        .put("messagesPerSecond", 10_000).put("messageBurst", 10_000));
      node1 = cluster.start(overrides, EnumSet.of(Node.Role.HTTP, Node.Role.SERVICES));
      node2 = cluster.start(overrides, EnumSet.of(Node.Role.HTTP, Node.Role.SERVICES));
    }
  }

  @AfterAll
  static void stopCluster() {
    if (node2 != null) {
      await(node2.stop());
    }
    if (node1 != null) {
      await(node1.stop());
    }
  }

  // ---- helpers ----

  static Future<HttpResponse<Buffer>> pollAsync(Api on, String token, String cursor, String extra) {
    StringBuilder uri = new StringBuilder("/api/events/poll?");
    uri.append(extra != null && extra.contains("timeout=") ? extra : "timeout=60" + (extra == null ? "" : "&" + extra));
    if (cursor != null) {
      uri.append("&cursor=").append(URLEncoder.encode(cursor, StandardCharsets.UTF_8));
    }
    var req = on.client().get(uri.toString());
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return req.send();
  }

  /** One poll (timeout 60 s unless {@code extra} says otherwise); asserts 200 and a cursor. */
  static JsonObject poll(Api on, String token, String cursor, String extra) {
    HttpResponse<Buffer> r = await(pollAsync(on, token, cursor, extra));
    return ok(r);
  }

  static JsonObject ok(HttpResponse<Buffer> r) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    JsonObject body = r.bodyAsJsonObject();
    assertThat(body.getString("cursor")).isNotBlank();
    assertThat(body.getJsonArray("events")).isNotNull();
    return body;
  }

  static List<String> types(JsonObject answer) {
    List<String> out = new ArrayList<>();
    answer.getJsonArray("events").forEach(e -> out.add(((JsonObject) e).getString("type")));
    return out;
  }

  static List<Long> seqs(JsonObject answer, String conversationId) {
    List<Long> out = new ArrayList<>();
    for (Object o : answer.getJsonArray("events")) {
      JsonObject e = (JsonObject) o;
      JsonObject p = e.getJsonObject("payload");
      if ("message_received".equals(e.getString("type")) && conversationId.equals(p.getString("conversationId"))) {
        out.add(p.getLong("seq"));
      }
    }
    return out;
  }

  /** The poll count in /api/health, asked up to {@code attempts} times, 50 ms apart, until {@code wanted}. */
  static Future<Integer> pollConnections(Api on, int attempts, IntPredicate wanted) {
    return on.client().get("/api/health").send().compose(r -> {
      int n = r.bodyAsJsonObject().getJsonObject("connections").getInteger("poll");
      if (wanted.test(n) || attempts <= 1) {
        return Future.succeededFuture(n);
      }
      return Api.clientVertx().timer(50).compose(v -> pollConnections(on, attempts - 1, wanted));
    });
  }

  /** How many stream sessions {@code userId} has, asked up to {@code attempts} times, 50 ms apart. */
  static Future<Integer> sessions(String userId, int attempts, IntPredicate wanted) {
    return node.context().pool().preparedQuery(SESSIONS).execute(Tuple.of(userId)).compose(rows -> {
      int n = rows.iterator().next().getInteger(0);
      if (wanted.test(n) || attempts <= 1) {
        return Future.succeededFuture(n);
      }
      return Api.clientVertx().timer(50).compose(v -> sessions(userId, attempts - 1, wanted));
    });
  }

  // ---- tests ----

  @Test
  @DisplayName("a first poll without a cursor answers at once with connected and a cursor")
  void firstPoll() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    long started = System.nanoTime();
    JsonObject answer = poll(api, token, null, null);
    assertThat((System.nanoTime() - started) / 1_000_000).isLessThan(20_000);
    assertThat(types(answer)).containsExactly("connected");
    JsonObject connected = answer.getJsonArray("events").getJsonObject(0).getJsonObject("payload");
    assertThat(connected.getString("userId")).isEqualTo(alice);
    assertThat(connected.getString("sessionId")).isNotBlank();
    assertThat(answer.getString("cursor")).startsWith(connected.getString("sessionId") + ".");
  }

  @Test
  @DisplayName("a poll with a cursor answers with a message posted while it waits")
  void messageWhileWaiting() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conv = api.group(token, "Team").getString("id");
    String cursor = poll(api, token, null, null).getString("cursor");

    Future<HttpResponse<Buffer>> waiting = pollAsync(api, token, cursor, null);
    api.send(token, conv, "hello");
    JsonObject answer = ok(await(waiting));

    assertThat(types(answer)).containsExactly("message_received");
    JsonObject message = answer.getJsonArray("events").getJsonObject(0).getJsonObject("payload");
    assertThat(message.getString("content")).isEqualTo("hello");
    assertThat(message.getLong("seq")).isEqualTo(1L);
  }

  @Test
  @DisplayName("polling with each answer's cursor yields every message exactly once, in seq order")
  void exactlyOnce() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String conv = api.group(aliceToken, "Team", bob).getString("id");
    String cursor = poll(api, bobToken, null, null).getString("cursor");

    List<Long> received = new ArrayList<>();
    int sent = 0;
    for (int round = 0; round < 4; round++) {
      // Some sent between polls (replayed), one while the poll waits (live).
      for (int i = 0; i < round; i++) {
        api.send(aliceToken, conv, "between " + round + "." + i);
        sent++;
      }
      Future<HttpResponse<Buffer>> waiting = pollAsync(api, bobToken, cursor, null);
      if (round % 2 == 0) {
        api.send(aliceToken, conv, "during " + round);
        sent++;
      }
      JsonObject answer = ok(await(waiting));
      received.addAll(seqs(answer, conv));
      cursor = answer.getString("cursor");
      while (received.size() < sent) {
        answer = poll(api, bobToken, cursor, null);
        received.addAll(seqs(answer, conv));
        cursor = answer.getString("cursor");
      }
    }
    JsonObject last = poll(api, bobToken, cursor, "timeout=1");
    assertThat(last.getJsonArray("events")).isEmpty();

    List<Long> expected = new ArrayList<>();
    for (long s = 1; s <= sent; s++) {
      expected.add(s);
    }
    assertThat(received).containsExactlyElementsOf(expected);
  }

  @Test
  @DisplayName("a poll on node B with the cursor from node A resumes with nothing missing and nothing twice")
  void resumeOnAnotherNode() {
    cluster();
    Api a = new Api(TestNodes.port(node1));
    Api b = new Api(TestNodes.port(node2));
    String alice = Api.user("alice");
    String token = a.token(alice);
    String conv = a.group(token, "Team").getString("id");
    String cursor = poll(a, token, null, null).getString("cursor");
    a.send(token, conv, "one");
    JsonObject first = poll(a, token, cursor, null);
    assertThat(seqs(first, conv)).containsExactly(1L);

    a.send(token, conv, "two");
    a.send(token, conv, "three");
    JsonObject second = poll(b, token, first.getString("cursor"), null);
    assertThat(seqs(second, conv)).containsExactly(2L, 3L);
    assertThat(second.getJsonArray("events").getJsonObject(0).getJsonObject("payload").getString("content"))
      .isEqualTo("two");

    Future<HttpResponse<Buffer>> waiting = pollAsync(a, token, second.getString("cursor"), null);
    b.send(token, conv, "four");
    assertThat(seqs(ok(await(waiting)), conv)).containsExactly(4L);
  }

  @Test
  @DisplayName("a poll that times out answers no events and a cursor at the same position")
  void timeout() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String conv = api.group(token, "Team").getString("id");
    api.send(token, conv, "before");
    String cursor = poll(api, token, null, null).getString("cursor");

    long started = System.nanoTime();
    JsonObject idle = poll(api, token, cursor, "timeout=1");
    long elapsedMs = (System.nanoTime() - started) / 1_000_000;
    assertThat(idle.getJsonArray("events")).isEmpty();
    assertThat(elapsedMs).isBetween(900L, 20_000L);

    api.send(token, conv, "after");
    JsonObject next = poll(api, token, idle.getString("cursor"), null);
    assertThat(seqs(next, conv)).containsExactly(2L);
  }

  @Test
  @DisplayName("a poll with an unusable cursor answers connected and resync_required with a fresh cursor")
  void garbageCursor() {
    String token = api.token(Api.user("alice"));
    JsonObject answer = poll(api, token, "not-a-cursor", null);
    assertThat(types(answer)).containsExactly("connected", "resync_required");
    assertThat(answer.getString("cursor")).isNotEqualTo("not-a-cursor");

    JsonObject next = poll(api, token, answer.getString("cursor"), "timeout=1");
    assertThat(next.getJsonArray("events")).isEmpty();
  }

  @Test
  @DisplayName("a poll without credentials is refused with 401")
  void unauthenticated() {
    Api.assertError(api.get("/api/events/poll?timeout=1", null), 401, "unauthorized");
  }

  @Test
  @DisplayName("a non-numeric timeout is refused with 400 invalid_request")
  void badTimeout() {
    String token = api.token(Api.user("alice"));
    Api.assertError(api.get("/api/events/poll?timeout=abc", token), 400, "invalid_request");
  }

  @Test
  @DisplayName("a poll for a room the user is not in is refused with 403")
  void forbiddenRoom() {
    String owner = api.token(Api.user("owner"));
    String conv = api.group(owner, "Private").getString("id");
    String token = api.token(Api.user("alice"));
    Api.assertError(api.get("/api/events/poll?timeout=1&rooms=" + conv, token), 403, "forbidden");
  }

  @Test
  @DisplayName("a poll closed by the client releases its connection")
  void clientCloses() {
    String token = api.token(Api.user("alice"));
    String cursor = poll(api, token, null, null).getString("cursor");
    int before = await(pollConnections(api, 1, n -> true));
    HttpClient http = Api.clientVertx().createHttpClient();
    try {
      HttpClientRequest request = await(http.request(new RequestOptions()
        .setMethod(HttpMethod.GET)
        .setHost("127.0.0.1")
        .setPort(TestNodes.port(node))
        .setURI("/api/events/poll?timeout=60&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8))
        .putHeader("Authorization", "Bearer " + token)));
      request.send();
      assertThat(await(pollConnections(api, 200, n -> n > before))).isEqualTo(before + 1);

      request.reset();
      assertThat(await(pollConnections(api, 200, n -> n == before))).isEqualTo(before);
    } finally {
      await(http.close());
    }
  }

  @Test
  @DisplayName("leaving a group between polls delivers member_left once and no resync afterwards")
  void leaveBetweenPolls() {
    String owner = Api.user("owner");
    String alice = Api.user("alice");
    String ownerToken = api.token(owner);
    String aliceToken = api.token(alice);
    String conv = api.group(ownerToken, "Team", alice).getString("id");
    String other = api.group(aliceToken, "Other").getString("id");
    String cursor = poll(api, aliceToken, null, null).getString("cursor");
    api.send(ownerToken, conv, "one");
    JsonObject first = poll(api, aliceToken, cursor, null);
    assertThat(seqs(first, conv)).containsExactly(1L);

    HttpResponse<Buffer> left = api.post("/api/conversations/" + conv + "/leave", aliceToken, null);
    assertThat(left.statusCode()).as(left.bodyAsString()).isEqualTo(200);
    JsonObject second = poll(api, aliceToken, first.getString("cursor"), null);
    assertThat(types(second)).containsExactly("member_left");

    JsonObject third = poll(api, aliceToken, second.getString("cursor"), "timeout=1");
    assertThat(types(third)).isEmpty();

    api.send(ownerToken, conv, "not for alice");
    api.send(aliceToken, other, "for alice");
    JsonObject fourth = poll(api, aliceToken, third.getString("cursor"), null);
    assertThat(types(fourth)).containsExactly("message_received");
    assertThat(seqs(fourth, other)).containsExactly(1L);
  }

  @Test
  @DisplayName("polls that resume by cursor go on the session of the first one: no new session row per poll")
  void pollsReuseTheirSession() {
    String alice = Api.user("alice");
    String aliceToken = api.token(alice);
    String bobToken = api.token(Api.user("bob"));
    String conv = api.group(bobToken, "Reuse", alice).getString("id");
    JsonObject first = poll(api, aliceToken, null, null);
    assertThat(await(sessions(alice, 1, n -> true))).isEqualTo(1);
    String cursor = first.getString("cursor");
    long last = 0;
    for (int i = 0; i < 5; i++) {
      long sent = api.send(bobToken, conv, "m" + i).getLong("seq");
      JsonObject answer = poll(api, aliceToken, cursor, null);
      assertThat(seqs(answer, conv)).containsExactly(sent);
      assertThat(sent).isGreaterThan(last);
      last = sent;
      cursor = answer.getString("cursor");
    }
    assertThat(cursor).startsWith(first.getString("cursor").substring(0, first.getString("cursor").indexOf('.')));
    assertThat(await(sessions(alice, 1, n -> true))).as("session rows of alice").isEqualTo(1);
  }

  @Test
  @DisplayName("a conversation created while a poll waits is announced once, not again on the next poll")
  void createdWhileWaiting() {
    String alice = Api.user("alice");
    String bobToken = api.token(Api.user("bob"));
    String aliceToken = api.token(alice);
    String cursor = poll(api, aliceToken, null, null).getString("cursor");

    Future<HttpResponse<Buffer>> waiting = pollAsync(api, aliceToken, cursor, null);
    // Created once the poll is open (live or replayed, it is announced once either way).
    assertThat(await(pollConnections(api, 40, n -> n >= 1))).isGreaterThanOrEqualTo(1);
    String conv = api.group(bobToken, "New", alice).getString("id");
    JsonObject answer = ok(await(waiting));
    assertThat(types(answer)).containsExactly("conversation_created");
    assertThat(answer.getJsonArray("events").getJsonObject(0).getJsonObject("payload").getString("conversationId"))
      .isEqualTo(conv);

    api.send(bobToken, conv, "hi");
    JsonObject next = poll(api, aliceToken, answer.getString("cursor"), null);
    assertThat(types(next)).containsExactly("message_received");
    assertThat(seqs(next, conv)).containsExactly(1L);
  }

  @Test
  @DisplayName("a topic push reaches a poll subscribed with ?topics= while it is open")
  void topicPush() {
    String token = api.token(Api.user("alice"));
    String cursor = poll(api, token, null, null).getString("cursor");
    String topic = "public.poll-" + Api.user("t");
    Future<HttpResponse<Buffer>> waiting = pollAsync(api, token, cursor, "topics=" + topic);
    // Ephemeral: only a poll already subscribed receives it, so publish until one does.
    for (int i = 0; i < 100 && !waiting.isComplete(); i++) {
      HttpResponse<Buffer> r = await(api.client().post("/api/publish").putHeader("X-API-Key", "dev-key")
        .sendJsonObject(new JsonObject().put("topic", topic).put("event", "announcement")
          .put("data", new JsonObject().put("n", i))));
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
      await(Api.clientVertx().timer(50));
    }
    JsonObject answer = ok(await(waiting));
    assertThat(types(answer)).isNotEmpty().allMatch("announcement"::equals);
    assertThat(answer.getJsonArray("events").getJsonObject(0).getJsonObject("payload").getString("topic"))
      .isEqualTo(topic);
  }

  @Test
  @DisplayName("more missed messages than one answer holds come in bounded answers, each once, in order")
  void bounded() {
    cluster();
    Api a = new Api(TestNodes.port(node1));
    Api b = new Api(TestNodes.port(node2));
    String alice = Api.user("alice");
    String token = a.token(alice);
    String conv = a.group(token, "Busy").getString("id");
    String cursor = poll(a, token, null, null).getString("cursor");
    int total = PollTransport.MAX_EVENTS + 20;
    List<Future<?>> sends = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      sends.add(a.client().post("/api/conversations/" + conv + "/messages").bearerTokenAuthentication(token)
        .sendJsonObject(new JsonObject().put("content", "m" + i)).map(r -> {
          assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
          return r;
        }));
    }
    await(Future.all(sends));

    JsonObject first = poll(b, token, cursor, null);
    assertThat(first.getJsonArray("events")).hasSize(PollTransport.MAX_EVENTS);
    JsonObject second = poll(a, token, first.getString("cursor"), null);
    List<Long> received = new ArrayList<>(seqs(first, conv));
    received.addAll(seqs(second, conv));
    List<Long> expected = new ArrayList<>();
    for (long s = 1; s <= total; s++) {
      expected.add(s);
    }
    assertThat(received).containsExactlyElementsOf(expected);
    JsonArray none = poll(b, token, second.getString("cursor"), "timeout=1").getJsonArray("events");
    assertThat(none).isEmpty();
  }
}
