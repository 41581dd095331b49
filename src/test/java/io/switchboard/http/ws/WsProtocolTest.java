package io.switchboard.http.ws;

import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.RawWebSocket;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.Tokens;
import io.switchboard.testing.WsClient;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** The WebSocket protocol of SPEC §2, §3 and §7 on one node: commands, auth, bad input, frames. */
@ExtendWith(VertxExtension.class)
class WsProtocolTest {

  static int port;
  static Api api;

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

  /** One command of the SPEC §3 table and the reply type it must get. */
  private record Step(String type, Supplier<JsonObject> payload, String replyType) {
  }

  @Test
  @DisplayName("every command of SPEC §3 gets exactly one reply, of its reply type, carrying its requestId")
  void everyCommand(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    JsonObject bobsGroup = api.group(bobToken, "Bob's");
    WsClient ws = clients.ws(port, api.token(alice));
    JsonObject state = new JsonObject();
    List<Step> steps = List.of(
      new Step("load_conversations", JsonObject::new, "conversations_loaded"),
      new Step("create_conversation", () -> new JsonObject().put("type", "direct")
        .put("participantIds", new JsonArray().add(bob)), "conversation_created"),
      new Step("create_conversation", () -> new JsonObject().put("type", "group").put("name", "G1")
        .put("participantIds", new JsonArray().add(bob)), "conversation_created"),
      new Step("create_group", () -> new JsonObject().put("name", "G2"), "conversation_created"),
      new Step("join_group", () -> new JsonObject().put("inviteCode", bobsGroup.getString("inviteCode")),
        "conversation_joined"),
      new Step("join_conversation", () -> new JsonObject().put("conversationId", state.getString("group")),
        "conversation_joined"),
      new Step("leave_conversation", () -> new JsonObject().put("conversationId", state.getString("group")),
        "conversation_left"),
      new Step("send_message", () -> new JsonObject().put("conversationId", state.getString("group"))
        .put("content", "one").put("clientMessageId", "c-1"), "message_sent"),
      new Step("send_message", () -> new JsonObject().put("conversationId", state.getString("group"))
        .put("content", "two"), "message_sent"),
      new Step("load_messages", () -> new JsonObject().put("conversationId", state.getString("group")),
        "messages_loaded"),
      new Step("load_more_messages", () -> new JsonObject().put("conversationId", state.getString("group"))
        .put("before", 2).put("limit", 10), "messages_loaded"),
      new Step("mark_read", () -> new JsonObject().put("conversationId", state.getString("group")).put("seq", 2),
        "receipt"),
      new Step("subscribe", () -> new JsonObject().put("topics", new JsonArray().add("public.scores")), "subscribed"),
      new Step("unsubscribe", () -> new JsonObject().put("topics", new JsonArray().add("public.scores")),
        "unsubscribed"),
      new Step("ping", JsonObject::new, "pong"),
      new Step("leave_conversation", () -> new JsonObject().put("conversationId", state.getString("joined"))
        .put("membership", true), "conversation_left"));

    List<JsonObject> replies = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (Step step : steps) {
      chain = chain.compose(v -> ws.request(step.type(), step.payload().get())).map(reply -> {
        replies.add(reply);
        if (reply.getString("type").equals("conversation_created")
          && "group".equals(reply.getJsonObject("payload").getString("type"))) {
          state.put("group", reply.getJsonObject("payload").getString("id"));
        }
        if (reply.getString("type").equals("conversation_joined") && !state.containsKey("joined")) {
          state.put("joined", reply.getJsonObject("payload").getString("id"));
        }
        return null;
      });
    }
    // A last ping is the barrier: any second reply to an earlier request would be in by now.
    chain.compose(v -> ws.request("ping", new JsonObject())).onComplete(ctx.succeeding(last -> ctx.verify(() -> {
      assertThat(replies).extracting(r -> r.getString("type"))
        .containsExactlyElementsOf(steps.stream().map(Step::replyType).toList());
      for (JsonObject reply : replies) {
        String requestId = reply.getString("requestId");
        assertThat(ws.received()).filteredOn(e -> requestId.equals(e.getString("requestId"))).hasSize(1);
        assertThat(reply.getString("timestamp")).isNotBlank();
      }
      assertThat(replies.get(7).getJsonObject("payload").getString("content")).isEqualTo("one");
      assertThat(replies.get(9).getJsonObject("payload").getJsonArray("messages")).hasSize(2);
      assertThat(replies.get(10).getJsonObject("payload").getJsonArray("messages")).hasSize(1);
      assertThat(replies.get(11).getJsonObject("payload").getLong("seq")).isEqualTo(2L);
      assertThat(replies.get(15).getJsonObject("payload").getString("conversationId")).isEqualTo(state.getString("joined"));
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("leave_conversation without membership only unsubscribes; with membership:true the user leaves the group")
  void leaveWithAndWithoutMembership(VertxTestContext ctx) {
    String owner = Api.user("olive");
    String ownerToken = api.token(owner);
    String pat = Api.user("pat");
    String group = api.group(ownerToken, "Club", pat).getString("id");
    WsClient ws = clients.ws(port, api.token(pat));
    JsonObject id = new JsonObject().put("conversationId", group);
    ws.request("leave_conversation", id)
      .compose(left -> ws.request("load_messages", id).map(loaded -> {
        ctx.verify(() -> {
          assertThat(left.getString("type")).isEqualTo("conversation_left");
          assertThat(loaded.getString("type")).isEqualTo("messages_loaded");
        });
        return null;
      }))
      .compose(v -> ws.request("leave_conversation", id.copy().put("membership", true)))
      .compose(left -> ws.next("member_left").map(event -> {
        ctx.verify(() -> {
          assertThat(left.getString("type")).isEqualTo("conversation_left");
          assertThat(left.getJsonObject("payload").getLong("seq")).isEqualTo(event.getJsonObject("payload").getLong("seq"));
          assertThat(event.getJsonObject("payload").getString("userId")).isEqualTo(pat);
        });
        return null;
      }))
      .compose(v -> ws.request("load_messages", id))
      .onComplete(ctx.succeeding(after -> ctx.verify(() -> {
        assertThat(after.getString("type")).isEqualTo("error");
        assertThat(after.getJsonObject("payload").getString("code")).isEqualTo("forbidden");
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("join_conversation and leave_conversation on a conversation of others are forbidden, on an unknown one not_found")
  void roomsOfOthers(VertxTestContext ctx) {
    String others = api.group(api.token(Api.user("owen")), "Not yours").getString("id");
    String unknown = "00000000-0000-4000-8000-000000000000";
    WsClient ws = clients.ws(port, api.token(Api.user("nina")));
    List<Future<JsonObject>> replies = List.of(
      ws.request("join_conversation", new JsonObject().put("conversationId", others)),
      ws.request("leave_conversation", new JsonObject().put("conversationId", others)),
      ws.request("leave_conversation", new JsonObject().put("conversationId", others).put("membership", true)),
      ws.request("join_conversation", new JsonObject().put("conversationId", unknown)),
      ws.request("leave_conversation", new JsonObject().put("conversationId", unknown)));
    Future.all(replies).onComplete(ctx.succeeding(all -> ctx.verify(() -> {
      assertThat(replies).extracting(f -> f.result().getString("type")).containsOnly("error");
      assertThat(replies).extracting(f -> f.result().getJsonObject("payload").getString("code"))
        .containsExactly("forbidden", "forbidden", "forbidden", "not_found", "not_found");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("after subscribe, a backend's publish to the topic arrives as an event named as published; a forbidden topic is refused")
  void topics(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, api.token(Api.user("tom")));
    JsonObject forbidden = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add("secret"))));
    ctx.verify(() -> assertThat(forbidden.getJsonObject("payload").getString("code")).isEqualTo("forbidden"));
    JsonObject subscribed = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add("public.ws"))));
    ctx.verify(() -> assertThat(subscribed.getJsonObject("payload").getJsonArray("topics")).containsExactly("public.ws"));
    var r = await(api.client().post("/api/publish").putHeader("X-API-Key", "dev-key").sendJsonObject(new JsonObject()
      .put("topic", "public.ws").put("event", "goal").put("data", new JsonObject().put("minute", 90))));
    ctx.verify(() -> assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200));
    ws.next("goal").onComplete(ctx.succeeding(e -> ctx.verify(() -> {
      assertThat(e.getJsonObject("payload")).isEqualTo(new JsonObject().put("topic", "public.ws")
        .put("data", new JsonObject().put("minute", 90)));
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("when the token expires on a live socket the server sends token_expired and closes with 4401")
  void tokenExpires(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, Tokens.expiringIn(TestNodes.shared(), Api.user("xena"), 1));
    ws.next("token_expired").compose(e -> ws.closed()).onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      assertThat(ws.closeStatus()).isEqualTo((short) 4401);
      assertThat(ws.closeReason()).isEqualTo("token_expired");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("an auth envelope with a fresh token keeps a socket open past its first token's expiry")
  void tokenRefreshed(VertxTestContext ctx) {
    String yann = Api.user("yann");
    String shortLived = Tokens.expiringIn(TestNodes.shared(), yann, 2);
    WsClient refreshed = clients.ws(port, shortLived);
    // The same token without a refresh: its expiry tells when the first token is over.
    WsClient witness = clients.ws(port, shortLived);
    JsonObject ok = await(refreshed.request("auth", new JsonObject().put("token", api.token(yann))));
    ctx.verify(() -> assertThat(ok.getString("type")).isEqualTo("auth_success"));
    JsonObject otherUser = await(refreshed.request("auth", new JsonObject().put("token", api.token(Api.user("zoe")))));
    ctx.verify(() -> assertThat(otherUser.getJsonObject("payload").getString("code")).isEqualTo("forbidden"));
    witness.closed()
      .compose(v -> refreshed.request("ping", new JsonObject()))
      .onComplete(ctx.succeeding(pong -> ctx.verify(() -> {
        assertThat(witness.closeStatus()).isEqualTo((short) 4401);
        assertThat(pong.getString("type")).isEqualTo("pong");
        assertThat(refreshed.received()).noneMatch(e -> e.getString("type").equals("token_expired"));
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("a command sent right after the upgrade is answered, and only after connected")
  void commandBeforeConnected(VertxTestContext ctx) {
    String quinn = Api.user("quinn");
    WsClient ws = clients.track(await(WsClient.connect(port, "/api/ws", api.token(quinn))));
    ws.request("ping", new JsonObject()).onComplete(ctx.succeeding(pong -> ctx.verify(() -> {
      assertThat(pong.getString("type")).isEqualTo("pong");
      assertThat(ws.received().get(0).getString("type")).isEqualTo("connected");
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("without a token in the upgrade, an auth envelope as first frame gets auth_success, then connected")
  void authFirstFrame(VertxTestContext ctx) {
    String rose = Api.user("rose");
    String token = api.token(rose);
    WsClient ws = clients.track(await(WsClient.connect(port, "/api/ws")));
    ws.request("auth", new JsonObject().put("token", token))
      .compose(ok -> ws.next("connected").map(connected -> {
        ctx.verify(() -> {
          assertThat(ok.getString("type")).isEqualTo("auth_success");
          assertThat(ok.getJsonObject("payload").getString("userId")).isEqualTo(rose);
          assertThat(ws.received().get(0)).isSameAs(ok);
          assertThat(ws.received().get(1)).isSameAs(connected);
          assertThat(connected.getJsonObject("payload").getString("userId")).isEqualTo(rose);
        });
        return null;
      }))
      .compose(v -> ws.request("ping", new JsonObject()))
      .onComplete(ctx.succeeding(pong -> ctx.verify(() -> {
        assertThat(pong.getString("type")).isEqualTo("pong");
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("a bad token, in the upgrade or in the auth envelope, gets auth_error and close 4401")
  void badToken(VertxTestContext ctx) {
    var checkpoint = ctx.checkpoint(3);
    // Refused right after the 101, possibly in the same read: read by hand (see RawWebSocket).
    RawWebSocket.openUntilClose(port, "/api/ws?token=not-a-jwt").onComplete(ctx.succeeding(closed -> ctx.verify(() -> {
      assertThat(closed.code()).isEqualTo(4401);
      assertThat(closed.texts()).singleElement().satisfies(text -> {
        JsonObject e = new JsonObject(text);
        assertThat(e.getString("type")).isEqualTo("auth_error");
        assertThat(e.getJsonObject("payload").getString("code")).isEqualTo("unauthorized");
      });
      checkpoint.flag();
    })));
    WsClient inEnvelope = clients.track(await(WsClient.connect(port, "/api/ws")));
    inEnvelope.send(new JsonObject().put("type", "auth").put("payload", new JsonObject().put("token", "nope"))
      .put("requestId", "a-1"));
    expectAuthError(ctx, inEnvelope, "a-1").onSuccess(v -> checkpoint.flag());
    WsClient notAuth = clients.track(await(WsClient.connect(port, "/api/ws")));
    notAuth.send(new JsonObject().put("type", "ping").put("requestId", "p-1"));
    expectAuthError(ctx, notAuth, "p-1").onSuccess(v -> checkpoint.flag());
  }

  private static Future<Void> expectAuthError(VertxTestContext ctx, WsClient ws, String requestId) {
    return ws.next("auth_error").compose(e -> ws.closed().map(v -> {
      ctx.verify(() -> {
        assertThat(e.getJsonObject("payload").getString("code")).isEqualTo("unauthorized");
        assertThat(e.getString("requestId")).isEqualTo(requestId);
        assertThat(ws.received()).extracting(x -> x.getString("type")).containsExactly("auth_error");
        assertThat(ws.closeStatus()).isEqualTo((short) 4401);
      });
      return (Void) null;
    })).onFailure(ctx::failNow);
  }

  @Test
  @DisplayName("malformed JSON, unknown types and missing or mistyped fields get invalid_request, and the socket stays open")
  void badInput(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, api.token(Api.user("sam")));
    String conv = "00000000-0000-0000-0000-000000000000";
    List<String> frames = List.of(
      "{not json",
      "[1,2,3]",
      "{\"payload\":{}}",
      "{\"type\":42}",
      "{\"type\":\"ping\",\"payload\":[]}",
      "{\"type\":\"ping\",\"requestId\":7}");
    List<JsonObject> commands = List.of(
      new JsonObject().put("type", "teleport").put("requestId", "x-1"),
      new JsonObject().put("type", "send_message").put("payload", new JsonObject().put("content", "no conversation"))
        .put("requestId", "x-2"),
      new JsonObject().put("type", "send_message").put("payload", new JsonObject().put("conversationId", 5)
        .put("content", "hi")).put("requestId", "x-3"),
      new JsonObject().put("type", "send_message").put("payload", new JsonObject().put("conversationId", conv)
        .put("content", 42)).put("requestId", "x-4"),
      new JsonObject().put("type", "load_messages").put("payload", new JsonObject().put("conversationId", conv)
        .put("limit", "ten")).put("requestId", "x-5"),
      new JsonObject().put("type", "mark_read").put("payload", new JsonObject().put("conversationId", conv))
        .put("requestId", "x-6"),
      new JsonObject().put("type", "subscribe").put("payload", new JsonObject().put("topics", "public.a"))
        .put("requestId", "x-7"),
      new JsonObject().put("type", "resume").put("payload", new JsonObject()).put("requestId", "x-8"));
    frames.forEach(ws::sendText);
    ws.socket().writeBinaryMessage(Buffer.buffer("{\"type\":\"ping\"}"));
    commands.forEach(ws::send);
    List<Future<JsonObject>> anonymous = new ArrayList<>();
    for (int i = 0; i < frames.size() + 1; i++) {
      anonymous.add(ws.next(e -> e.getString("type").equals("error") && e.getString("requestId") == null,
        "error without requestId #" + i));
    }
    List<Future<JsonObject>> answered = new ArrayList<>();
    commands.forEach(c -> answered.add(ws.reply(c.getString("requestId"))));
    Future.all(Future.all(anonymous), Future.all(answered))
      .compose(v -> ws.request("ping", new JsonObject()))
      .onComplete(ctx.succeeding(pong -> ctx.verify(() -> {
        for (Future<JsonObject> f : anonymous) {
          assertThat(f.result().getJsonObject("payload").getString("code")).isEqualTo("invalid_request");
          assertThat(f.result().getJsonObject("payload").getString("message")).isNotBlank();
        }
        for (Future<JsonObject> f : answered) {
          assertThat(f.result().getString("type")).as(f.result().encode()).isEqualTo("error");
          assertThat(f.result().getJsonObject("payload").getString("code")).as(f.result().encode())
            .isEqualTo("invalid_request");
        }
        assertThat(pong.getString("type")).isEqualTo("pong");
        assertThat(ws.socket().isClosed()).isFalse();
        ctx.completeNow();
      })));
  }

  @Test
  @DisplayName("a frame larger than limits.frameBytes closes the socket with 1009")
  void oversizeFrame(VertxTestContext ctx) {
    String token = api.token(Api.user("tess"));
    WsClient ws = clients.track(await(WsClient.connect(
      new WebSocketClientOptions().setMaxFrameSize(1 << 20).setMaxMessageSize(1 << 20),
      new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/api/ws?token=" + token)
        .setAllowOriginHeader(false))));
    await(ws.next("connected"));
    String big = "x".repeat(131_072 + 1);
    ws.sendText(new JsonObject().put("type", "ping").put("payload", new JsonObject().put("pad", big)).encode());
    ws.closed().onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      assertThat(ws.closeStatus()).isEqualTo((short) 1009);
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a message larger than limits.frameBytes sent as several small frames closes the socket with 1009")
  void oversizeFragmentedMessage(VertxTestContext ctx) {
    WsClient ws = clients.ws(port, api.token(Api.user("uma")));
    // The client's default frame size is 65536: this message goes out as four frames.
    String big = "x".repeat(200_000);
    ws.sendText(new JsonObject().put("type", "ping").put("payload", new JsonObject().put("pad", big)).encode());
    ws.closed().onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      assertThat(ws.closeStatus()).isEqualTo((short) 1009);
      ctx.completeNow();
    })));
  }

  @Test
  @DisplayName("a client offering permessage-deflate gets no compression (the deflate-bomb defence) and a working socket")
  void noCompression(VertxTestContext ctx) {
    String token = api.token(Api.user("vera"));
    WsClient ws = clients.track(await(WsClient.connect(
      new WebSocketClientOptions().setTryUsePerMessageCompression(true).setTryUsePerFrameCompression(true),
      new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/api/ws?token=" + token)
        .setAllowOriginHeader(false))));
    ws.next("connected")
      .compose(c -> ws.request("ping", new JsonObject()))
      .onComplete(ctx.succeeding(pong -> ctx.verify(() -> {
        assertThat(ws.headers().get("Sec-WebSocket-Extensions")).isNull();
        assertThat(pong.getString("type")).isEqualTo("pong");
        ctx.completeNow();
      })));
  }
}
