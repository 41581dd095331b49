package io.switchboard.bench;

import io.switchboard.protocol.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A SockJS event-bus bridge subscriber (docs/BRIDGES.md) over SockJS's own WebSocket transport,
 * {@code /eventbus/<server>/<session>/websocket}, with SockJS framing: the server opens with
 * {@code o}, sends {@code a[...]} arrays of bridge frames (each a JSON string), {@code h}
 * heartbeats and {@code c[code,reason]} on close; the client sends arrays of frames. It
 * registers on its own {@code sb.user.<id>} (open at {@code connected}), subscribes the topic
 * with a {@code send} to {@code sb.cmd}, and pings so the bridge does not close it as idle.
 */
final class SockJsSubscriber extends Subscriber {

  private static final String REPLY = "bench-reply";
  private static final long PING_MS = 20_000;

  private WebSocket socket;
  private long pinger = -1;

  SockJsSubscriber(Spec spec, int index) {
    super(spec, index);
  }

  @Override
  protected Future<Attempt> attempt() {
    Promise<Attempt> result = Promise.promise();
    String path = "/eventbus/" + ThreadLocalRandom.current().nextInt(100, 1000) + "/"
      + Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36) + "/websocket";
    clients.ws(index).connect(new WebSocketConnectOptions().setHost(uri.getHost()).setPort(Tokens.port(uri)).setURI(path))
      .onFailure(t -> result.tryComplete(Attempt.failed("connect: " + t.getMessage())))
      .onSuccess(ws -> {
        socket = ws;
        ws.textMessageHandler(text -> onFrame(text, result));
        ws.exceptionHandler(t -> {
          // a close follows
        });
        ws.closeHandler(v -> {
          stopPing();
          String why = "sockjs closed " + ws.closeStatusCode() + " " + (ws.closeReason() == null ? "" : ws.closeReason());
          if (result.future().isComplete()) {
            lost(why);
          } else if (ws.closeStatusCode() != null && ws.closeStatusCode() == 1013) {
            result.tryComplete(Attempt.refused(delayMillis(ws.closeReason(), -1), why));
          } else {
            result.tryComplete(Attempt.failed(why + " before connected"));
          }
        });
      });
    return result.future();
  }

  private void onFrame(String text, Promise<Attempt> result) {
    if (text.isEmpty()) {
      return;
    }
    char kind = text.charAt(0);
    if (kind == 'a' && result.future().isComplete() && !structured) {
      listener.unit(this, text);
      return;
    }
    switch (kind) {
      case 'o' -> {
        JsonObject headers = new JsonObject().put("token", token);
        if (cursor != null) {
          headers.put("cursor", cursor);
        }
        send(new JsonObject().put("type", "register").put("address", Addresses.user(userId)).put("headers", headers));
        pinger = vertx.setPeriodic(PING_MS, id -> send(new JsonObject().put("type", "ping")));
      }
      case 'a' -> {
        JsonArray frames;
        try {
          frames = new JsonArray(text.substring(1));
        } catch (RuntimeException e) {
          return;
        }
        for (Object f : frames) {
          JsonObject frame = f instanceof String s ? parse(s) : null;
          if (frame != null) {
            onBridgeFrame(frame, result);
          }
        }
      }
      case 'c' -> {
        String why = "sockjs close frame " + text.substring(1);
        if (result.future().isComplete()) {
          lost(why);
        } else {
          result.tryComplete(text.contains("1013") ? Attempt.refused(delayMillis(text.substring(text.indexOf(',') + 1), -1), why)
            : Attempt.failed(why + " before connected"));
        }
        doClose();
      }
      default -> {
        // 'h': heartbeat
      }
    }
  }

  private void onBridgeFrame(JsonObject frame, Promise<Attempt> result) {
    String type = frame.getString("type");
    if ("err".equals(type)) {
      if (!result.future().isComplete()) {
        String failure = frame.getString("failureType", "");
        String why = "bridge err " + failure + ": " + frame.getString("message", "");
        doClose();
        result.tryComplete("unauthorized".equals(failure) || "access_denied".equals(failure)
          ? Attempt.fatal(why) : Attempt.failed(why));
      }
      return;
    }
    if (!"rec".equals(type)) {
      return;
    }
    Object bodyValue = frame.getValue("body");
    JsonObject body = bodyValue instanceof JsonObject j ? j : null;
    if (result.future().isComplete()) {
      if (body != null) {
        JsonObject headers = frame.getJsonObject("headers");
        if (headers != null && headers.getString("cursor") != null) {
          cursor = headers.getString("cursor");
        }
        listener.event(this, body);
      }
      return;
    }
    if (REPLY.equals(frame.getString("address"))) {
      if (body != null && "subscribed".equals(body.getString("type"))) {
        result.tryComplete(Attempt.connected());
      } else {
        doClose();
        result.tryComplete(Attempt.fatal("subscribe refused: " + frame.encode()));
      }
    } else if (body != null && "connected".equals(body.getString("type"))) {
      if (topic == null) {
        result.tryComplete(Attempt.connected());
      } else {
        send(new JsonObject().put("type", "send").put("address", Addresses.BRIDGE_COMMANDS).put("replyAddress", REPLY)
          .put("headers", new JsonObject().put("token", token))
          .put("body", new JsonObject().put("type", "subscribe").put("requestId", "bench-subscribe")
            .put("payload", new JsonObject().put("topics", new JsonArray().add(topic)))));
      }
    }
  }

  private void send(JsonObject frame) {
    WebSocket ws = socket;
    if (ws != null && !ws.isClosed()) {
      ws.writeTextMessage(new JsonArray().add(frame.encode()).encode());
    }
  }

  private void stopPing() {
    if (pinger >= 0) {
      vertx.cancelTimer(pinger);
      pinger = -1;
    }
  }

  @Override
  protected void doClose() {
    stopPing();
    WebSocket ws = socket;
    if (ws != null && !ws.isClosed()) {
      ws.close();
    }
  }
}
