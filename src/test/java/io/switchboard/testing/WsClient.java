package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A WebSocket client of the Switchboard protocol for tests, on Vert.x's WebSocketClient: it sends
 * envelopes, pairs replies with their requestId, and keeps every envelope received in order.
 *
 * <p>It also keeps what a real client needs to resume: the session id of its last
 * {@code connected} (or {@code resume} ack) and the last seq it saw per conversation, from which
 * {@link #cursor()} builds a cursor as SSE would have sent it.
 */
public final class WsClient implements AutoCloseable {

  /** The durable event types: they carry conversationId and seq. */
  private static final Set<String> DURABLE = Set.of("message_received", "member_joined", "member_left",
    "message_edited", "message_deleted", "reaction_updated", "conversation_updated");

  private final WebSocketClient client;
  private final Inbox<JsonObject> inbox;
  private final Promise<Void> closed = Promise.promise();
  private final AtomicInteger nextId = new AtomicInteger();
  private final Map<String, Long> seen = new LinkedHashMap<>();
  private WebSocket ws;
  private volatile String sessionId;

  private WsClient(WebSocketClientOptions options) {
    this.client = Api.clientVertx().createWebSocketClient(options);
    this.inbox = new Inbox<>(Api.clientVertx(), "WebSocket");
  }

  /** Connects to {@code uri} (a token in the query, or none), sending no Origin header. */
  public static Future<WsClient> connect(int port, String uri) {
    return connect(new WebSocketClientOptions(), new WebSocketConnectOptions()
      .setHost("127.0.0.1").setPort(port).setURI(uri).setAllowOriginHeader(false));
  }

  /** Connects with {@code ?token=}. */
  public static Future<WsClient> connect(int port, String path, String token) {
    return connect(port, path + (path.contains("?") ? "&" : "?") + "token=" + token);
  }

  /** Connects with explicit client and connect options. */
  public static Future<WsClient> connect(WebSocketClientOptions clientOptions, WebSocketConnectOptions options) {
    WsClient c = new WsClient(clientOptions);
    // Handlers are set before connecting: what the server sends right after the handshake
    // (auth_error, a close) would otherwise be gone before a later callback could set them.
    ClientWebSocket socket = c.client.webSocket();
    c.attach(socket);
    return socket.connect(options).map(c).onFailure(t -> c.client.close());
  }

  private void attach(ClientWebSocket socket) {
    this.ws = socket;
    socket.textMessageHandler(text -> {
      JsonObject env = new JsonObject(text);
      track(env);
      inbox.add(env);
    });
    socket.closeHandler(v -> {
      inbox.end("closed with " + socket.closeStatusCode() + " " + socket.closeReason());
      closed.tryComplete();
    });
    socket.exceptionHandler(t -> {
    });
  }

  private synchronized void track(JsonObject env) {
    String type = env.getString("type");
    JsonObject p = env.getJsonObject("payload", new JsonObject());
    if ("connected".equals(type) || ("ack".equals(type) && p.getString("sessionId") != null)) {
      sessionId = p.getString("sessionId");
    }
    if (DURABLE.contains(type) && p.getString("conversationId") != null && p.getLong("seq", 0L) > 0) {
      seen.merge(p.getString("conversationId").substring(0, 8), p.getLong("seq"), Math::max);
    }
  }

  /** The handshake response headers. */
  public MultiMap headers() {
    return ws.headers();
  }

  public WebSocket socket() {
    return ws;
  }

  /** Sends a command with a fresh requestId; completes with the one reply carrying it. */
  public Future<JsonObject> request(String type, JsonObject payload) {
    String requestId = "r-" + nextId.incrementAndGet();
    Future<JsonObject> reply = reply(requestId);
    send(new JsonObject().put("type", type).put("payload", payload).put("requestId", requestId));
    return reply;
  }

  /** The next envelope answering {@code requestId}. */
  public Future<JsonObject> reply(String requestId) {
    return inbox.next(e -> requestId.equals(e.getString("requestId")), "reply to " + requestId);
  }

  public void send(JsonObject envelope) {
    ws.writeTextMessage(envelope.encode());
  }

  public Future<Void> sendText(String text) {
    return ws.writeTextMessage(text);
  }

  /** The next not yet awaited envelope of this type. */
  public Future<JsonObject> next(String type) {
    return inbox.next(e -> type.equals(e.getString("type")), "'" + type + "' envelope");
  }

  /** The next not yet awaited envelope matching a condition. */
  public Future<JsonObject> next(Predicate<JsonObject> matches, String what) {
    return inbox.next(matches, what);
  }

  /** The next not yet awaited {@code message_received} with this content. */
  public Future<JsonObject> message(String content) {
    return inbox.next(e -> "message_received".equals(e.getString("type"))
      && content.equals(e.getJsonObject("payload").getValue("content")), "message '" + content + "'");
  }

  /** Every envelope received so far, in order. */
  public List<JsonObject> received() {
    return inbox.all();
  }

  /** Completes when the socket is closed (by either side). */
  public Future<Void> closed() {
    return closed.future();
  }

  public Short closeStatus() {
    return ws.closeStatusCode();
  }

  public String closeReason() {
    return ws.closeReason();
  }

  /**
   * The resume cursor of everything received: {@code <sessionId>.<p>:<seq>,...} where {@code p}
   * is the first 8 hex digits of a conversation id (the format of the SSE {@code id}).
   */
  public synchronized String cursor() {
    StringBuilder sb = new StringBuilder(sessionId).append('.');
    String sep = "";
    for (Map.Entry<String, Long> e : seen.entrySet()) {
      sb.append(sep).append(e.getKey()).append(':').append(e.getValue());
      sep = ",";
    }
    return sb.toString();
  }

  /** Stops reading: the server's writes back up into the TCP buffers. */
  public void pause() {
    ws.pause();
  }

  public void resume() {
    ws.resume();
  }

  /** Closes the socket (1000) and the client. */
  @Override
  public void close() {
    if (ws != null && !ws.isClosed()) {
      ws.close();
    }
    client.close();
  }
}
