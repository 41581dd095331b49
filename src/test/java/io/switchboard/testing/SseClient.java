package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A raw Server-Sent Events client for tests: it reads the response bytes itself (no EventSource
 * library hiding anything) and parses them into {@code id}/{@code event}/{@code data} frames,
 * comment lines and {@code retry} lines, keeping every raw line in order.
 *
 * <p>Like a browser's EventSource it remembers the last {@code id} seen, the cursor to send as
 * {@code Last-Event-ID} when reconnecting.
 */
public final class SseClient implements AutoCloseable {

  /** One dispatched SSE event. {@code id} is null when the frame had no id line. */
  public record Event(String id, String type, String data) {

    /** The data line as the Switchboard envelope it carries. */
    public JsonObject envelope() {
      return new JsonObject(data);
    }

    public JsonObject payload() {
      return envelope().getJsonObject("payload");
    }

    @Override
    public String toString() {
      return type + (id != null ? "[" + id + "]" : "") + " " + data;
    }
  }

  private final HttpClient client;
  private final Inbox<Event> events;
  private final Inbox<String> comments;
  private final List<String> lines = new ArrayList<>();
  private final Promise<Void> ended = Promise.promise();
  private HttpClientResponse response;
  private Buffer partial = Buffer.buffer();
  private String id;
  private String type;
  private final StringBuilder data = new StringBuilder();
  private boolean hasData;
  private volatile String lastEventId;

  private SseClient(Vertx vertx, HttpClientOptions options) {
    this.client = vertx.createHttpClient(new HttpClientOptions(options).setKeepAlive(false));
    this.events = new Inbox<>(vertx, "SSE stream");
    this.comments = new Inbox<>(vertx, "SSE stream comments");
  }

  /** {@code GET uri} with a bearer token (or none) and extra headers as name/value pairs. */
  public static Future<SseClient> open(int port, String uri, String token, String... headers) {
    return open(new HttpClientOptions(), port, uri, token, headers);
  }

  /** Like {@link #open(int, String, String, String...)} with client options (e.g. a small receive buffer). */
  public static Future<SseClient> open(HttpClientOptions options, int port, String uri, String token,
                                       String... headers) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Accept", "text/event-stream");
    if (token != null) {
      h.add("Authorization", "Bearer " + token);
    }
    for (int i = 0; i + 1 < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    SseClient sse = new SseClient(Api.clientVertx(), options);
    return sse.client.request(new RequestOptions()
        .setMethod(HttpMethod.GET)
        .setHost("127.0.0.1")
        .setPort(port)
        .setURI(uri)
        .setHeaders(h))
      // Handlers go on inside the request's own callback, on its event loop: a short response
      // (a 401) can have ended before a callback scheduled later would run.
      .compose(req -> req.send().map(resp -> {
        sse.attach(resp);
        return sse;
      }));
  }

  private void attach(HttpClientResponse resp) {
    this.response = resp;
    resp.handler(this::onBytes);
    resp.endHandler(v -> finish("the server ended the stream"));
    resp.exceptionHandler(t -> finish("the stream failed: " + t));
    resp.request().connection().closeHandler(v -> finish("the connection closed"));
  }

  private void finish(String why) {
    events.end(why);
    comments.end(why);
    ended.tryComplete();
  }

  private void onBytes(Buffer chunk) {
    partial.appendBuffer(chunk);
    int start = 0;
    byte[] bytes = partial.getBytes();
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == '\n') {
        int end = i > start && bytes[i - 1] == '\r' ? i - 1 : i;
        onLine(new String(bytes, start, end - start, StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    partial = partial.getBuffer(start, partial.length());
  }

  private void onLine(String line) {
    synchronized (lines) {
      lines.add(line);
    }
    if (line.isEmpty()) {
      dispatch();
      return;
    }
    if (line.startsWith(":")) {
      comments.add(line.substring(1).trim());
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
        if (hasData) {
          data.append('\n');
        }
        data.append(value);
        hasData = true;
      }
      default -> {
        // retry and unknown fields: kept in lines() only
      }
    }
  }

  private void dispatch() {
    if (id != null) {
      lastEventId = id;
    }
    if (hasData) {
      events.add(new Event(id, type == null ? "message" : type, data.toString()));
    }
    id = null;
    type = null;
    data.setLength(0);
    hasData = false;
  }

  public int status() {
    return response.statusCode();
  }

  public MultiMap headers() {
    return response.headers();
  }

  /** Every raw line received so far (without line terminators). */
  public List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  /** Every event received so far, in order. */
  public List<Event> events() {
    return events.all();
  }

  /** The next not yet awaited event of this type. */
  public Future<Event> next(String type) {
    return events.next(e -> e.type().equals(type), "'" + type + "' event");
  }

  /** The next not yet awaited event matching a condition. */
  public Future<Event> next(Predicate<Event> matches, String what) {
    return events.next(matches, what);
  }

  /** The next not yet awaited {@code message_received} with this content. */
  public Future<Event> message(String content) {
    return events.next(e -> e.type().equals("message_received") && content.equals(e.payload().getValue("content")),
      "message '" + content + "'");
  }

  /** The next comment line (heartbeat). */
  public Future<String> nextComment() {
    return comments.next(c -> true, "comment line");
  }

  /** The last {@code id} received: what an EventSource would send as {@code Last-Event-ID}. */
  public String lastEventId() {
    return lastEventId;
  }

  /** Completes when the server ends or drops the stream. */
  public Future<Void> ended() {
    return ended.future();
  }

  /** Stops reading: the server's writes back up into the TCP buffers. */
  public void pause() {
    response.pause();
  }

  public void resume() {
    response.resume();
  }

  /** Drops the connection. */
  @Override
  public void close() {
    client.close();
  }
}
