package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * A long-poll subscriber: one request per answer, each next one carrying where the last answer
 * ended. Switchboard: {@code GET /api/events/poll?cursor=&timeout=25}, open at the first 200
 * ({@code connected}); 503 / 429 with {@code Retry-After} is the server's "try again". A
 * template target (Nchan): {@code If-Modified-Since} / {@code If-None-Match} from the last
 * answer's {@code Last-Modified} / {@code Etag}; 304 and 408 just poll again.
 */
final class PollSubscriber extends Subscriber {

  private static final int TIMEOUT_SECONDS = 25;

  private final boolean switchboard;
  private HttpClientRequest request;
  private String lastModified;
  private String etag;
  /** Failed polls after open (each retried). */
  int pollErrors;

  PollSubscriber(Spec spec, int index, boolean switchboard) {
    super(spec, index);
    this.switchboard = switchboard;
  }

  @Override
  protected Future<Attempt> attempt() {
    Promise<Attempt> result = Promise.promise();
    poll(result);
    return result.future();
  }

  private void poll(Promise<Attempt> opening) {
    if (closing) {
      return;
    }
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost(uri.getHost())
      .setPort(Tokens.port(uri)).setURI(path());
    if (token != null) {
      options.putHeader("Authorization", BEARER + token);
    }
    if (!switchboard && lastModified != null) {
      options.putHeader("If-Modified-Since", lastModified);
      if (etag != null) {
        options.putHeader("If-None-Match", etag);
      }
    }
    clients.http(index).request(options)
      .compose(req -> {
        request = req;
        if (!switchboard && opening != null) {
          // Nchan answers only when a message comes: the subscription is open once asked for.
          req.end().onSuccess(v -> opening.tryComplete(Attempt.connected()));
        }
        return req.send();
      })
      .compose(resp -> resp.body().map(body -> new Answer(resp, body)))
      .onComplete(ar -> {
        if (ar.failed()) {
          failed(opening, Attempt.failed("poll: " + ar.cause().getMessage()), -1);
        } else {
          answered(opening, ar.result().response(), ar.result().body());
        }
      });
  }

  private record Answer(HttpClientResponse response, Buffer body) {
  }

  private String path() {
    if (!switchboard) {
      String q = uri.getRawQuery();
      return uri.getRawPath() + (q == null ? "" : "?" + q);
    }
    StringBuilder p = new StringBuilder("/api/events/poll?timeout=").append(TIMEOUT_SECONDS);
    if (cursor != null) {
      p.append("&cursor=").append(URLEncoder.encode(cursor, StandardCharsets.UTF_8));
    }
    if (topic != null) {
      p.append("&topics=").append(URLEncoder.encode(topic, StandardCharsets.UTF_8));
    }
    return p.toString();
  }

  private void answered(Promise<Attempt> opening, HttpClientResponse resp, Buffer body) {
    int status = resp.statusCode();
    if (!switchboard) {
      if (status == 200) {
        lastModified = resp.getHeader("Last-Modified");
        etag = resp.getHeader("Etag");
        listener.unit(this, body.toString(StandardCharsets.UTF_8));
        next();
      } else if (status == 304 || status == 408) {
        next();
      } else {
        failed(opening, Attempt.failed("poll HTTP " + status), retryAfter(resp.getHeader("Retry-After"), -1));
      }
      return;
    }
    if (status != 200) {
      String why = "poll HTTP " + status + " " + SseSubscriber.abbreviate(body.toString());
      long delay = retryAfter(resp.getHeader("Retry-After"), -1);
      if (fatalStatus(status)) {
        failed(opening, Attempt.fatal(why), delay);
      } else if ((status == 503 || status == 429) && delay >= 0) {
        failed(opening, Attempt.refused(delay, why), delay);
      } else {
        failed(opening, Attempt.failed(why), delay);
      }
      return;
    }
    JsonObject answer = parse(body.toString(StandardCharsets.UTF_8));
    if (answer == null) {
      failed(opening, Attempt.failed("poll: not JSON"), -1);
      return;
    }
    if (answer.getString("cursor") != null) {
      cursor = answer.getString("cursor");
    }
    if (opening != null && !opening.future().isComplete()) {
      opening.tryComplete(Attempt.connected());
    }
    if (structured) {
      JsonArray events = answer.getJsonArray("events", new JsonArray());
      for (int i = 0; i < events.size(); i++) {
        if (events.getValue(i) instanceof JsonObject env) {
          listener.event(this, env);
        }
      }
    } else {
      listener.unit(this, body.toString(StandardCharsets.UTF_8));
    }
    next();
  }

  private void next() {
    if (!closing) {
      vertx.runOnContext(v -> poll(null));
    }
  }

  private void failed(Promise<Attempt> opening, Attempt attempt, long delayMs) {
    if (opening != null && !opening.future().isComplete()) {
      opening.tryComplete(attempt);
      return;
    }
    if (closing) {
      return;
    }
    if (attempt.kind() == Attempt.Kind.FATAL) {
      lost(attempt.reason());
      return;
    }
    pollErrors++;
    stats.pollErrors.incrementAndGet();
    long delay = delayMs >= 0 ? delayMs : 500;
    vertx.setTimer(Math.max(1, delay), id -> poll(null));
  }

  @Override
  protected void doClose() {
    HttpClientRequest r = request;
    if (r != null) {
      r.reset();
    }
  }
}
