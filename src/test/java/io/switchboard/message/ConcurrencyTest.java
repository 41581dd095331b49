package io.switchboard.message;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3 under real parallel HTTP requests: seqs stay 1, 2, 3 … without gaps or repeats, and
 * idempotent operations stay idempotent when their retries race each other.
 */
class ConcurrencyTest {

  static Api api;
  /** One connection per in-flight request, so requests really overlap on the server. */
  static WebClient wide;

  @BeforeAll
  static void setUp() {
    int port = TestNodes.port(TestNodes.shared());
    api = new Api(port);
    wide = WebClient.create(Api.clientVertx(),
      new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port).setKeepAlive(true),
      new PoolOptions().setHttp1MaxSize(64));
  }

  @AfterAll
  static void tearDown() {
    wide.close();
  }

  @Test
  @DisplayName("50 concurrent sends by five members to one conversation get seqs exactly 1..50")
  void concurrentSendsAreGapless() {
    String owner = Api.user("owner");
    List<String> members = List.of(owner, Api.user("m1"), Api.user("m2"), Api.user("m3"), Api.user("m4"));
    List<String> tokens = members.stream().map(api::token).toList();
    String id = api.group(tokens.get(0), "Busy", members.subList(1, 5).toArray(String[]::new)).getString("id");

    // Ten sends per member: within the per-user burst of SPEC §8, so a rate limit cannot interfere.
    List<Future<HttpResponse<Buffer>>> sends = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      sends.add(send(tokens.get(i % 5), id, new JsonObject().put("content", "m" + i)));
    }
    List<HttpResponse<Buffer>> replies = awaitAll(sends);

    for (HttpResponse<Buffer> r : replies) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    }
    Long[] oneToFifty = LongStream.rangeClosed(1, 50).boxed().toArray(Long[]::new);
    assertThat(replies.stream().map(r -> r.bodyAsJsonObject().getLong("seq")))
      .containsExactlyInAnyOrder(oneToFifty);
    JsonArray history = history(tokens.get(1), id, "?limit=200");
    assertThat(history.stream().map(m -> ((JsonObject) m).getLong("seq"))).containsExactly(oneToFifty);
    assertThat(history.stream().map(m -> ((JsonObject) m).getString("content")).collect(Collectors.toSet()))
      .hasSize(50);
    // Every reply is the stored message at its seq.
    for (HttpResponse<Buffer> r : replies) {
      JsonObject sent = r.bodyAsJsonObject();
      assertThat(history.getJsonObject(sent.getInteger("seq") - 1)).isEqualTo(sent);
    }
    assertThat(conversation(tokens.get(0), id).getLong("lastSeq")).isEqualTo(50L);
  }

  @Test
  @DisplayName("20 concurrent sends with the same clientMessageId store exactly one message and all get it back")
  void concurrentRetriesStoreOnce() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String id = api.group(token, "Retry storm").getString("id");
    JsonObject body = new JsonObject().put("content", "exactly once").put("clientMessageId", "storm-" + alice);

    List<Future<HttpResponse<Buffer>>> sends = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      sends.add(send(token, id, body));
    }
    List<HttpResponse<Buffer>> replies = awaitAll(sends);

    for (HttpResponse<Buffer> r : replies) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 201);
    }
    Set<String> ids = replies.stream().map(r -> r.bodyAsJsonObject().getString("id")).collect(Collectors.toSet());
    Set<Long> seqs = replies.stream().map(r -> r.bodyAsJsonObject().getLong("seq")).collect(Collectors.toSet());
    assertThat(ids).hasSize(1);
    assertThat(seqs).containsExactly(1L);
    JsonArray history = history(token, id, "");
    assertThat(history).hasSize(1);
    assertThat(history.getJsonObject(0).getString("id")).isEqualTo(ids.iterator().next());
    assertThat(history.getJsonObject(0).getString("clientMessageId")).isEqualTo("storm-" + alice);
    // The losing attempts burnt no seq: the conversation is at 1 and the next message is 2.
    assertThat(conversation(token, id).getLong("lastSeq")).isEqualTo(1L);
    assertThat(api.send(token, id, "after the storm").getLong("seq")).isEqualTo(2L);
  }

  @Test
  @DisplayName("concurrent sends interleaved with concurrent joins share one gapless timeline")
  void concurrentSendsAndJoins() {
    String owner = Api.user("owner");
    String ownerToken = api.token(owner);
    JsonObject group = api.group(ownerToken, "Doors open");
    String id = group.getString("id");
    List<String> joiners = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      joiners.add(Api.user("joiner" + i));
    }
    List<String> joinerTokens = joiners.stream().map(api::token).toList();

    List<Future<HttpResponse<Buffer>>> requests = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      requests.add(wide.post("/api/groups/join").bearerTokenAuthentication(joinerTokens.get(i))
        .sendJsonObject(new JsonObject().put("inviteCode", group.getString("inviteCode"))));
      requests.add(send(ownerToken, id, new JsonObject().put("content", "o" + i)));
    }
    for (HttpResponse<Buffer> r : awaitAll(requests)) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 201);
    }

    JsonArray history = history(ownerToken, id, "");
    assertThat(history.stream().map(m -> ((JsonObject) m).getLong("seq")))
      .containsExactly(LongStream.rangeClosed(1, 20).boxed().toArray(Long[]::new));
    assertThat(history.stream().map(JsonObject.class::cast)
      .filter(m -> "system".equals(m.getString("kind")))
      .map(m -> m.getJsonObject("content").getString("userId")))
      .containsExactlyInAnyOrderElementsOf(joiners);
    assertThat(conversation(ownerToken, id).getJsonArray("members")).hasSize(11);
  }

  @Test
  @DisplayName("the same user joining 10 times at once joins once")
  void concurrentDuplicateJoins() {
    String ownerToken = api.token(Api.user("owner"));
    JsonObject group = api.group(ownerToken, "Eager");
    String carolToken = api.token(Api.user("carol"));

    List<Future<HttpResponse<Buffer>>> joins = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      joins.add(wide.post("/api/groups/join").bearerTokenAuthentication(carolToken)
        .sendJsonObject(new JsonObject().put("inviteCode", group.getString("inviteCode"))));
    }
    for (HttpResponse<Buffer> r : awaitAll(joins)) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    }

    assertThat(history(ownerToken, group.getString("id"), "")).hasSize(1);
    JsonObject c = conversation(ownerToken, group.getString("id"));
    assertThat(c.getLong("lastSeq")).isEqualTo(1L);
    assertThat(c.getJsonArray("members")).hasSize(2);
  }

  @Test
  @DisplayName("a direct conversation created concurrently from both sides is still one conversation")
  void concurrentDirectCreation() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);

    List<Future<HttpResponse<Buffer>>> creates = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      boolean fromAlice = i % 2 == 0;
      creates.add(wide.post("/api/conversations").bearerTokenAuthentication(fromAlice ? aliceToken : bobToken)
        .sendJsonObject(new JsonObject().put("type", "direct")
          .put("participantIds", new JsonArray().add(fromAlice ? bob : alice))));
    }
    List<HttpResponse<Buffer>> replies = awaitAll(creates);

    for (HttpResponse<Buffer> r : replies) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isBetween(200, 201);
    }
    assertThat(replies.stream().map(r -> r.bodyAsJsonObject().getString("id")).distinct()).hasSize(1);
    assertThat(api.get("/api/conversations", aliceToken).bodyAsJsonObject().getJsonArray("conversations")).hasSize(1);
    assertThat(api.get("/api/conversations", bobToken).bodyAsJsonObject().getJsonArray("conversations")).hasSize(1);
  }

  @Test
  @DisplayName("two users creating groups with each other at the same time all succeed")
  void concurrentCrossedGroupCreation() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);

    List<Future<HttpResponse<Buffer>>> creates = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      boolean fromAlice = i % 2 == 0;
      creates.add(wide.post("/api/groups").bearerTokenAuthentication(fromAlice ? aliceToken : bobToken)
        .sendJsonObject(new JsonObject().put("name", "g" + i)
          .put("participantIds", new JsonArray().add(fromAlice ? bob : alice))));
    }
    List<HttpResponse<Buffer>> replies = awaitAll(creates);

    for (HttpResponse<Buffer> r : replies) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    }
    assertThat(replies.stream().map(r -> r.bodyAsJsonObject().getString("id")).distinct()).hasSize(10);
    assertThat(api.get("/api/conversations", aliceToken).bodyAsJsonObject().getJsonArray("conversations")).hasSize(10);
  }

  @Test
  @DisplayName("concurrent read marks leave the highest one: a read position never goes backwards")
  void concurrentReads() {
    String ownerToken = api.token(Api.user("owner"));
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    String id = api.group(ownerToken, "Readers", bob).getString("id");
    for (int i = 0; i < 20; i++) {
      api.send(ownerToken, id, "m" + i);
    }

    List<Future<HttpResponse<Buffer>>> reads = new ArrayList<>();
    for (int seq = 1; seq <= 20; seq++) {
      reads.add(wide.post("/api/conversations/" + id + "/read").bearerTokenAuthentication(bobToken)
        .sendJsonObject(new JsonObject().put("seq", seq)));
    }
    for (HttpResponse<Buffer> r : awaitAll(reads)) {
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    }

    JsonObject c = conversation(bobToken, id);
    assertThat(c.getLong("lastReadSeq")).isEqualTo(20L);
    assertThat(c.getLong("unreadCount")).isZero();
  }

  private static Future<HttpResponse<Buffer>> send(String token, String id, JsonObject body) {
    return wide.post("/api/conversations/" + id + "/messages").bearerTokenAuthentication(token).sendJsonObject(body);
  }

  /** Waits for every request, whatever the outcome of the others, and returns the responses in order. */
  private static List<HttpResponse<Buffer>> awaitAll(List<Future<HttpResponse<Buffer>>> futures) {
    await(Future.join(futures));
    return futures.stream().map(f -> {
      assertThat(f.succeeded()).as("request failed: %s", f.cause()).isTrue();
      return f.result();
    }).toList();
  }

  private static JsonArray history(String token, String id, String query) {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + id + "/messages" + query, token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("messages");
  }

  private static JsonObject conversation(String token, String id) {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + id, token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject();
  }
}
