package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A WebSocket subscriber. Switchboard: {@code /api/ws} with the token in {@code Authorization},
 * open at {@code connected} (then {@code subscribe} to the topic, open at {@code subscribed}); a
 * close 1013 (delay in the reason) or a 503 / 429 upgrade answer is the server's "try again". A
 * WebSocket client keeps its own cursor (README, "Resume and cursors"): the cursor of its last
 * {@code connected} and the last seq of each conversation since. A template target: open once
 * upgraded.
 */
final class WsSubscriber extends Subscriber {

  private static final String SUBSCRIBE_ID = "bench-subscribe";

  private final boolean switchboard;
  private WebSocket socket;
  private String sessionId;
  private final Map<String, Long> positions = new LinkedHashMap<>();

  WsSubscriber(Spec spec, int index, boolean switchboard) {
    super(spec, index);
    this.switchboard = switchboard;
  }

  @Override
  protected Future<Attempt> attempt() {
    Promise<Attempt> result = Promise.promise();
    WebSocketConnectOptions options = new WebSocketConnectOptions()
      .setHost(uri.getHost())
      .setPort(Tokens.port(uri))
      .setURI(path());
    if (token != null) {
      options.addHeader("Authorization", BEARER + token);
    }
    clients.ws(index).connect(options)
      .onFailure(t -> result.tryComplete(rejected(t)))
      .onSuccess(ws -> {
        socket = ws;
        // Every frame (the server's pings too) shows the server is alive.
        // Once a newer attempt has replaced this socket, what it still says (late messages, its
        // close) is no longer this subscriber's.
        ws.frameHandler(f -> {
          if (socket == ws) {
            heard();
          }
        });
        ws.textMessageHandler(text -> {
          if (socket == ws) {
            onText(text, result);
          }
        });
        ws.binaryMessageHandler(b -> {
          if (socket == ws) {
            onText(b.toString(StandardCharsets.UTF_8), result);
          }
        });
        ws.exceptionHandler(t -> {
          // a close follows
        });
        ws.closeHandler(v -> {
          if (socket != ws) {
            result.tryComplete(Attempt.failed("replaced"));
            return;
          }
          String why = "ws closed " + ws.closeStatusCode() + " " + (ws.closeReason() == null ? "" : ws.closeReason());
          if (result.future().isComplete()) {
            lost(why);
            return;
          }
          Short code = ws.closeStatusCode();
          if (code != null && code == 1013) {
            result.tryComplete(Attempt.refused(delayMillis(ws.closeReason(), -1), why));
          } else if (code != null && code == 4401) {
            result.tryComplete(Attempt.fatal(why));
          } else {
            result.tryComplete(Attempt.failed(why + " before connected"));
          }
        });
        if (!switchboard) {
          result.tryComplete(Attempt.connected());
        }
      });
    return result.future();
  }

  private String path() {
    if (!switchboard) {
      String q = uri.getRawQuery();
      return uri.getRawPath() + (q == null ? "" : "?" + q);
    }
    String c = cursor();
    return "/api/ws" + (c == null ? "" : "?lastEventId=" + URLEncoder.encode(c, StandardCharsets.UTF_8));
  }

  /** The cursor to resume from: {@code <sessionId>.<p>:<seq>,…}, or null before any {@code connected}. */
  private String cursor() {
    if (sessionId == null) {
      return null;
    }
    StringBuilder sb = new StringBuilder(sessionId).append('.');
    boolean first = true;
    for (Map.Entry<String, Long> e : positions.entrySet()) {
      if (!first) {
        sb.append(',');
      }
      sb.append(e.getKey()).append(':').append(e.getValue());
      first = false;
    }
    return sb.toString();
  }

  private static Attempt rejected(Throwable t) {
    if (t instanceof UpgradeRejectedException u) {
      int status = u.getStatus();
      String why = "upgrade HTTP " + status;
      if (fatalStatus(status)) {
        return Attempt.fatal(why);
      }
      long delay = retryAfter(u.getHeaders() == null ? null : u.getHeaders().get("Retry-After"), -1);
      return (status == 503 || status == 429) && delay >= 0 ? Attempt.refused(delay, why) : Attempt.failed(why);
    }
    return Attempt.failed("connect: " + t.getMessage());
  }

  private void onText(String text, Promise<Attempt> result) {
    if (result.future().isComplete() && !structured) {
      listener.unit(this, text);
      return;
    }
    if (!switchboard) {
      listener.unit(this, text);
      return;
    }
    JsonObject env = parse(text);
    if (env == null) {
      return;
    }
    String type = type(env);
    if (result.future().isComplete()) {
      track(env);
      listener.event(this, env);
      return;
    }
    if ("connected".equals(type)) {
      adopt(env.getJsonObject("payload", new JsonObject()));
      cursor = cursor();
      if (topic == null) {
        result.tryComplete(Attempt.connected());
      } else {
        socket.writeTextMessage(new JsonObject().put("type", "subscribe").put("requestId", SUBSCRIBE_ID)
          .put("payload", new JsonObject().put("topics", new JsonArray().add(topic))).encode());
      }
    } else if (SUBSCRIBE_ID.equals(env.getString("requestId"))) {
      if ("subscribed".equals(type)) {
        result.tryComplete(Attempt.connected());
      } else {
        socket.close();
        result.tryComplete(Attempt.fatal("subscribe refused: " + text));
      }
    } else if (structured) {
      // Replayed before connected cannot happen (connected is first); anything else is kept.
      track(env);
      listener.event(this, env);
    }
  }

  /**
   * Takes over the cursor of {@code connected} (PROTOCOL "WebSocket"): {@code <sessionId>.<p>:<seq>,…}.
   * A resumed stream keeps the session its cursor named and its positions; a client that kept the
   * session id alone would, on its next resume, send no position for a conversation quiet since,
   * and be replayed that conversation again from the session's start.
   */
  private void adopt(JsonObject connected) {
    String c = connected.getString("cursor");
    positions.clear();
    int dot = c == null ? -1 : c.indexOf('.');
    if (dot < 0) {
      sessionId = connected.getString("sessionId");
      return;
    }
    sessionId = c.substring(0, dot);
    for (String entry : c.substring(dot + 1).split(",")) {
      int colon = entry.indexOf(':');
      if (colon > 0) {
        try {
          positions.put(entry.substring(0, colon), Long.parseLong(entry.substring(colon + 1)));
        } catch (NumberFormatException e) {
          // not a position: left out
        }
      }
    }
  }

  /** Keeps the cursor: the last seq delivered per conversation on this session. */
  private void track(JsonObject env) {
    JsonObject p = env.getJsonObject("payload");
    if (p == null || "connected".equals(type(env))) {
      if (p != null && p.getString("sessionId") != null) {
        adopt(p);
      }
      return;
    }
    Object conv = p.getValue("conversationId");
    Object seq = p.getValue("seq");
    if (conv instanceof String c && c.length() >= 8 && seq instanceof Number n) {
      positions.merge(c.substring(0, 8), n.longValue(), Math::max);
      cursor = null;
    }
  }

  @Override
  protected void doClose() {
    WebSocket ws = socket;
    if (ws != null && !ws.isClosed()) {
      ws.close();
    }
  }
}
