package io.switchboard.faults;

import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A WebSocket client that resumes as README "Resume and cursors" tells one to: it builds its
 * cursor from {@code connected.cursor} and the last seq it got per conversation, and reconnects
 * with {@code ?lastEventId=<cursor>} so the replay comes before anything live. Reconnection
 * follows the close code: 1012 (restart) and the {@code reconnect} event at once with a little
 * jitter, 1013 (try again) after the delay in the close reason, anything else with an
 * exponential backoff with jitter.
 */
final class WsStreamClient extends StreamClient {

  private static final Pattern DIGITS = Pattern.compile("([0-9]{1,9})");

  private final Map<String, Long> seen = new LinkedHashMap<>();
  private String base;
  private int backoff;
  private ClientWebSocket socket;

  WsStreamClient(int index, String userId, List<String> conversations, int home, Harness harness,
                 DeliveryChecker checker, Population population) {
    super(index, userId, conversations, home, harness, checker, population);
  }

  @Override
  String transport() {
    return "WS";
  }

  /**
   * {@code connected.cursor} with {@code <p>:<seq>} appended for each conversation delivered on
   * (DECISIONS "WebSocket clients build their cursors"); a prefix named twice counts at its
   * highest seq.
   */
  private String cursor() {
    StringBuilder sb = new StringBuilder(base);
    String sep = base.endsWith(".") ? "" : ",";
    for (Map.Entry<String, Long> e : seen.entrySet()) {
      sb.append(sep).append(e.getKey()).append(':').append(e.getValue());
      sep = ",";
    }
    return sb.toString();
  }

  @Override
  protected void open(int target, int g) {
    String uri = "/api/ws?token=" + token;
    if (base != null) {
      uri += "&lastEventId=" + URLEncoder.encode(cursor(), StandardCharsets.UTF_8);
    }
    WebSocketConnectOptions o = new WebSocketConnectOptions()
      .setHost(harness.node(target).host())
      .setPort(harness.node(target).httpPort())
      .setURI(uri)
      .setTimeout(Knobs.headTimeoutMs())
      .setAllowOriginHeader(false);
    ClientWebSocket ws = harness.wsClient().webSocket();
    // Handlers before connecting: what comes right after the handshake must not be missed.
    ws.frameHandler(f -> onBytes(g));
    ws.textMessageHandler(text -> {
      JsonObject env;
      try {
        env = new JsonObject(text);
      } catch (RuntimeException e) {
        checker.count("unparsable WebSocket text");
        return;
      }
      onEnvelope(g, env.getString("type", ""), env.getJsonObject("payload", new JsonObject()));
    });
    ws.closeHandler(v -> onLost(g, closed(ws.closeStatusCode(), ws.closeReason())));
    ws.exceptionHandler(t -> {
      // the close handler follows
    });
    ws.connect(o).onComplete(ar -> {
      if (ar.failed()) {
        countCause(ar.cause());
        onLost(g, new Loss("connect failed", nextBackoff()));
        return;
      }
      if (g != gen) {
        ws.close();
        return;
      }
      socket = ws;
      onHead(g);
    });
  }

  private Loss closed(Short code, String reason) {
    int c = code == null ? 1006 : code;
    checker.count("close " + c);
    return switch (c) {
      case 1012 -> new Loss("close 1012", jitter(250));
      case 1013 -> {
        Matcher m = DIGITS.matcher(reason == null ? "" : reason);
        long delay = m.find() ? Long.parseLong(m.group(1)) : 1000;
        checker.count("try-again answers");
        yield new Loss("close 1013", delay + jitter(delay / 10));
      }
      default -> new Loss("close " + c, nextBackoff());
    };
  }

  /** 250 ms doubling up to 5 s, with jitter; reset by each {@code connected}. */
  private long nextBackoff() {
    long ceiling = Math.min(5000, 250L << Math.min(backoff++, 5));
    return ceiling / 2 + jitter(ceiling / 2);
  }

  @Override
  protected void onConnectedPayload(JsonObject payload) {
    String cursor = payload.getString("cursor");
    base = cursor != null ? cursor : payload.getString("sessionId") + ".";
    backoff = 0;
  }

  @Override
  protected void onResync() {
    seen.clear();
  }

  @Override
  protected void onDurable(String conv, long seq) {
    seen.merge(conv.substring(0, 8), seq, Math::max);
  }

  @Override
  protected boolean hasCursor() {
    return base != null;
  }

  @Override
  protected void closeTransport() {
    ClientWebSocket ws = socket;
    socket = null;
    if (ws != null && !ws.isClosed()) {
      ws.close();
    }
  }
}
