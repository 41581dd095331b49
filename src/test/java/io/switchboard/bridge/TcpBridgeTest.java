package io.switchboard.bridge;

import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.switchboard.bridge.FrameClient.command;
import static io.switchboard.bridge.FrameClient.registerFrame;
import static io.switchboard.bridge.FrameClient.sendFrame;
import static io.switchboard.bridge.FrameClient.token;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

class TcpBridgeTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(BridgeNode.httpPort());
  }

  @Test
  @DisplayName("a user's send to sb.cmd is answered with the reply envelope on its replyAddress")
  void sendIsAnswered() {
    String alice = Api.user("alice");
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS,
        command("create_group", new JsonObject().put("name", "Backend"), "r-1"), "reply-1", token(api.token(alice))));
      JsonObject frame = c.next(f -> "reply-1".equals(f.getString("address")));
      assertThat(frame.getString("type")).isEqualTo("message");
      assertThat(frame.getBoolean("send")).isTrue();
      JsonObject reply = frame.getJsonObject("body");
      assertThat(reply.getString("type")).isEqualTo("conversation_created");
      assertThat(reply.getString("requestId")).isEqualTo("r-1");
      assertThat(reply.getJsonObject("payload").getString("name")).isEqualTo("Backend");
    }
  }

  @Test
  @DisplayName("a user registered on their own address receives connected, then a message posted over REST")
  void registerStreamsEvents() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    JsonObject group = api.group(bobToken, "Ops", alice);
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(registerFrame(Addresses.user(alice), token(api.token(alice))));
      JsonObject connected = c.event(alice, "connected");
      assertThat(connected.getString("type")).isEqualTo("message");
      assertThat(connected.getJsonObject("body").getJsonObject("payload").getString("userId")).isEqualTo(alice);
      api.send(bobToken, group.getString("id"), "deploy done");
      JsonObject frame = c.event(alice, "message_received");
      assertThat(frame.getBoolean("send")).isFalse();
      assertThat(frame.getJsonObject("headers").getString("cursor")).isNotBlank();
      JsonObject message = frame.getJsonObject("body").getJsonObject("payload");
      assertThat(message.getString("content")).isEqualTo("deploy done");
      assertThat(message.getString("senderId")).isEqualTo(bob);
    }
  }

  @Test
  @DisplayName("a client registering again with the cursor of its last event receives what it missed, once")
  void resumeWithCursor() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    String aliceToken = api.token(alice);
    String conversationId = api.group(bobToken, "Resume", alice).getString("id");
    String cursor;
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(registerFrame(Addresses.user(alice), token(aliceToken)));
      c.event(alice, "connected");
      api.send(bobToken, conversationId, "one");
      cursor = c.event(alice, "message_received").getJsonObject("headers").getString("cursor");
    }
    api.send(bobToken, conversationId, "two");
    api.send(bobToken, conversationId, "three");
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(registerFrame(Addresses.user(alice), token(aliceToken).put("cursor", cursor)));
      c.event(alice, "connected");
      JsonObject two = c.event(alice, "message_received").getJsonObject("body").getJsonObject("payload");
      JsonObject three = c.event(alice, "message_received").getJsonObject("body").getJsonObject("payload");
      assertThat(two.getString("content")).isEqualTo("two");
      assertThat(three.getString("content")).isEqualTo("three");
      assertThat(c.drain(500)).noneMatch(f -> f.getValue("body") instanceof JsonObject b
        && "message_received".equals(b.getString("type")));
    }
  }

  @Test
  @DisplayName("registering on another user's address is refused and delivers nothing of theirs")
  void foreignRegisterRefused() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(registerFrame(Addresses.user(bob), token(api.token(alice))));
      JsonObject err = c.err();
      assertThat(err.getString("failureType")).isEqualTo("access_denied");
      assertThat(err.getString("address")).isEqualTo(Addresses.user(bob));
      api.group(bobToken, "Bob's own");
      assertThat(c.drain(1000)).noneMatch(f -> Addresses.user(bob).equals(f.getString("address")));
    }
  }

  @Test
  @DisplayName("sends to other addresses, publishes and unknown frame types are refused, and ping gets pong")
  void denyByDefault() {
    String alice = Api.user("alice");
    JsonObject headers = token(api.token(alice));
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.send(sendFrame(Addresses.command("send_message"), command("send_message", new JsonObject(), "x"), "r-2", headers));
      JsonObject denied = c.err();
      assertThat(denied.getString("failureType")).isEqualTo("access_denied");
      assertThat(denied.getString("address")).isEqualTo("r-2");
      c.send(new JsonObject().put("type", "publish").put("address", Addresses.BROADCAST).put("body", new JsonObject())
        .put("headers", headers));
      assertThat(c.err().getString("failureType")).isEqualTo("access_denied");
      c.send(new JsonObject().put("type", "rec").put("address", Addresses.BRIDGE_COMMANDS));
      assertThat(c.err().getString("failureType")).isEqualTo("invalid_type");
      c.send(new JsonObject().put("type", "ping"));
      assertThat(c.next(f -> true).getString("type")).isEqualTo("pong");
    }
  }

  @Test
  @DisplayName("commands over the bridge share the connection's rate limit: a burst past it is answered rate_limited")
  void rateLimited() {
    String alice = Api.user("alice");
    JsonObject headers = token(api.token(alice));
    int burst = BridgeNode.get().context().config().limits().commandBurst();
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      for (int i = 0; i < burst + 10; i++) {
        c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p-" + i), "rl-" + i, headers));
      }
      int limited = 0;
      for (int i = 0; i < burst + 10; i++) {
        JsonObject reply = c.reply("rl-" + i);
        assertThat(reply.getString("requestId")).isEqualTo("p-" + i);
        if ("error".equals(reply.getString("type"))) {
          assertThat(reply.getJsonObject("payload").getString("code")).isEqualTo("rate_limited");
          limited++;
        }
      }
      assertThat(limited).isGreaterThan(0);
    }
  }

  @Test
  @DisplayName("malformed JSON and a missing or invalid token get err frames and the socket stays open")
  void badInput() {
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.sendText("{not json");
      assertThat(c.err().getString("failureType")).isEqualTo("invalid_json");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p"), "r-3", null));
      JsonObject missing = c.err();
      assertThat(missing.getString("failureType")).isEqualTo("unauthorized");
      assertThat(missing.getString("address")).isEqualTo("r-3");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p"), "r-4", token("a.b.c")));
      assertThat(c.err().getString("failureType")).isEqualTo("unauthorized");
      c.send(new JsonObject().put("type", "ping"));
      assertThat(c.next(f -> true).getString("type")).isEqualTo("pong");
    }
  }

  @Test
  @DisplayName("a frame announcing more than limits.frameBytes is refused with too_large and the socket closed")
  void oversizeFrame() {
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      c.announce(BridgeNode.get().context().config().limits().frameBytes() + 1);
      JsonObject err = c.err();
      assertThat(err.getString("failureType")).isEqualTo("too_large");
      assertThat(err.getInteger("failureCode")).isEqualTo(1009);
      c.awaitClosed();
    }
  }

  @Test
  @DisplayName("an API key may publish to a topic, which a WebSocket subscriber receives, and nothing else")
  void apiKeyPublish() throws Exception {
    String carol = Api.user("carol");
    String topic = "public.bridge-" + carol;
    LinkedBlockingQueue<JsonObject> received = new LinkedBlockingQueue<>();
    WebSocket ws = await(Api.clientVertx().createWebSocketClient().connect(new WebSocketConnectOptions()
      .setHost("127.0.0.1").setPort(BridgeNode.httpPort()).setURI("/api/ws?token=" + api.token(carol))
      .setAllowOriginHeader(false)));
    try (FrameClient c = FrameClient.tcp(BridgeNode.tcpPort())) {
      ws.textMessageHandler(t -> received.add(new JsonObject(t)));
      ws.writeTextMessage(command("subscribe", new JsonObject().put("topics", new JsonArray().add(topic)), "s-1").encode());
      assertThat(poll(received, "subscribed").getString("requestId")).isEqualTo("s-1");

      JsonObject key = new JsonObject().put("apiKey", "dev-key");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("publish", new JsonObject()
        .put("topic", topic).put("event", "announcement").put("data", new JsonObject().put("text", "hi")), "pub-1"),
        "r-5", key));
      JsonObject ack = c.reply("r-5");
      assertThat(ack.getString("type")).isEqualTo("ack");
      assertThat(ack.getString("requestId")).isEqualTo("pub-1");
      JsonObject pushed = poll(received, "announcement");
      assertThat(pushed.getJsonObject("payload").getString("topic")).isEqualTo(topic);
      assertThat(pushed.getJsonObject("payload").getJsonObject("data").getString("text")).isEqualTo("hi");

      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("create_group", new JsonObject().put("name", "x"), "g"),
        "r-6", key));
      JsonObject refused = c.reply("r-6");
      assertThat(refused.getString("type")).isEqualTo("error");
      assertThat(refused.getJsonObject("payload").getString("code")).isEqualTo("forbidden");
      c.send(registerFrame(Addresses.user(carol), key));
      assertThat(c.err().getString("failureType")).isEqualTo("access_denied");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("publish", new JsonObject(), "p"), "r-7",
        new JsonObject().put("apiKey", "wrong-key")));
      assertThat(c.err().getString("failureType")).isEqualTo("unauthorized");
    } finally {
      ws.close();
    }
  }

  private static JsonObject poll(LinkedBlockingQueue<JsonObject> q, String type) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      JsonObject e = q.poll(100, TimeUnit.MILLISECONDS);
      if (e != null && type.equals(e.getString("type"))) {
        return e;
      }
    }
    throw new AssertionError("no '" + type + "' envelope within 10 s");
  }
}
