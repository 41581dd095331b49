package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * An SSE subscriber. Switchboard: {@code GET /api/events[?topics=]} with the token in
 * {@code Authorization} and the cursor in {@code Last-Event-ID}; open at {@code connected}; an
 * {@code error {code: unavailable, retryAfterMs}} followed by the end of the stream (or a 503 /
 * 429 with {@code Retry-After}) is the server's "try again". A template target: open at a 200.
 */
final class SseSubscriber extends Subscriber {

  private final boolean switchboard;
  private HttpClientRequest request;

  SseSubscriber(Spec spec, int index, boolean switchboard) {
    super(spec, index);
    this.switchboard = switchboard;
  }

  @Override
  protected Future<Attempt> attempt() {
    Promise<Attempt> result = Promise.promise();
    RequestOptions options = new RequestOptions()
      .setMethod(HttpMethod.GET)
      .setHost(uri.getHost())
      .setPort(Tokens.port(uri))
      .setURI(path())
      .putHeader("Accept", "text/event-stream");
    if (token != null) {
      options.putHeader("Authorization", BEARER + token);
    }
    if (cursor != null) {
      options.putHeader("Last-Event-ID", cursor);
    }
    clients.http(index).request(options)
      .compose(req -> {
        request = req;
        return req.send();
      })
      .onFailure(t -> result.tryComplete(Attempt.failed("connect: " + t.getMessage())))
      .onSuccess(resp -> onResponse(resp, request, result));
    return result.future();
  }

  private String path() {
    if (!switchboard) {
      String q = uri.getRawQuery();
      return uri.getRawPath() + (q == null ? "" : "?" + q);
    }
    return "/api/events" + (topic == null ? "" : "?topics=" + URLEncoder.encode(topic, StandardCharsets.UTF_8));
  }

  /**
   * {@code mine} is the request of this attempt: once a newer attempt has replaced it, what its
   * stream still says (late events, its end) is no longer this subscriber's.
   */
  private void onResponse(HttpClientResponse resp, HttpClientRequest mine, Promise<Attempt> result) {
    int status = resp.statusCode();
    if (status != 200) {
      long delay = retryAfter(resp.getHeader("Retry-After"), -1);
      resp.body().onComplete(b -> {
        dropConnection();
        String why = "HTTP " + status + (b.succeeded() ? " " + abbreviate(b.result().toString()) : "");
        if (fatalStatus(status)) {
          result.tryComplete(Attempt.fatal(why));
        } else if ((status == 503 || status == 429) && delay >= 0) {
          result.tryComplete(Attempt.refused(delay, why));
        } else {
          result.tryComplete(Attempt.failed(why));
        }
      });
      return;
    }
    long[] retry = {-1};
    long[] unavailable = {-1};
    SseParser parser = new SseParser(new SseParser.Handler() {
      @Override
      public void event(String id, String type, String data) {
        if (request != mine) {
          return;
        }
        if (id != null) {
          cursor = id;
        }
        if (result.future().isComplete()) {
          deliver(type, data);
          return;
        }
        if (!switchboard) {
          deliver(type, data);
        } else if ("connected".equals(type)) {
          result.tryComplete(Attempt.connected());
        } else if ("error".equals(type)) {
          JsonObject env = parse(data);
          JsonObject p = env == null ? null : env.getJsonObject("payload");
          if (p != null && "unavailable".equals(p.getString("code"))) {
            unavailable[0] = p.getLong("retryAfterMs", retry[0]);
          }
        }
      }

      @Override
      public void retry(long millis) {
        retry[0] = millis;
      }
    });
    resp.handler(b -> {
      heard();
      parser.feed(b);
    });
    resp.exceptionHandler(t -> ended(mine, result, unavailable[0], retry[0], "stream error: " + t.getMessage()));
    resp.endHandler(v -> ended(mine, result, unavailable[0], retry[0], "stream ended"));
    if (!switchboard) {
      result.tryComplete(Attempt.connected());
    }
  }

  private void deliver(String type, String data) {
    if (structured) {
      JsonObject env = parse(data);
      if (env != null) {
        listener.event(this, env);
      }
    } else {
      listener.unit(this, data);
    }
  }

  private void ended(HttpClientRequest mine, Promise<Attempt> result, long unavailable, long retry, String why) {
    if (request != mine) {
      if (mine.connection() != null) {
        mine.connection().close();
      }
      return;
    }
    dropConnection();
    if (result.future().isComplete()) {
      lost(why);
    } else if (unavailable >= 0) {
      result.tryComplete(Attempt.refused(unavailable, "sse unavailable"));
    } else {
      result.tryComplete(Attempt.failed(why + " before connected"));
    }
  }

  private void dropConnection() {
    HttpClientRequest r = request;
    if (r != null && r.connection() != null) {
      r.connection().close();
    }
  }

  @Override
  protected void doClose() {
    dropConnection();
  }

  static String abbreviate(String s) {
    return s.length() > 120 ? s.substring(0, 120) + "…" : s;
  }
}
