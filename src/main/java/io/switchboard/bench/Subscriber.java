package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One bench client of one transport. {@link #open} connects and retries until the stream is open
 * (Switchboard: {@code connected}, and the topic subscribed; a template target: the server
 * accepted the subscription), honouring the server's "try again" delays (SPEC §7). What arrives
 * afterwards goes to the {@link Listener}: raw text units (an SSE event's data, a WebSocket
 * message, a SockJS frame, a long-poll answer) that the fan-out scans for {@link Marker}s, or,
 * in structured mode, each Switchboard envelope parsed.
 */
abstract class Subscriber {

  /** What a subscriber reports. Called on the subscriber's event loop. */
  interface Listener {
    /** A unit of text received after open (structured mode: not called). */
    default void unit(Subscriber s, String text) {
    }

    /** A Switchboard envelope (structured mode only). */
    default void event(Subscriber s, JsonObject envelope) {
    }

    /** The server closed an open stream (not called for closes the bench asked for). */
    default void closed(Subscriber s, String reason) {
    }
  }

  /** How one open attempt ended. */
  record Attempt(Kind kind, long delayMs, String reason) {
    enum Kind { CONNECTED, REFUSED, FAILED, FATAL }

    static Attempt connected() {
      return new Attempt(Kind.CONNECTED, 0, null);
    }

    /** The server's own "try again" answer, with its delay. */
    static Attempt refused(long delayMs, String reason) {
      return new Attempt(Kind.REFUSED, delayMs, reason);
    }

    /** Anything else that may work on a retry. */
    static Attempt failed(String reason) {
      return new Attempt(Kind.FAILED, -1, reason);
    }

    /** Will not work however often it is retried (401, 403, 404, 400). */
    static Attempt fatal(String reason) {
      return new Attempt(Kind.FATAL, -1, reason);
    }
  }

  static final String BEARER = "Bearer ";

  final int index;
  final Vertx vertx;
  final Clients clients;
  final Listener listener;
  final OpenStats stats;
  /** Switchboard: the user; null for a template target. */
  final String userId;
  final String token;
  /** Switchboard: the topic to subscribe, null in conversation mode. */
  final String topic;
  /** Template target: the subscribe URL; Switchboard: the node. */
  URI uri;
  /** Parse envelopes (and keep the cursor) instead of handing raw units over. */
  final boolean structured;
  /** The stream position to resume from (SSE {@code id:}, the WebSocket cursor, the poll cursor). */
  String cursor;
  /** True once open and until closed. */
  volatile boolean live;
  /** The bench closed it: no listener call, no retry. */
  volatile boolean closing;
  /** When the server was last heard on the open stream (any bytes, SSE heartbeats, WebSocket pings). */
  volatile long heardNanos = System.nanoTime();

  Subscriber(Spec spec, int index) {
    this.index = index;
    this.vertx = spec.clients().vertx;
    this.clients = spec.clients();
    this.listener = spec.listener();
    this.stats = spec.stats();
    this.userId = spec.userId(index);
    this.token = spec.token(index);
    this.topic = spec.topic();
    this.uri = spec.uri(index);
    this.structured = spec.structured();
  }

  /** What all subscribers of a run share. */
  interface Spec {
    Clients clients();

    Listener listener();

    OpenStats stats();

    String userId(int i);

    String token(int i);

    String topic();

    URI uri(int i);

    boolean structured();

    boolean switchboard();
  }

  /** Creates a subscriber of {@code transport}. */
  static Subscriber create(Transport transport, Spec spec, int index) {
    return switch (transport) {
      case SSE -> new SseSubscriber(spec, index, spec.switchboard());
      case WS -> new WsSubscriber(spec, index, spec.switchboard());
      case SOCKJS -> new SockJsSubscriber(spec, index);
      case POLL -> new PollSubscriber(spec, index, spec.switchboard());
    };
  }

  /** Opens, retrying as the server asks, until open or {@code deadlineNanos}. */
  final Future<Void> open(long deadlineNanos) {
    Promise<Void> done = Promise.promise();
    closing = false;
    tryOpen(done, deadlineNanos, 0);
    return done.future();
  }

  private void tryOpen(Promise<Void> done, long deadline, int failuresSoFar) {
    stats.attempts.incrementAndGet();
    Future<Attempt> attempt;
    try {
      attempt = attempt();
    } catch (RuntimeException e) {
      attempt = Future.succeededFuture(Attempt.failed(e.toString()));
    }
    attempt.otherwise(t -> Attempt.failed(String.valueOf(t.getMessage()))).onSuccess(a -> {
      if (closing) {
        done.tryFail("closed by the bench");
        return;
      }
      switch (a.kind()) {
        case CONNECTED -> {
          heard();
          live = true;
          stats.connected();
          done.tryComplete();
        }
        case FATAL -> {
          stats.failure(false, a.reason());
          stats.gaveUp.incrementAndGet();
          done.tryFail(a.reason());
        }
        default -> {
          boolean spec = a.kind() == Attempt.Kind.REFUSED;
          stats.failure(spec, a.reason());
          long delay = spec && a.delayMs() >= 0 ? a.delayMs() : backoff(failuresSoFar);
          if (System.nanoTime() + delay * 1_000_000L > deadline) {
            stats.gaveUp.incrementAndGet();
            done.tryFail("not open before the deadline; last: " + a.reason());
            return;
          }
          vertx.setTimer(Math.max(1, delay), id -> {
            stats.retries.incrementAndGet();
            tryOpen(done, deadline, failuresSoFar + 1);
          });
        }
      }
    });
  }

  /** Our own delay after a failure that came without one: jittered, growing, at most 5 s. */
  private static long backoff(int n) {
    long base = Math.min(5000, 250L << Math.min(n, 5));
    return base / 2 + ThreadLocalRandom.current().nextLong(base / 2 + 1);
  }

  /** One open attempt. Must release whatever it opened unless it answers CONNECTED. */
  protected abstract Future<Attempt> attempt();

  /** Closes on the bench's behalf. */
  final void close() {
    closing = true;
    live = false;
    doClose();
  }

  protected abstract void doClose();

  /**
   * Cuts an open stream as a careful client does when its server has gone silent: the listener
   * hears of it as of any other loss (and may resume elsewhere).
   */
  final void drop() {
    if (live && !closing) {
      doClose();
    }
  }

  /** Called by implementations on anything received. */
  protected final void heard() {
    heardNanos = System.nanoTime();
  }

  /** Called by implementations when an open stream ends without the bench asking. */
  protected final void lost(String reason) {
    if (!live || closing) {
      return;
    }
    live = false;
    listener.closed(this, reason);
  }

  /** The first whole number in a close reason or header, in milliseconds ("2500", "2500 ms", "2.5 s"). */
  static long delayMillis(String text, long orElse) {
    if (text == null) {
      return orElse;
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s\\b|sec|seconds?)?",
      java.util.regex.Pattern.CASE_INSENSITIVE).matcher(text);
    if (!m.find()) {
      return orElse;
    }
    double v = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(java.util.Locale.ROOT);
    return unit.startsWith("s") ? (long) (v * 1000) : (long) v;
  }

  /** An SSE/HTTP {@code Retry-After} (seconds) in milliseconds. */
  static long retryAfter(String header, long orElse) {
    if (header == null) {
      return orElse;
    }
    try {
      return (long) (Double.parseDouble(header.trim()) * 1000);
    } catch (NumberFormatException e) {
      return orElse;
    }
  }

  /** An envelope's {@code type}, or null. */
  static String type(JsonObject env) {
    return env == null ? null : env.getString("type");
  }

  static JsonObject parse(String text) {
    try {
      return new JsonObject(text);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** True for HTTP statuses that no retry fixes. */
  static boolean fatalStatus(int status) {
    return status == 400 || status == 401 || status == 403 || status == 404 || status == 405;
  }
}
