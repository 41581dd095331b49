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

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.stream.LongStream;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §3 messages over REST: sending, history pages, read positions, idempotent retries. */
class MessageRestTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
  }

  @Test
  @DisplayName("a sent message comes back as stored: id, conversation, seq, sender, kind text, content, time")
  void sendTextMessage() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String id = api.group(token, "Send").getString("id");

    HttpResponse<Buffer> r = api.post(messages(id), token, new JsonObject().put("content", "héllo ✓"));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    JsonObject m = r.bodyAsJsonObject();
    assertThat(UUID.fromString(m.getString("id"))).isNotNull();
    assertThat(m.getString("conversationId")).isEqualTo(id);
    assertThat(m.getLong("seq")).isEqualTo(1L);
    assertThat(m.getString("senderId")).isEqualTo(alice);
    assertThat(m.getString("kind")).isEqualTo("text");
    assertThat(m.getString("content")).isEqualTo("héllo ✓");
    assertThat(m.containsKey("replyTo")).isFalse();
    assertThat(Instant.parse(m.getString("createdAt"))).isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(5));
    assertThat(history(token, id, "")).containsExactly(m);
  }

  @Test
  @DisplayName("a message can carry object content of its own kind, a replyTo and a clientMessageId, all kept in history")
  void sendRichMessage() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Rich", bob).getString("id");
    api.send(aliceToken, id, "question?");
    JsonObject ciphertext = new JsonObject().put("alg", "x25519").put("ct", "q83vEjRWeJA=");

    HttpResponse<Buffer> r = api.post(messages(id), bobToken, new JsonObject()
      .put("content", ciphertext).put("kind", "e2e.v1").put("replyTo", 1).put("clientMessageId", "c-" + UUID.randomUUID()));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    JsonObject m = r.bodyAsJsonObject();
    assertThat(m.getLong("seq")).isEqualTo(2L);
    assertThat(m.getString("kind")).isEqualTo("e2e.v1");
    assertThat(m.getJsonObject("content")).isEqualTo(ciphertext);
    assertThat(m.getLong("replyTo")).isEqualTo(1L);
    assertThat(m.getString("clientMessageId")).startsWith("c-");
    JsonArray seenByAlice = history(aliceToken, id, "");
    assertThat(seenByAlice).hasSize(2);
    assertThat(seenByAlice.getJsonObject(1)).isEqualTo(m);
  }

  @Test
  @DisplayName("replyTo must name an earlier seq: the seq the message itself would get, or later, is invalid_request")
  void replyToFuture() {
    String token = api.token(Api.user("alice"));
    String id = api.group(token, "Replies").getString("id");
    api.send(token, id, "one");

    assertError(api.post(messages(id), token, new JsonObject().put("content", "x").put("replyTo", 2)),
      400, "invalid_request");
    assertError(api.post(messages(id), token, new JsonObject().put("content", "x").put("replyTo", 99)),
      400, "invalid_request");
    // The refused sends burnt no seq: the next message is 2.
    HttpResponse<Buffer> ok = api.post(messages(id), token, new JsonObject().put("content", "x").put("replyTo", 1));
    assertThat(ok.statusCode()).as(ok.bodyAsString()).isEqualTo(201);
    assertThat(ok.bodyAsJsonObject().getLong("seq")).isEqualTo(2L);
  }

  @Test
  @DisplayName("history pages: default all ascending, limit = latest, before, after, and before with after")
  void historyPagination() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Pages", bob).getString("id");
    for (int i = 1; i <= 10; i++) {
      api.send(i % 2 == 0 ? bobToken : aliceToken, id, "m" + i);
    }

    assertThat(seqs(bobToken, id, "")).containsExactly(LongStream.rangeClosed(1, 10).boxed().toArray(Long[]::new));
    assertThat(seqs(bobToken, id, "?limit=3")).containsExactly(8L, 9L, 10L);
    assertThat(seqs(bobToken, id, "?before=5&limit=2")).containsExactly(3L, 4L);
    assertThat(seqs(bobToken, id, "?before=5")).containsExactly(1L, 2L, 3L, 4L);
    assertThat(seqs(bobToken, id, "?after=7")).containsExactly(8L, 9L, 10L);
    assertThat(seqs(bobToken, id, "?after=2&limit=3")).containsExactly(3L, 4L, 5L);
    assertThat(seqs(bobToken, id, "?after=0&limit=2")).containsExactly(1L, 2L);
    assertThat(seqs(bobToken, id, "?after=3&before=7")).containsExactly(4L, 5L, 6L);
    assertThat(seqs(bobToken, id, "?after=10")).isEmpty();
    assertThat(seqs(bobToken, id, "?before=1")).isEmpty();
    assertThat(seqs(bobToken, id, "?limit=200")).hasSize(10);
    assertThat(history(bobToken, id, "?limit=3").getJsonObject(0).getString("content")).isEqualTo("m8");
    assertError(api.get(messages(id) + "?limit=201", bobToken), 400, "invalid_request");
  }

  @Test
  @DisplayName("without a limit a page holds at most 50 items, the latest ones")
  void defaultLimit() {
    String token = api.token(Api.user("alice"));
    String id = api.group(token, "Long").getString("id");
    for (int i = 1; i <= 55; i++) {
      api.send(token, id, "m" + i);
    }

    assertThat(seqs(token, id, "")).containsExactly(LongStream.rangeClosed(6, 55).boxed().toArray(Long[]::new));
    assertThat(seqs(token, id, "?before=6")).containsExactly(1L, 2L, 3L, 4L, 5L);
  }

  @Test
  @DisplayName("marking read moves lastReadSeq forward only, clamps to lastSeq and answers the unread count")
  void markRead() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Receipts", bob).getString("id");
    for (int i = 1; i <= 10; i++) {
      api.send(aliceToken, id, "m" + i);
    }

    JsonObject five = read(bobToken, id, 5);
    assertThat(five.getString("conversationId")).isEqualTo(id);
    assertThat(five.getString("userId")).isEqualTo(bob);
    assertThat(five.getLong("seq")).isEqualTo(5L);
    assertThat(five.getLong("unreadCount")).isEqualTo(5L);

    JsonObject back = read(bobToken, id, 3);
    assertThat(back.getLong("seq")).isEqualTo(5L);
    assertThat(back.getLong("unreadCount")).isEqualTo(5L);
    assertThat(conversation(bobToken, id).getLong("lastReadSeq")).isEqualTo(5L);

    JsonObject past = read(bobToken, id, 1000);
    assertThat(past.getLong("seq")).isEqualTo(10L);
    assertThat(past.getLong("unreadCount")).isZero();
    JsonObject c = conversation(bobToken, id);
    assertThat(c.getLong("lastReadSeq")).isEqualTo(10L);
    assertThat(c.getLong("unreadCount")).isZero();

    // Another member's position is their own.
    assertThat(conversation(aliceToken, id).getLong("lastReadSeq")).isEqualTo(10L);
    api.send(aliceToken, id, "m11");
    assertThat(read(bobToken, id, 0).getLong("seq")).isEqualTo(10L);
    assertThat(conversation(bobToken, id).getLong("unreadCount")).isEqualTo(1L);
  }

  @Test
  @DisplayName("a retried send with the same clientMessageId returns the original message and stores it once")
  void clientMessageIdIdempotency() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    String id = api.group(token, "Retries").getString("id");
    String clientId = "c-" + UUID.randomUUID();
    JsonObject body = new JsonObject().put("content", "only once").put("clientMessageId", clientId);

    HttpResponse<Buffer> first = api.post(messages(id), token, body);
    HttpResponse<Buffer> retry = api.post(messages(id), token, body);
    HttpResponse<Buffer> retryOtherContent = api.post(messages(id), token, body.copy().put("content", "edited"));

    assertThat(first.statusCode()).as(first.bodyAsString()).isEqualTo(201);
    assertThat(retry.statusCode()).as(retry.bodyAsString()).isBetween(200, 201);
    assertThat(retryOtherContent.statusCode()).as(retryOtherContent.bodyAsString()).isBetween(200, 201);
    JsonObject original = first.bodyAsJsonObject();
    for (JsonObject again : List.of(retry.bodyAsJsonObject(), retryOtherContent.bodyAsJsonObject())) {
      assertThat(again.getString("id")).isEqualTo(original.getString("id"));
      assertThat(again.getLong("seq")).isEqualTo(original.getLong("seq"));
      assertThat(again.getString("content")).isEqualTo("only once");
      assertThat(again.getString("clientMessageId")).isEqualTo(clientId);
    }
    assertThat(history(token, id, "")).containsExactly(original);
    assertThat(conversation(token, id).getLong("lastSeq")).isEqualTo(1L);
    assertThat(api.send(token, id, "next").getLong("seq")).isEqualTo(2L);
  }

  @Test
  @DisplayName("the same clientMessageId from two different senders makes two messages")
  void clientMessageIdIsPerSender() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Per sender", bob).getString("id");
    JsonObject body = new JsonObject().put("content", "hi").put("clientMessageId", "same-" + UUID.randomUUID());

    JsonObject a = api.post(messages(id), aliceToken, body).bodyAsJsonObject();
    JsonObject b = api.post(messages(id), bobToken, body).bodyAsJsonObject();

    assertThat(a.getString("senderId")).isEqualTo(alice);
    assertThat(b.getString("senderId")).isEqualTo(bob);
    assertThat(List.of(a.getLong("seq"), b.getLong("seq"))).containsExactly(1L, 2L);
  }

  @Test
  @DisplayName("reusing a clientMessageId in a different conversation is a conflict and stores nothing")
  void clientMessageIdInOtherConversation() {
    String token = api.token(Api.user("alice"));
    String first = api.group(token, "First").getString("id");
    String second = api.group(token, "Second").getString("id");
    JsonObject body = new JsonObject().put("content", "hi").put("clientMessageId", "c-" + UUID.randomUUID());
    assertThat(api.post(messages(first), token, body).statusCode()).isEqualTo(201);

    assertError(api.post(messages(second), token, body), 409, "conflict");

    assertThat(history(token, second, "")).isEmpty();
    assertThat(conversation(token, second).getLong("lastSeq")).isZero();
    assertThat(history(token, first, "")).hasSize(1);
  }

  @Test
  @DisplayName("both members of a direct conversation read the same timeline")
  void directTimeline() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)))
      .bodyAsJsonObject().getString("id");

    JsonObject one = api.send(aliceToken, id, "ping");
    JsonObject two = api.send(bobToken, id, "pong");

    assertThat(history(aliceToken, id, "")).containsExactly(one, two);
    assertThat(history(bobToken, id, "")).containsExactly(one, two);
    assertThat(two.getLong("seq")).isEqualTo(2L);
  }

  private static String messages(String id) {
    return "/api/conversations/" + id + "/messages";
  }

  private static JsonArray history(String token, String id, String query) {
    HttpResponse<Buffer> r = api.get(messages(id) + query, token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("messages");
  }

  private static List<Long> seqs(String token, String id, String query) {
    return history(token, id, query).stream().map(m -> ((JsonObject) m).getLong("seq")).toList();
  }

  private static JsonObject read(String token, String id, long seq) {
    HttpResponse<Buffer> r = api.post("/api/conversations/" + id + "/read", token, new JsonObject().put("seq", seq));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject();
  }

  private static JsonObject conversation(String token, String id) {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + id, token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject();
  }
}
