package io.switchboard.call;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One device of a user: a WebSocket client on one node that keeps every event it receives, in
 * order, and hands them out by type. Replies (matched by requestId) are kept apart from events.
 */
final class Device {

  private static final AtomicLong REQUESTS = new AtomicLong();

  private final WebSocketClient client;
  private final List<JsonObject> events = new ArrayList<>();
  private final Map<String, Integer> taken = new HashMap<>();
  private final Map<String, List<Promise<JsonObject>>> waiting = new HashMap<>();
  private final Map<String, Promise<JsonObject>> replies = new HashMap<>();
  private WebSocket ws;

  private Device(WebSocketClient client) {
    this.client = client;
  }

  /** Connects to {@code node} and completes once {@code connected} arrived, i.e. the device follows its user. */
  static Future<Device> open(Node node, String token) {
    Device d = new Device(Api.clientVertx().createWebSocketClient());
    return d.client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
        .setURI("/api/ws?token=" + token))
      .compose(ws -> {
        d.ws = ws;
        ws.textMessageHandler(text -> d.received(new JsonObject(text)));
        return d.next(Types.CONNECTED);
      })
      .map(d);
  }

  private synchronized void received(JsonObject envelope) {
    Promise<JsonObject> reply = replies.remove(envelope.getString("requestId", ""));
    if (reply != null) {
      reply.complete(envelope);
      return;
    }
    events.add(envelope);
    String type = envelope.getString("type");
    List<Promise<JsonObject>> waiters = waiting.get(type);
    if (waiters != null && !waiters.isEmpty()) {
      taken.merge(type, 1, Integer::sum);
      waiters.remove(0).complete(envelope);
    }
  }

  /** The next event of {@code type} not handed out yet: one already received, or the next to come. */
  synchronized Future<JsonObject> next(String type) {
    int skip = taken.getOrDefault(type, 0);
    List<JsonObject> ofType = events(type);
    if (ofType.size() > skip) {
      taken.put(type, skip + 1);
      return Future.succeededFuture(ofType.get(skip));
    }
    Promise<JsonObject> p = Promise.promise();
    waiting.computeIfAbsent(type, k -> new ArrayList<>()).add(p);
    return p.future();
  }

  /** Every event of {@code type} received so far. */
  synchronized List<JsonObject> events(String type) {
    return events.stream().filter(e -> type.equals(e.getString("type"))).toList();
  }

  /** Every event received so far, except {@code connected}. */
  synchronized List<String> types() {
    // Call signaling only: presence and other chat events may interleave on the same socket.
    return events.stream().map(e -> e.getString("type"))
      .filter(t -> t.startsWith("call_") || Types.ICE_CANDIDATE.equals(t)).toList();
  }

  /** Sends a command; completes with the reply envelope (its type may be {@code error}). */
  Future<JsonObject> request(String type, JsonObject payload) {
    String requestId = "r-" + REQUESTS.incrementAndGet();
    Promise<JsonObject> reply = Promise.promise();
    synchronized (this) {
      replies.put(requestId, reply);
    }
    ws.writeTextMessage(new JsonObject().put("type", type).put("requestId", requestId).put("payload", payload).encode())
      .onFailure(reply::tryFail);
    return reply.future();
  }

  Future<Void> close() {
    return (ws == null ? Future.<Void>succeededFuture() : ws.close()).eventually(client::close);
  }
}
