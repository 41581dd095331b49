package io.switchboard.chat;

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

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** A WebSocket client of one user on one node that records every envelope it receives. */
final class Socket {

  final List<JsonObject> received = new CopyOnWriteArrayList<>();
  private final WebSocketClient client;
  private WebSocket ws;
  private volatile Consumer<JsonObject> listener = e -> { };

  private Socket(WebSocketClient client) {
    this.client = client;
  }

  /** Connects and completes once {@code connected} arrived. */
  static Future<Socket> open(Node node, String token) {
    Socket s = new Socket(Api.clientVertx().createWebSocketClient());
    Promise<Socket> connected = Promise.promise();
    s.client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
        .setURI("/api/ws?token=" + token))
      .onSuccess(ws -> {
        s.ws = ws;
        ws.textMessageHandler(text -> {
          JsonObject env = new JsonObject(text);
          s.received.add(env);
          if (Types.CONNECTED.equals(env.getString("type"))) {
            connected.tryComplete(s);
          }
          s.listener.accept(env);
        });
      })
      .onFailure(connected::tryFail);
    return connected.future();
  }

  /** Calls {@code listener} for every envelope from now on. */
  void onEvent(Consumer<JsonObject> listener) {
    this.listener = listener;
  }

  /** Sends a command and completes with its reply (matched by requestId). */
  Future<JsonObject> request(String type, JsonObject payload) {
    String requestId = type + "-" + System.nanoTime();
    Promise<JsonObject> reply = Promise.promise();
    Consumer<JsonObject> previous = listener;
    listener = env -> {
      if (requestId.equals(env.getString("requestId"))) {
        listener = previous;
        reply.tryComplete(env);
      } else {
        previous.accept(env);
      }
    };
    ws.writeTextMessage(new JsonObject().put("type", type).put("requestId", requestId).put("payload", payload).encode());
    return reply.future();
  }

  Future<Void> close() {
    return (ws == null ? Future.<Void>succeededFuture() : ws.close()).eventually(client::close);
  }
}
