package io.switchboard.bridge;

import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.UUID;

import static io.switchboard.bridge.FrameClient.command;
import static io.switchboard.bridge.FrameClient.registerFrame;
import static io.switchboard.bridge.FrameClient.sendFrame;
import static io.switchboard.bridge.FrameClient.token;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad input on the SockJS bridge, through its raw WebSocket endpoint and its xhr transport. */
class SockJsBridgeRawTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(BridgeNode.httpPort());
  }

  private static FrameClient connect() {
    return FrameClient.webSocket(BridgeNode.httpPort(), null, BridgeNode.ALLOWED_ORIGIN);
  }

  @Test
  @DisplayName("a malformed JSON frame gets an invalid_json err frame and the socket stays usable")
  void malformedJson() {
    String alice = Api.user("alice");
    try (FrameClient c = connect()) {
      c.sendText("{\"type\":\"send\",");
      JsonObject err = c.err();
      assertThat(err.getString("failureType")).isEqualTo("invalid_json");
      assertThat(err.getInteger("failureCode")).isEqualTo(-1);
      c.sendText("[1,2,3]");
      assertThat(c.err().getString("failureType")).isEqualTo("invalid_json");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p-1"), "r-1", token(api.token(alice))));
      JsonObject pong = c.reply("r-1");
      assertThat(pong.getString("type")).isEqualTo("pong");
      assertThat(pong.getString("requestId")).isEqualTo("p-1");
    }
  }

  @Test
  @DisplayName("unknown frame types, frames without type or address, and bad envelopes are answered, never dropped")
  void unknownTypes() {
    String alice = Api.user("alice");
    JsonObject headers = token(api.token(alice));
    try (FrameClient c = connect()) {
      c.send(new JsonObject().put("type", "subscribe").put("address", Addresses.BRIDGE_COMMANDS));
      assertThat(c.err().getString("failureType")).isEqualTo("invalid_type");
      c.send(new JsonObject().put("address", Addresses.BRIDGE_COMMANDS));
      assertThat(c.err().getString("failureType")).isEqualTo("missing_type");
      c.send(new JsonObject().put("type", "send").put("body", new JsonObject()));
      assertThat(c.err().getString("failureType")).isEqualTo("missing_address");

      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("fly_to_the_moon", new JsonObject(), "u-1"), "r-2", headers));
      JsonObject unknown = c.reply("r-2");
      assertThat(unknown.getString("type")).isEqualTo("error");
      assertThat(unknown.getString("requestId")).isEqualTo("u-1");
      assertThat(unknown.getJsonObject("payload").getString("code")).isEqualTo("invalid_request");

      c.send(new JsonObject().put("type", "send").put("address", Addresses.BRIDGE_COMMANDS).put("body", "ping")
        .put("replyAddress", "r-3").put("headers", headers));
      assertThat(c.reply("r-3").getJsonObject("payload").getString("code")).isEqualTo("invalid_request");

      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, new JsonObject().put("type", "send_message")
        .put("payload", new JsonObject().put("content", "where to?")), null, headers));
      JsonObject failed = c.err();
      assertThat(failed.getString("failureType")).isEqualTo("invalid_request");
      assertThat(failed.getInteger("failureCode")).isEqualTo(400);
    }
  }

  @Test
  @DisplayName("a message over limits.frameBytes is refused with too_large and the socket closed with 1009")
  void oversize() {
    int limit = BridgeNode.get().context().config().limits().frameBytes();
    try (FrameClient c = connect()) {
      // Two WebSocket frames, each under the limit, making one message over it.
      String half = "x".repeat(limit / 2 + 100);
      c.sendFragmented("{\"type\":\"ping\",\"pad\":\"" + half, half + "\"}");
      JsonObject err = c.err();
      assertThat(err.getString("failureType")).isEqualTo("too_large");
      assertThat(err.getInteger("failureCode")).isEqualTo(1009);
      assertThat(c.awaitClosed()).isEqualTo(1009);
    }
    try (FrameClient c = connect()) {
      c.sendText("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(limit) + "\"}");
      assertThat(c.awaitClosed()).isEqualTo(1009);
    }
  }

  @Test
  @DisplayName("a frame over limits.frameBytes posted through SockJS's xhr_send is refused with too_large")
  void oversizeOverXhr() {
    int limit = BridgeNode.get().context().config().limits().frameBytes();
    String base = SockJsBridge.PATH + "/000/" + UUID.randomUUID().toString().replace("-", "");
    // SockJS closes a polling connection once answered: a client of its own keeps the shared
    // client's pool clear of connections the server is closing.
    WebClient xhr = WebClient.create(Api.clientVertx(), new WebClientOptions()
      .setDefaultHost("127.0.0.1").setDefaultPort(BridgeNode.httpPort()).setKeepAlive(false));
    HttpResponse<Buffer> open = await(xhr.post(base + "/xhr").send());
    assertThat(open.bodyAsString()).startsWith("o");
    String frame = "{\"type\":\"ping\",\"pad\":\"" + "x".repeat(limit) + "\"}";
    HttpResponse<Buffer> sent = await(xhr.post(base + "/xhr_send")
      .sendBuffer(Buffer.buffer(new JsonArray().add(frame).encode())));
    assertThat(sent.statusCode()).isEqualTo(204);
    HttpResponse<Buffer> polled = await(xhr.post(base + "/xhr").send());
    String body = polled.bodyAsString();
    assertThat(body).startsWith("a[");
    JsonObject err = new JsonObject(new JsonArray(body.substring(1).trim()).getString(0));
    assertThat(err.getString("failureType")).isEqualTo("too_large");
    xhr.close();
  }

  @Test
  @DisplayName("a missing, invalid or foreign user's token is refused, frame by frame")
  void badTokens() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    try (FrameClient c = connect()) {
      c.send(registerFrame(Addresses.user(alice), null));
      JsonObject missing = c.err();
      assertThat(missing.getString("failureType")).isEqualTo("unauthorized");
      assertThat(missing.getString("address")).isEqualTo(Addresses.user(alice));
      c.send(registerFrame(Addresses.user(alice), token("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")));
      assertThat(c.err().getString("failureType")).isEqualTo("unauthorized");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p"), "r-4", token("junk")));
      JsonObject invalid = c.err();
      assertThat(invalid.getString("failureType")).isEqualTo("unauthorized");
      assertThat(invalid.getString("address")).isEqualTo("r-4");

      c.send(registerFrame(Addresses.user(alice), token(api.token(alice))));
      c.event(alice, "connected");
      // The session belongs to alice now: bob's token does not make it bob's.
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("ping", new JsonObject(), "p"), "r-5", token(api.token(bob))));
      JsonObject foreign = c.err();
      assertThat(foreign.getString("failureType")).isEqualTo("access_denied");
      assertThat(foreign.getString("address")).isEqualTo("r-5");
    }
  }

  @Test
  @DisplayName("the token may come once in the URL, and registering on a non-user address is refused")
  void tokenInUrl() {
    String alice = Api.user("alice");
    try (FrameClient c = FrameClient.webSocket(BridgeNode.httpPort(), "token=" + api.token(alice), null)) {
      c.send(registerFrame(Addresses.BROADCAST, null));
      assertThat(c.err().getString("failureType")).isEqualTo("access_denied");
      c.send(registerFrame(Addresses.user(alice), null));
      JsonObject connected = c.event(alice, "connected");
      assertThat(connected.getString("type")).isEqualTo("rec");
      c.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("create_group", new JsonObject().put("name", "URL"), "g-1"),
        "r-6", null));
      assertThat(c.reply("r-6").getString("type")).isEqualTo("conversation_created");
      assertThat(c.event(alice, "conversation_created")).isNotNull();
    }
  }

  @Test
  @DisplayName("a page of a foreign origin cannot open a SockJS session; an allowed one gets credentialed CORS")
  void foreignOrigin() {
    WebSocketClient client = Api.clientVertx().createWebSocketClient();
    assertThatThrownBy(() -> await(client.connect(new WebSocketConnectOptions()
      .setHost("127.0.0.1").setPort(BridgeNode.httpPort()).setURI(SockJsBridge.PATH + "/websocket")
      .setAllowOriginHeader(true).addHeader("Origin", "http://evil.example"))))
      .isInstanceOfSatisfying(UpgradeRejectedException.class, e -> assertThat(e.getStatus()).isEqualTo(403));
    HttpResponse<Buffer> info = await(api.client().get(SockJsBridge.PATH + "/info")
      .putHeader("Origin", "http://evil.example").send());
    assertThat(info.statusCode()).isEqualTo(403);
    HttpResponse<Buffer> allowed = await(api.client().get(SockJsBridge.PATH + "/info")
      .putHeader("Origin", BridgeNode.ALLOWED_ORIGIN).send());
    assertThat(allowed.statusCode()).isEqualTo(200);
    assertThat(allowed.bodyAsJsonObject().getBoolean("websocket")).isTrue();
    // sockjs-client's XHR fallbacks send credentials: a wildcard would not do.
    assertThat(allowed.getHeader("Access-Control-Allow-Origin")).isEqualTo(BridgeNode.ALLOWED_ORIGIN);
    assertThat(allowed.getHeader("Access-Control-Allow-Credentials")).isEqualTo("true");
  }

  @Test
  @DisplayName("a SockJS client that stops reading is cut with slow_consumer instead of being buffered without bound")
  void slowConsumer() {
    String alice = Api.user("alice");
    int before = bridgeConnections();
    FrameClient reader = connect();
    try (FrameClient publisher = FrameClient.tcp(BridgeNode.tcpPort())) {
      reader.send(registerFrame(Addresses.user(alice), token(api.token(alice))));
      reader.event(alice, "connected");
      assertThat(bridgeConnections()).isEqualTo(before + 1);
      reader.pause();
      String chunk = "x".repeat(60_000);
      JsonObject key = new JsonObject().put("apiKey", "dev-key");
      int published = 0;
      // Far more than the 1 MiB queue plus what the kernel's socket buffers absorb.
      for (int i = 0; i < 600 && bridgeConnections() > before; i++) {
        publisher.send(sendFrame(Addresses.BRIDGE_COMMANDS, command("publish", new JsonObject()
          .put("userId", alice).put("event", "bulk").put("data", chunk + i), "b-" + i), "r-" + i, key));
        publisher.reply("r-" + i);
        published++;
      }
      assertThat(bridgeConnections()).as("cut after %d events", published).isEqualTo(before);
      assertThat(published).isLessThan(600);
    } finally {
      reader.resume();
      reader.awaitClosed();
      reader.close();
    }
  }

  private static int bridgeConnections() {
    return api.get("/api/health", null).bodyAsJsonObject().getJsonObject("connections").getInteger("bridge");
  }
}
