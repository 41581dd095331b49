package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3b over REST: edit, delete (the content erased from the database), reactions, threads
 * and search; each change a timeline item; bad input refused with nothing changed.
 */
class MessageLifeRestTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
  }

  static String messages(String id) {
    return "/api/conversations/" + id + "/messages";
  }

  static String message(String id, String messageId) {
    return messages(id) + "/" + messageId;
  }

  static String reaction(String id, String messageId, String emoji) {
    return message(id, messageId) + "/reactions/" + URLEncoder.encode(emoji, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static JsonArray history(String token, String id) {
    HttpResponse<Buffer> r = api.get(messages(id), token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("messages");
  }

  static JsonObject inHistory(String token, String id, String messageId) {
    return history(token, id).stream().map(o -> (JsonObject) o).filter(m -> messageId.equals(m.getString("id")))
      .findFirst().orElseThrow();
  }

  static List<String> column(String sql, Object... params) {
    String url = TestDb.url();
    String jdbc = "jdbc:" + url.replace("postgresql://postgres@", "postgresql://") + (url.contains("?") ? "&" : "?")
      + "user=postgres";
    try (Connection c = DriverManager.getConnection(jdbc); PreparedStatement s = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        s.setObject(i + 1, params[i]);
      }
      List<String> out = new ArrayList<>();
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  static HttpResponse<Buffer> call(HttpMethod method, String path, String token, JsonObject body) {
    return api.request(method, path, token, body);
  }

  @Test
  @DisplayName("the sender edits a message: message_edited with its own seq, history shows the new text with editedAt")
  void edit() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Edit", bob).getString("id");
    JsonObject m = api.send(aliceToken, id, "helo");

    HttpResponse<Buffer> r = call(HttpMethod.PATCH, message(id, m.getString("id")), aliceToken,
      new JsonObject().put("content", "hello"));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonObject edited = r.bodyAsJsonObject();
    assertThat(edited.getString("conversationId")).isEqualTo(id);
    assertThat(edited.getString("messageId")).isEqualTo(m.getString("id"));
    assertThat(edited.getString("content")).isEqualTo("hello");
    assertThat(edited.getString("editedAt")).isNotBlank();
    assertThat(edited.getLong("seq")).isGreaterThan(m.getLong("seq"));
    JsonObject now = inHistory(bobToken, id, m.getString("id"));
    assertThat(now.getString("content")).isEqualTo("hello");
    assertThat(now.getString("editedAt")).isEqualTo(edited.getString("editedAt"));
    JsonObject item = history(bobToken, id).getJsonObject(history(bobToken, id).size() - 1);
    assertThat(item.getLong("seq")).isEqualTo(edited.getLong("seq"));
    assertThat(item.getString("kind")).isEqualTo("system");
    assertThat(item.getJsonObject("content").getString("event")).isEqualTo("message_edited");

    // The same content again changes nothing: no new item.
    HttpResponse<Buffer> same = call(HttpMethod.PATCH, message(id, m.getString("id")), aliceToken,
      new JsonObject().put("content", "hello"));
    assertThat(same.statusCode()).as(same.bodyAsString()).isEqualTo(200);
    assertThat(same.bodyAsJsonObject().containsKey("seq")).isFalse();
    assertThat(history(bobToken, id)).hasSize(2);
  }

  @Test
  @DisplayName("editing someone else's message, a missing or wrong content, a deleted or unknown message: clear errors, nothing changed")
  void editRefused() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Edit refused", bob).getString("id");
    JsonObject m = api.send(aliceToken, id, "mine");
    String path = message(id, m.getString("id"));
    JsonArray before = history(aliceToken, id);

    assertError(call(HttpMethod.PATCH, path, bobToken, new JsonObject().put("content", "yours now")), 403, "forbidden");
    assertError(call(HttpMethod.PATCH, path, aliceToken, new JsonObject()), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, path, aliceToken, new JsonObject().put("content", 42)), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, path, aliceToken, new JsonObject().put("content", "")), 400, "invalid_request");
    assertError(call(HttpMethod.PATCH, path, aliceToken, new JsonObject().put("content", "x".repeat(70_000))),
      413, "too_large");
    assertError(call(HttpMethod.PATCH, message(id, "00000000-0000-0000-0000-000000000000"), aliceToken,
      new JsonObject().put("content", "x")), 404, "not_found");
    assertError(call(HttpMethod.PATCH, message(id, "not-a-uuid"), aliceToken,
      new JsonObject().put("content", "x")), 404, "not_found");
    assertThat(history(aliceToken, id)).isEqualTo(before);
  }

  @Test
  @DisplayName("delete leaves a tombstone, erases the content (and the text of its edits) from the database; an admin may delete any")
  void delete() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String carolToken = api.token(carol);
    String id = api.group(aliceToken, "Delete", bob, carol).getString("id");
    JsonObject m = api.send(bobToken, id, "secret-" + bob);
    call(HttpMethod.PATCH, message(id, m.getString("id")), bobToken, new JsonObject().put("content", "secret2-" + bob));
    JsonObject other = api.send(bobToken, id, "keep");
    JsonArray before = history(aliceToken, id);

    // Another member (not an admin) may not delete it.
    assertError(call(HttpMethod.DELETE, message(id, m.getString("id")), carolToken, null), 403, "forbidden");
    assertThat(history(aliceToken, id)).isEqualTo(before);

    HttpResponse<Buffer> r = call(HttpMethod.DELETE, message(id, m.getString("id")), bobToken, null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonObject deleted = r.bodyAsJsonObject();
    assertThat(deleted.getString("messageId")).isEqualTo(m.getString("id"));
    assertThat(deleted.getLong("seq")).isGreaterThan(other.getLong("seq"));

    JsonObject tomb = inHistory(carolToken, id, m.getString("id"));
    assertThat(tomb.getBoolean("deleted")).isTrue();
    assertThat(tomb.getValue("content")).isNull();
    assertThat(tomb.getLong("seq")).isEqualTo(m.getLong("seq"));
    assertThat(column("SELECT count(*) FROM messages WHERE conversation_id = ?::uuid AND content::text LIKE ?", id,
      "%secret%")).containsExactly("0");
    // A second delete changes nothing; an edit of a deleted message is refused.
    HttpResponse<Buffer> again = call(HttpMethod.DELETE, message(id, m.getString("id")), bobToken, null);
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(again.bodyAsJsonObject().containsKey("seq")).isFalse();
    assertError(call(HttpMethod.PATCH, message(id, m.getString("id")), bobToken, new JsonObject().put("content", "z")),
      409, "conflict");

    // The owner of the group deletes someone else's message.
    HttpResponse<Buffer> byOwner = call(HttpMethod.DELETE, message(id, other.getString("id")), aliceToken, null);
    assertThat(byOwner.statusCode()).as(byOwner.bodyAsString()).isEqualTo(200);
    assertThat(inHistory(bobToken, id, other.getString("id")).getBoolean("deleted")).isTrue();
  }

  @Test
  @DisplayName("reactions: one per user per emoji, counts and the caller's own in history, each change a timeline item")
  void reactions() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "React", bob).getString("id");
    JsonObject m = api.send(aliceToken, id, "party?");
    String mid = m.getString("id");

    HttpResponse<Buffer> on = call(HttpMethod.PUT, reaction(id, mid, "🎉"), bobToken, null);
    assertThat(on.statusCode()).as(on.bodyAsString()).isEqualTo(200);
    assertThat(on.bodyAsJsonObject().getString("emoji")).isEqualTo("🎉");
    assertThat(on.bodyAsJsonObject().getBoolean("on")).isTrue();
    assertThat(on.bodyAsJsonObject().getString("userId")).isEqualTo(bob);
    assertThat(on.bodyAsJsonObject().getLong("seq")).isGreaterThan(m.getLong("seq"));
    // Twice is once.
    HttpResponse<Buffer> twice = call(HttpMethod.PUT, reaction(id, mid, "🎉"), bobToken, null);
    assertThat(twice.statusCode()).isEqualTo(200);
    assertThat(twice.bodyAsJsonObject().containsKey("seq")).isFalse();
    call(HttpMethod.PUT, reaction(id, mid, "🎉"), aliceToken, null);
    call(HttpMethod.PUT, reaction(id, mid, ":+1:"), aliceToken, null);

    JsonArray seenByBob = inHistory(bobToken, id, mid).getJsonArray("reactions");
    assertThat(seenByBob).containsExactly(
      new JsonObject().put("emoji", "🎉").put("count", 2).put("me", true),
      new JsonObject().put("emoji", ":+1:").put("count", 1).put("me", false));

    HttpResponse<Buffer> off = call(HttpMethod.DELETE, reaction(id, mid, "🎉"), bobToken, null);
    assertThat(off.statusCode()).as(off.bodyAsString()).isEqualTo(200);
    assertThat(off.bodyAsJsonObject().getBoolean("on")).isFalse();
    assertThat(inHistory(bobToken, id, mid).getJsonArray("reactions")).containsExactly(
      new JsonObject().put("emoji", "🎉").put("count", 1).put("me", false),
      new JsonObject().put("emoji", ":+1:").put("count", 1).put("me", false));
    long items = history(bobToken, id).stream().map(o -> (JsonObject) o)
      .filter(x -> "system".equals(x.getString("kind")) && x.getJsonObject("content") != null
        && "reaction_updated".equals(x.getJsonObject("content").getString("event"))).count();
    assertThat(items).isEqualTo(4);
  }

  @Test
  @DisplayName("reacting in a conversation one is not in, or to a message of another conversation, is refused and changes nothing")
  void reactRefused() {
    String alice = Api.user("alice");
    String mallory = Api.user("mallory");
    String aliceToken = api.token(alice);
    String malloryToken = api.token(mallory);
    String id = api.group(aliceToken, "Private").getString("id");
    String elsewhere = api.group(malloryToken, "Mallory's").getString("id");
    JsonObject m = api.send(aliceToken, id, "hi");
    JsonArray before = history(aliceToken, id);

    assertError(call(HttpMethod.PUT, reaction(id, m.getString("id"), "👍"), malloryToken, null), 403, "forbidden");
    assertError(call(HttpMethod.PUT, reaction(elsewhere, m.getString("id"), "👍"), malloryToken, null), 404, "not_found");
    assertError(call(HttpMethod.DELETE, message(id, m.getString("id")), malloryToken, null), 403, "forbidden");
    assertError(call(HttpMethod.PATCH, message(id, m.getString("id")), malloryToken,
      new JsonObject().put("content", "pwned")), 403, "forbidden");
    assertError(call(HttpMethod.PUT, reaction(id, m.getString("id"), "a b"), aliceToken, null), 400, "invalid_request");
    assertError(call(HttpMethod.PUT, reaction(id, m.getString("id"), "x".repeat(65)), aliceToken, null),
      400, "invalid_request");

    assertThat(history(aliceToken, id)).isEqualTo(before);
    assertThat(column("SELECT count(*) FROM reactions WHERE message_id = ?::uuid", m.getString("id")))
      .containsExactly("0");
  }

  @Test
  @DisplayName("a thread: replies page on their own endpoint, the root carries its reply count and last reply time")
  void thread() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Thread", bob).getString("id");
    JsonObject root = api.send(aliceToken, id, "root");
    api.send(aliceToken, id, "not in the thread");
    List<JsonObject> replies = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      HttpResponse<Buffer> r = api.post(messages(id), i % 2 == 0 ? aliceToken : bobToken,
        new JsonObject().put("content", "reply " + i).put("threadId", root.getString("id")));
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
      assertThat(r.bodyAsJsonObject().getString("threadId")).isEqualTo(root.getString("id"));
      replies.add(r.bodyAsJsonObject());
    }
    String thread = "/api/conversations/" + id + "/threads/" + root.getString("id") + "/messages";

    HttpResponse<Buffer> all = api.get(thread, bobToken);
    assertThat(all.statusCode()).as(all.bodyAsString()).isEqualTo(200);
    JsonObject page = all.bodyAsJsonObject();
    assertThat(page.getString("threadId")).isEqualTo(root.getString("id"));
    assertThat(page.getJsonArray("messages").stream().map(o -> ((JsonObject) o).getString("content")))
      .containsExactly("reply 1", "reply 2", "reply 3");
    assertThat(page.getJsonObject("root").getInteger("threadReplies")).isEqualTo(3);
    assertThat(page.getJsonObject("root").getString("threadLastAt")).isNotBlank();
    JsonObject rootInHistory = inHistory(bobToken, id, root.getString("id"));
    assertThat(rootInHistory.getInteger("threadReplies")).isEqualTo(3);

    JsonArray latest = api.get(thread + "?limit=2", bobToken).bodyAsJsonObject().getJsonArray("messages");
    assertThat(latest.stream().map(o -> ((JsonObject) o).getString("content"))).containsExactly("reply 2", "reply 3");
    JsonArray older = api.get(thread + "?before=" + replies.get(1).getLong("seq"), bobToken).bodyAsJsonObject()
      .getJsonArray("messages");
    assertThat(older.stream().map(o -> ((JsonObject) o).getString("content"))).containsExactly("reply 1");

    // A reply cannot open a thread of its own; a thread root must be a message of this conversation.
    assertError(api.post(messages(id), aliceToken, new JsonObject().put("content", "x")
      .put("threadId", replies.get(0).getString("id"))), 400, "invalid_request");
    assertError(api.post(messages(id), aliceToken, new JsonObject().put("content", "x").put("threadId", "nope")),
      400, "invalid_request");
    assertError(api.post(messages(id), aliceToken, new JsonObject().put("content", "x").put("threadId", 7)),
      400, "invalid_request");
    assertError(api.get(thread, api.token(Api.user("stranger"))), 403, "forbidden");
    assertThat(api.get(thread, bobToken).bodyAsJsonObject().getJsonArray("messages")).hasSize(3);
  }

  @Test
  @DisplayName("search: ranked hits with highlighted snippets, paged, only over what the caller could read")
  void search() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String late = Api.user("late");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String lateToken = api.token(late);
    String word = "zebra" + Long.toHexString(System.nanoTime());
    JsonObject group = api.group(aliceToken, "Search", bob);
    String id = group.getString("id");
    api.send(aliceToken, id, "a " + word + " before you came");
    api.send(bobToken, id, word + " " + word + " <b>bold</b> twice");
    api.send(aliceToken, id, "nothing to see");
    JsonObject join = api.post("/api/groups/join", lateToken, new JsonObject().put("inviteCode", group.getString("inviteCode")))
      .bodyAsJsonObject();
    assertThat(join).isNotNull();
    api.send(aliceToken, id, "after the join " + word);
    String other = api.group(aliceToken, "Elsewhere").getString("id");
    api.send(aliceToken, other, word + " in alice's own group");

    HttpResponse<Buffer> r = api.get("/api/search?q=" + word, bobToken);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonArray results = r.bodyAsJsonObject().getJsonArray("results");
    assertThat(results).hasSize(3);
    // The message with the word twice ranks first; its snippet is escaped HTML with the match marked.
    JsonObject best = results.getJsonObject(0);
    assertThat(best.getJsonObject("message").getString("senderId")).isEqualTo(bob);
    assertThat(best.getString("snippet")).contains("<mark>" + word + "</mark>").contains("bold").doesNotContain("<b>");
    assertThat(r.bodyAsJsonObject().getValue("next")).isNull();

    // The late joiner finds only what came after their join.
    JsonArray lateHits = api.get("/api/search?q=" + word, lateToken).bodyAsJsonObject().getJsonArray("results");
    assertThat(lateHits).hasSize(1);
    assertThat(lateHits.getJsonObject(0).getJsonObject("message").getString("content")).startsWith("after the join");

    // Pages: one at a time, following next, each hit once.
    List<String> paged = new ArrayList<>();
    String next = null;
    do {
      String url = "/api/search?limit=1&q=" + word + (next == null ? "" : "&cursor=" + next);
      JsonObject p = api.get(url, bobToken).bodyAsJsonObject();
      p.getJsonArray("results").forEach(o -> paged.add(((JsonObject) o).getJsonObject("message").getString("id")));
      next = p.getString("next");
    } while (next != null && paged.size() < 10);
    assertThat(paged).hasSize(3).doesNotHaveDuplicates();

    // One conversation only; one the caller is not in is refused.
    assertThat(api.get("/api/search?q=" + word + "&conversationId=" + id, aliceToken).bodyAsJsonObject()
      .getJsonArray("results")).hasSize(3);
    assertError(api.get("/api/search?q=" + word + "&conversationId=" + other, bobToken), 403, "forbidden");

    // A deleted message is no longer found.
    String bobs = best.getJsonObject("message").getString("id");
    assertThat(call(HttpMethod.DELETE, message(id, bobs), bobToken, null).statusCode()).isEqualTo(200);
    assertThat(api.get("/api/search?q=" + word, bobToken).bodyAsJsonObject().getJsonArray("results")).hasSize(2);
  }

  @Test
  @DisplayName("search input: injection strings and query syntax are only words, huge or missing queries and bad cursors are refused")
  void searchBadInput() {
    String alice = Api.user("alice");
    String aliceToken = api.token(alice);
    String id = api.group(aliceToken, "Injection").getString("id");
    api.send(aliceToken, id, "robert tables");
    String[] hostile = {
      "'); DROP TABLE messages; --", "robert' OR '1'='1", "robert & | ! :* ( ) <-> \\", "\"unclosed phrase",
      "-", "or", "<script>alert(1)</script>", "%", "tables:*", "$1 $2", "robert\u0000"};
    for (String q : hostile) {
      HttpResponse<Buffer> r = api.get("/api/search?q=" + URLEncoder.encode(q, StandardCharsets.UTF_8), aliceToken);
      if (q.indexOf('\u0000') >= 0) {
        assertThat(r.statusCode()).as(q + ": " + r.bodyAsString()).isEqualTo(400);
        continue;
      }
      assertThat(r.statusCode()).as(q + ": " + r.bodyAsString()).isEqualTo(200);
      assertThat(r.bodyAsJsonObject().getJsonArray("results")).isNotNull();
    }
    // The quoted phrase is a phrase, the minus a negation.
    assertThat(api.get("/api/search?q=" + URLEncoder.encode("\"robert tables\"", StandardCharsets.UTF_8), aliceToken)
      .bodyAsJsonObject().getJsonArray("results")).hasSize(1);
    assertThat(api.get("/api/search?q=" + URLEncoder.encode("robert -tables", StandardCharsets.UTF_8), aliceToken)
      .bodyAsJsonObject().getJsonArray("results")).isEmpty();

    assertError(api.get("/api/search?q=" + "a".repeat(257), aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=" + "word%20".repeat(2000), aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search", aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=", aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=robert&limit=0", aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=robert&limit=abc", aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=robert&cursor=bm90IG91cnM", aliceToken), 400, "invalid_request");
    assertError(api.get("/api/search?q=robert&conversationId=nope", aliceToken), 404, "not_found");
    assertError(api.get("/api/search?q=robert", null), 401, "unauthorized");
    // Everything is still there.
    assertThat(history(aliceToken, id).stream().map(o -> ((JsonObject) o).getValue("content")))
      .contains("robert tables");
  }
}
