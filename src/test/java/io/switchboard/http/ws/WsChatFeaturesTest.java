package io.switchboard.http.ws;

import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §3b over the WebSocket: every new command with its reply, the live events other members
 * get, and bad input answered with an error envelope that changes nothing.
 */
class WsChatFeaturesTest {

  static Api api;
  static int port;
  final Clients clients = new Clients();

  @BeforeAll
  static void node() {
    port = TestNodes.port(TestNodes.shared());
    api = new Api(port);
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  static JsonObject ok(WsClient ws, String type, JsonObject payload, String replyType) {
    JsonObject reply = await(ws.request(type, payload));
    assertThat(reply.getString("type")).as(reply.encode()).isEqualTo(replyType);
    return reply.getJsonObject("payload");
  }

  static String error(WsClient ws, String type, JsonObject payload) {
    JsonObject reply = await(ws.request(type, payload));
    assertThat(reply.getString("type")).as(reply.encode()).isEqualTo("error");
    assertThat(reply.getJsonObject("payload").getString("message")).isNotBlank();
    return reply.getJsonObject("payload").getString("code");
  }

  static JsonObject event(WsClient ws, String type) {
    return await(ws.next(type)).getJsonObject("payload");
  }

  @Test
  @DisplayName("edit, react, reply in a thread, load the thread, delete and search over a socket; the other member sees each change live")
  void messageLifecycle() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String id = api.group(aliceToken, "WS life", bob).getString("id");
    WsClient a = clients.ws(port, aliceToken);
    WsClient b = clients.ws(port, api.token(bob));
    String word = "quokka" + Long.toHexString(System.nanoTime());

    JsonObject sent = ok(a, "send_message", new JsonObject().put("conversationId", id).put("content", "first " + word),
      "message_sent");
    String mid = sent.getString("id");
    await(b.message("first " + word));

    JsonObject edited = ok(a, "edit_message", new JsonObject().put("conversationId", id).put("messageId", mid)
      .put("content", "edited " + word), "message_edited");
    JsonObject seenEdit = event(b, "message_edited");
    assertThat(seenEdit.getString("messageId")).isEqualTo(mid);
    assertThat(seenEdit.getString("content")).isEqualTo("edited " + word);
    assertThat(seenEdit.getLong("seq")).isEqualTo(edited.getLong("seq"));
    assertThat(seenEdit.getString("editedAt")).isEqualTo(edited.getString("editedAt"));

    ok(b, "react", new JsonObject().put("conversationId", id).put("messageId", mid).put("emoji", "👍").put("on", true),
      "reaction_updated");
    JsonObject seenReaction = event(a, "reaction_updated");
    assertThat(seenReaction.getString("userId")).isEqualTo(bob);
    assertThat(seenReaction.getString("emoji")).isEqualTo("👍");
    assertThat(seenReaction.getBoolean("on")).isTrue();

    JsonObject reply = ok(b, "send_message", new JsonObject().put("conversationId", id).put("content", "in thread")
      .put("threadId", mid), "message_sent");
    JsonObject seenReply = await(a.message("in thread")).getJsonObject("payload");
    assertThat(seenReply.getString("threadId")).isEqualTo(mid);
    JsonObject thread = ok(a, "load_thread", new JsonObject().put("conversationId", id).put("threadId", mid),
      "messages_loaded");
    assertThat(thread.getJsonArray("messages")).hasSize(1);
    assertThat(thread.getJsonArray("messages").getJsonObject(0).getString("id")).isEqualTo(reply.getString("id"));
    assertThat(thread.getJsonObject("root").getInteger("threadReplies")).isEqualTo(1);
    assertThat(thread.getJsonObject("root").getJsonArray("reactions")).containsExactly(
      new JsonObject().put("emoji", "👍").put("count", 1).put("me", false));

    JsonObject found = ok(b, "search_messages", new JsonObject().put("q", word), "search_results");
    assertThat(found.getJsonArray("results")).hasSize(1);
    assertThat(found.getJsonArray("results").getJsonObject(0).getString("snippet")).contains("<mark>" + word + "</mark>");

    JsonObject deleted = ok(a, "delete_message", new JsonObject().put("conversationId", id).put("messageId", mid),
      "message_deleted");
    JsonObject seenDelete = event(b, "message_deleted");
    assertThat(seenDelete.getString("messageId")).isEqualTo(mid);
    assertThat(seenDelete.getLong("seq")).isEqualTo(deleted.getLong("seq"));
    assertThat(ok(b, "search_messages", new JsonObject().put("q", word), "search_results").getJsonArray("results"))
      .isEmpty();
    JsonObject history = ok(b, "load_messages", new JsonObject().put("conversationId", id), "messages_loaded");
    JsonObject tomb = history.getJsonArray("messages").getJsonObject(0);
    assertThat(tomb.getBoolean("deleted")).isTrue();
    assertThat(tomb.getValue("content")).isNull();
  }

