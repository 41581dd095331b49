package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.Predicate;

/**
 * An application backend for tests: a real Vert.x HTTP server on loopback that records every
 * request (webhooks, authorization-proxy questions) and answers each path as the test says. An
 * answer of {@code null} leaves the request unanswered (a backend that hangs).
 */
public final class Receiver implements AutoCloseable {

  /** One request as it arrived, and the status it was answered with (0: not answered). */
  public record Hit(String path, Map<String, String> headers, String body, int status, long atMillis) {
    public JsonObject json() {
      return new JsonObject(body);
    }

    public String header(String name) {
      return headers.get(name.toLowerCase(java.util.Locale.ROOT));
    }
  }

  /** What a path answers: status and body, or null to hang. */
  public record Answer(int status, String body) {
    public static Answer ok() {
      return new Answer(200, "");
    }

    public static Answer json(JsonObject body) {
      return new Answer(200, body.encode());
    }
  }

  private final Vertx vertx = Api.clientVertx();
  private final HttpServer server;
  private final List<Hit> hits = new ArrayList<>();
  private final Map<String, BiFunction<Integer, JsonObject, Answer>> paths = new ConcurrentHashMap<>();
  private final Map<String, Integer> counts = new ConcurrentHashMap<>();
  private final List<Waiter> waiters = new ArrayList<>();

  private record Waiter(Predicate<List<Hit>> condition, Promise<List<Hit>> done) {
  }

  public Receiver() {
    server = vertx.createHttpServer().requestHandler(this::handle);
    TestNodes.await(server.listen(0, "127.0.0.1"));
  }

  /** {@code http://127.0.0.1:<port><path>}. */
  public String url(String path) {
    return "http://127.0.0.1:" + server.actualPort() + path;
  }

  /**
   * How {@code path} answers: given the number of the request on this path (1 first) and its
   * JSON body, an answer (null: never answered).
   */
  public Receiver on(String path, BiFunction<Integer, JsonObject, Answer> answer) {
    paths.put(path, answer);
    return this;
  }

  private void handle(HttpServerRequest req) {
    req.body().onSuccess(buffer -> {
      String body = buffer.toString();
      String path = req.path();
      int n = counts.merge(path, 1, Integer::sum);
      JsonObject json;
      try {
        json = body.isEmpty() ? new JsonObject() : new JsonObject(body);
      } catch (RuntimeException e) {
        json = new JsonObject();
      }
      var handler = paths.getOrDefault(path, (i, b) -> new Answer(404, ""));
      Answer answer = handler.apply(n, json);
      Map<String, String> headers = new ConcurrentHashMap<>();
      req.headers().forEach(h -> headers.put(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue()));
      record(new Hit(path, headers, body, answer == null ? 0 : answer.status(), System.currentTimeMillis()));
      if (answer != null) {
        req.response().setStatusCode(answer.status()).putHeader("Content-Type", "application/json").end(answer.body());
      }
    });
  }

  private void record(Hit hit) {
    List<Waiter> done = new ArrayList<>();
    List<Hit> snapshot;
    synchronized (this) {
      hits.add(hit);
      snapshot = List.copyOf(hits);
      for (Waiter w : waiters) {
        if (w.condition().test(snapshot)) {
          done.add(w);
        }
      }
      waiters.removeAll(done);
    }
    done.forEach(w -> w.done().tryComplete(snapshot));
  }

  /** Every request so far, in arrival order. */
  public synchronized List<Hit> hits() {
    return List.copyOf(hits);
  }

  /** Waits (up to {@code seconds}) until the requests so far satisfy {@code condition}; returns them. */
  public List<Hit> await(Predicate<List<Hit>> condition, String what, int seconds) {
    Promise<List<Hit>> done = Promise.promise();
    synchronized (this) {
      List<Hit> now = List.copyOf(hits);
      if (condition.test(now)) {
        return now;
      }
      waiters.add(new Waiter(condition, done));
    }
    Future<List<Hit>> timed = done.future();
    long timer = vertx.setTimer(seconds * 1000L, t -> done.tryFail(new AssertionError(
      "the receiver never got " + what + " within " + seconds + " s; got " + summary())));
    try {
      return TestNodes.await(timed);
    } finally {
      vertx.cancelTimer(timer);
    }
  }

  private synchronized String summary() {
    List<String> out = new ArrayList<>();
    for (Hit h : hits) {
      out.add(h.path() + " " + h.status() + " " + (h.body().length() > 160 ? h.body().substring(0, 160) : h.body()));
    }
    return out.toString();
  }

  @Override
  public void close() {
    TestNodes.await(server.close());
  }
}
