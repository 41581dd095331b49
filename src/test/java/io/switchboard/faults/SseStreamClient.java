package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Violation;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * An SSE client with the reconnection rules of a browser's EventSource: it sends the last
 * {@code id:} it saw as {@code Last-Event-ID}, waits the last {@code retry:} before reconnecting
 * after the stream ends or fails, and treats an answer other than 200 as what it is for a
 * browser — final — by counting it as a violation (it still reconnects, to see the rest of the
 * run). On top of EventSource, as applications do: a {@code reconnect} event or an SSE
 * {@code error} event with code {@code unavailable} (SPEC §7) moves it to another node.
 */
final class SseStreamClient extends StreamClient {

  private String lastEventId;
  private long retryMs = 3000;
  private long tryAgainMs = -1;
  private HttpClientRequest request;

  SseStreamClient(int index, String userId, List<String> conversations, int home, Harness harness,
                  DeliveryChecker checker, Population population) {
    super(index, userId, conversations, home, harness, checker, population);
  }

  @Override
  String transport() {
    return "SSE";
  }

  @Override
  protected void open(int target, int g) {
    tryAgainMs = -1;
    RequestOptions o = new RequestOptions()
      .setMethod(HttpMethod.GET)
      .setHost(harness.node(target).host())
      .setPort(harness.node(target).httpPort())
      .setURI("/api/events")
      .putHeader("Accept", "text/event-stream")
      .putHeader("Authorization", "Bearer " + token);
    if (lastEventId != null) {
      o.putHeader("Last-Event-ID", lastEventId);
    }
    harness.sseClient().request(o).onComplete(ar -> {
      if (ar.failed()) {
        countCause(ar.cause());
        onLost(g, new Loss("connect failed", retryMs));
        return;
      }
      HttpClientRequest req = ar.result();
      if (g != gen) {
        req.reset();
        return;
      }
      request = req;
      req.send().onComplete(rr -> {
        if (rr.failed()) {
          countCause(rr.cause());
          onLost(g, new Loss("request failed", retryMs));
          return;
        }
        HttpClientResponse resp = rr.result();
        HttpConnection conn = req.connection();
        if (g != gen) {
          conn.close();
          return;
        }
        if (resp.statusCode() != 200) {
          checker.violation(Violation.SSE_NOT_200, "client " + index + " on node " + target + ": " + resp.statusCode());
          conn.close();
          onLost(g, new Loss("HTTP " + resp.statusCode(), Math.max(retryMs, 1000)));
          return;
        }
        onHead(g);
        Parser parser = new Parser(g);
        resp.handler(buf -> {
          onBytes(g);
          parser.feed(buf);
        });
        resp.exceptionHandler(t -> onLost(g, ended()));
        resp.endHandler(v -> onLost(g, ended()));
        conn.closeHandler(v -> onLost(g, ended()));
      });
    });
  }

  /** How the stream ended: after an {@code unavailable} error, its delay; else EventSource's retry. */
  private Loss ended() {
    if (tryAgainMs >= 0) {
      return new Loss("try again", tryAgainMs);
    }
    return new Loss("stream ended", retryMs);
  }

  @Override
  protected boolean hasCursor() {
    return lastEventId != null;
  }

  @Override
  protected void closeTransport() {
    HttpClientRequest req = request;
    request = null;
    if (req != null) {
      try {
        req.connection().close();
      } catch (RuntimeException e) {
        req.reset();
      }
    }
  }

  private void frame(int g, String id, String type, String data) {
    if (id != null) {
      lastEventId = id;
    }
    if (data == null || g != gen) {
      return;
    }
    JsonObject env;
    try {
      env = new JsonObject(data);
    } catch (RuntimeException e) {
      checker.count("unparsable SSE data");
      return;
    }
    JsonObject payload = env.getJsonObject("payload", new JsonObject());
    String t = type != null ? type : env.getString("type", "message");
    if ("error".equals(t) && "unavailable".equals(payload.getString("code"))) {
      // SPEC §7: the node cannot open the stream now; the stream ends right after this.
      checker.count("try-again answers");
      tryAgainMs = payload.getLong("retryAfterMs", retryMs);
      return;
    }
    onEnvelope(g, t, payload);
  }

  /** The text/event-stream parser of one attempt (WHATWG rules for id, event, data and retry). */
  private final class Parser {
    private final int g;
    private Buffer partial = Buffer.buffer();
    private String id;
    private String type;
    private StringBuilder data;

    Parser(int g) {
      this.g = g;
    }

    void feed(Buffer chunk) {
      partial.appendBuffer(chunk);
      byte[] bytes = partial.getBytes();
      int start = 0;
      for (int i = 0; i < bytes.length; i++) {
        if (bytes[i] == '\n') {
          int end = i > start && bytes[i - 1] == '\r' ? i - 1 : i;
          line(new String(bytes, start, end - start, StandardCharsets.UTF_8));
          start = i + 1;
        }
      }
      partial = partial.getBuffer(start, partial.length());
    }

    private void line(String line) {
      if (line.isEmpty()) {
        String i = id;
        String t = type;
        String d = data == null ? null : data.toString();
        id = null;
        type = null;
        data = null;
        frame(g, i, t, d);
        return;
      }
      if (line.startsWith(":")) {
        return;
      }
      int colon = line.indexOf(':');
      String field = colon < 0 ? line : line.substring(0, colon);
      String value = colon < 0 ? "" : line.substring(colon + 1);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
      switch (field) {
        case "id" -> id = value;
        case "event" -> type = value;
        case "data" -> {
          if (data == null) {
            data = new StringBuilder(value);
          } else {
            data.append('\n').append(value);
          }
        }
        case "retry" -> {
          if (value.matches("[0-9]{1,9}")) {
            retryMs = Long.parseLong(value);
          }
        }
        default -> {
          // ignored, as EventSource does
        }
      }
    }
  }
}