  @Test
  @DisplayName("rename, set_role, remove_member, rotate_invite and mute over a socket; members see conversation_updated and member_left with by")
  void roles() {
    String owner = Api.user("owner");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String ownerToken = api.token(owner);
    String id = api.group(ownerToken, "WS roles", bob, carol).getString("id");
    WsClient o = clients.ws(port, ownerToken);
    WsClient b = clients.ws(port, api.token(bob));
    WsClient c = clients.ws(port, api.token(carol));

    assertThat(error(b, "update_conversation", new JsonObject().put("conversationId", id).put("name", "Mine")))
      .isEqualTo("forbidden");
    JsonObject renamed = ok(o, "update_conversation", new JsonObject().put("conversationId", id).put("name", "New name"),
      "conversation_updated");
    JsonObject seenRename = event(b, "conversation_updated");
    assertThat(seenRename.getString("name")).isEqualTo("New name");
    assertThat(seenRename.getLong("seq")).isEqualTo(renamed.getLong("seq"));

    ok(o, "set_role", new JsonObject().put("conversationId", id).put("userId", bob).put("role", "admin"), "ack");
    JsonObject seenRole = event(c, "conversation_updated");
    seenRole = seenRole.containsKey("members") ? seenRole : event(c, "conversation_updated");
    assertThat(seenRole.getJsonArray("members")).containsExactly(
      new JsonObject().put("userId", bob).put("role", "admin"));

    JsonObject rotated = ok(b, "rotate_invite", new JsonObject().put("conversationId", id), "ack");
    assertThat(rotated.getString("inviteCode")).isNotBlank();

    JsonObject removed = ok(b, "remove_member", new JsonObject().put("conversationId", id).put("userId", carol), "ack");
    JsonObject carolHears = await(c.next(e -> "member_left".equals(e.getString("type"))
      && carol.equals(e.getJsonObject("payload").getString("userId")), "member_left of carol")).getJsonObject("payload");
    assertThat(carolHears.getString("by")).isEqualTo(bob);
    JsonObject ownerHears = await(o.next(e -> "member_left".equals(e.getString("type")), "member_left"))
      .getJsonObject("payload");
    assertThat(ownerHears.getString("by")).isEqualTo(bob);
    assertThat(ownerHears.getLong("seq")).isEqualTo(removed.getLong("seq"));
    assertThat(error(c, "send_message", new JsonObject().put("conversationId", id).put("content", "still here?")))
      .isEqualTo("forbidden");

    JsonObject muted = ok(b, "mute", new JsonObject().put("conversationId", id).put("muted", true), "ack");
    assertThat(muted.getBoolean("muted")).isTrue();
    JsonArray listed = ok(b, "load_conversations", new JsonObject(), "conversations_loaded").getJsonArray("conversations");
    assertThat(listed.stream().map(x -> (JsonObject) x).filter(x -> id.equals(x.getString("id"))).findFirst()
      .orElseThrow().getBoolean("muted")).isTrue();
  }

  @Test
  @DisplayName("bad input over a socket: someone else's message, not a member, wrong types, missing fields, huge queries: errors, nothing changed")
  void badInput() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String id = api.group(aliceToken, "WS bad", bob).getString("id");
    String elsewhere = api.group(api.token(Api.user("other")), "Other").getString("id");
    WsClient a = clients.ws(port, aliceToken);
    WsClient b = clients.ws(port, api.token(bob));
    String mid = api.send(aliceToken, id, "original").getString("id");
    await(b.message("original"));
    JsonArray before = ok(a, "load_messages", new JsonObject().put("conversationId", id), "messages_loaded")
      .getJsonArray("messages");

    JsonObject ref = new JsonObject().put("conversationId", id).put("messageId", mid);
    assertThat(List.of(
      error(b, "edit_message", ref.copy().put("content", "hijacked")),
      error(b, "delete_message", ref.copy()),
      error(a, "edit_message", ref.copy()),
      error(a, "edit_message", ref.copy().put("content", new JsonArray().add("not").add("text"))),
      error(a, "edit_message", new JsonObject().put("conversationId", id).put("content", "x")),
      error(a, "react", ref.copy().put("emoji", "👍")),
      error(a, "react", ref.copy().put("emoji", "👍").put("on", "yes")),
      error(a, "react", ref.copy().put("emoji", 7).put("on", true)),
      error(a, "react", new JsonObject().put("conversationId", elsewhere).put("messageId", mid).put("emoji", "👍")
        .put("on", true)),
      error(a, "search_messages", new JsonObject().put("q", "x".repeat(10_000))),
      error(a, "search_messages", new JsonObject().put("q", 12)),
      error(a, "search_messages", new JsonObject()),
      error(a, "load_thread", new JsonObject().put("conversationId", id)),
      error(a, "set_status", new JsonObject().put("status", "sleeping")),
      error(a, "set_status", new JsonObject().put("status", "busy").put("text", "t".repeat(101))),
      error(a, "set_status", new JsonObject().put("status", "busy").put("text", "two\nlines")),
      error(a, "get_presence", new JsonObject()),
      error(a, "get_presence", new JsonObject().put("userIds", "bob")),
      error(a, "get_conversation_presence", new JsonObject().put("conversationId", elsewhere)),
      error(a, "set_role", new JsonObject().put("conversationId", id).put("userId", bob).put("role", true)),
      error(a, "mute", new JsonObject().put("conversationId", id).put("muted", 1))))
      .containsExactly("forbidden", "forbidden", "invalid_request", "invalid_request", "invalid_request",
        "invalid_request", "invalid_request", "invalid_request", "forbidden", "invalid_request", "invalid_request",
        "invalid_request", "invalid_request", "invalid_request", "invalid_request", "invalid_request",
        "invalid_request", "invalid_request", "forbidden", "invalid_request", "invalid_request");

    assertThat(ok(a, "load_messages", new JsonObject().put("conversationId", id), "messages_loaded")
      .getJsonArray("messages")).isEqualTo(before);
    // Neither socket got an event of any of it.
    assertThat(b.received()).noneMatch(e -> List.of("message_edited", "message_deleted", "reaction_updated",
      "conversation_updated").contains(e.getString("type")));
  }
}
