package io.switchboard.bridge;

import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static io.switchboard.testing.TestNodes.await;

/**
 * A raw bridge client for tests: writes frames as given (or as raw text) and collects every
 * frame the server sends, over the SockJS raw WebSocket endpoint or the TCP bridge.
 */
abstract class FrameClient implements AutoCloseable {

  @Override
  public abstract void close();

  final LinkedBlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
  private final List<JsonObject> backlog = new ArrayList<>();
  final Promise<Integer> closed = Promise.promise();

  /** Connects to {@code /eventbus/websocket} with the given Origin header (none when null). */
  static FrameClient webSocket(int port, String query, String origin) {
    WebSocketClient client = Api.clientVertx().createWebSocketClient();
    WebSocketConnectOptions options = new WebSocketConnectOptions()
      .setHost("127.0.0.1").setPort(port)
      .setURI(SockJsBridge.PATH + "/websocket" + (query == null ? "" : "?" + query))
      .setAllowOriginHeader(origin != null);
    if (origin != null) {
      options.addHeader("Origin", origin);
    }
    WebSocket ws = await(client.connect(options));
    return new Ws(ws);
  }

  /** Connects to the TCP bridge. */
  static FrameClient tcp(int port) {
    NetSocket socket = await(Api.clientVertx().createNetClient().connect(port, "127.0.0.1"));
    return new Tcp(socket);
  }

  abstract void sendText(String text);

  void send(JsonObject frame) {
    sendText(frame.encode());
  }

  /**
   * The first frame not yet taken that matches {@code which}, waiting up to 10 s; frames that do
   * not match stay for later calls (events and replies may arrive in either order).
   */
  JsonObject next(Predicate<JsonObject> which) {
    for (Iterator<JsonObject> it = backlog.iterator(); it.hasNext(); ) {
      JsonObject f = it.next();
      if (which.test(f)) {
        it.remove();
        return f;
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        JsonObject f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
        if (f == null) {
          throw new AssertionError("no matching frame within 10 s; not taken: " + backlog);
        }
        if (which.test(f)) {
          return f;
        }
        backlog.add(f);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Every frame not yet taken, waiting {@code millis} for more. */
  List<JsonObject> drain(long millis) {
    List<JsonObject> out = new ArrayList<>(backlog);
    backlog.clear();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        JsonObject f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
        if (f == null) {
          return out;
        }
        out.add(f);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return out;
    }
  }

  /** The message frame on the user's address carrying an event of {@code type}. */
  JsonObject event(String userId, String type) {
    return next(f -> !"err".equals(f.getString("type"))
      && Addresses.user(userId).equals(f.getString("address"))
      && f.getValue("body") instanceof JsonObject body && type.equals(body.getString("type")));
  }

  /** The reply (message frame) to {@code replyAddress}, as an envelope. */
  JsonObject reply(String replyAddress) {
    return next(f -> replyAddress.equals(f.getString("address")) && !"err".equals(f.getString("type")))
      .getJsonObject("body");
  }

  JsonObject err() {
    return next(f -> "err".equals(f.getString("type")));
  }

  /** Waits for the server to close; the WebSocket close code, or 0 on TCP. */
  int awaitClosed() {
    return await(closed.future());
  }

  static JsonObject sendFrame(String address, JsonObject body, String replyAddress, JsonObject headers) {
    JsonObject f = new JsonObject().put("type", "send").put("address", address).put("body", body);
    if (replyAddress != null) {
      f.put("replyAddress", replyAddress);
    }
    if (headers != null) {
      f.put("headers", headers);
    }
    return f;
  }

  static JsonObject command(String type, JsonObject payload, String requestId) {
    return new JsonObject().put("type", type).put("payload", payload).put("requestId", requestId);
  }

  static JsonObject registerFrame(String address, JsonObject headers) {
    JsonObject f = new JsonObject().put("type", "register").put("address", address);
    if (headers != null) {
      f.put("headers", headers);
    }
    return f;
  }

  static JsonObject token(String token) {
    return new JsonObject().put("token", token);
  }

  private static final class Ws extends FrameClient {
    private final WebSocket ws;

    Ws(WebSocket ws) {
      this.ws = ws;
      ws.textMessageHandler(text -> frames.add(new JsonObject(text)));
      ws.closeHandler(v -> closed.tryComplete(ws.closeStatusCode() == null ? -1 : (int) ws.closeStatusCode()));
    }

    @Override
    void sendText(String text) {
      ws.writeTextMessage(text);
    }

    @Override
    void pause() {
      ws.pause();
    }

    @Override
    void resume() {
      ws.resume();
    }

    /** Writes one text message as two WebSocket frames. */
    void sendFragmented(String first, String second) {
      ws.writeFrame(io.vertx.core.http.WebSocketFrame.textFrame(first, false));
      ws.writeFrame(io.vertx.core.http.WebSocketFrame.continuationFrame(Buffer.buffer(second), true));
    }

    @Override
    public void close() {
      if (!ws.isClosed()) {
        ws.close();
      }
    }
  }

  /** Stops reading from the socket: the server's writes back up. */
  abstract void pause();

  abstract void resume();

  /** Writes a text message as two frames (WebSocket clients only). */
  void sendFragmented(String first, String second) {
    ((Ws) this).sendFragmented(first, second);
  }

  private static final class Tcp extends FrameClient {
    private final NetSocket socket;

    Tcp(NetSocket socket) {
      this.socket = socket;
      // The test's own reading of the framing: length, then that many bytes of JSON.
      RecordParser parser = RecordParser.newFixed(4);
      parser.handler(new Handler<>() {
        private int expected = -1;

        @Override
        public void handle(Buffer b) {
          if (expected < 0) {
            expected = b.getInt(0);
            parser.fixedSizeMode(expected);
          } else {
            frames.add(new JsonObject(b));
            expected = -1;
            parser.fixedSizeMode(4);
          }
        }
      });
      socket.handler(parser);
      socket.closeHandler(v -> closed.tryComplete(0));
    }

    @Override
    void sendText(String text) {
      writeRaw(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    void pause() {
      socket.pause();
    }

    @Override
    void resume() {
      socket.resume();
    }

    void writeRaw(byte[] bytes) {
      socket.write(Buffer.buffer().appendInt(bytes.length).appendBytes(bytes));
    }

    @Override
    public void close() {
      socket.close();
    }
  }

  /** Writes a frame header announcing {@code length} bytes, then nothing (TCP clients only). */
  void announce(int length) {
    ((Tcp) this).socket.write(Buffer.buffer().appendInt(length));
  }
}
