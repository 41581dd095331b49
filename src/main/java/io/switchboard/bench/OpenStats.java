package io.switchboard.bench;

import io.vertx.core.json.JsonObject;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How opening went for a set of subscribers: attempts, the server's "try again" answers
 * (SPEC §7: SSE {@code error unavailable} then end, WebSocket close 1013, long-poll 503), other
 * failures (refused connections, streams closed before {@code connected}, other statuses),
 * retries, and when the last one got through.
 */
final class OpenStats {

  final AtomicInteger attempts = new AtomicInteger();
  final AtomicInteger connected = new AtomicInteger();
  final AtomicInteger refusals = new AtomicInteger();
  final AtomicInteger failures = new AtomicInteger();
  final AtomicInteger retries = new AtomicInteger();
  final AtomicInteger gaveUp = new AtomicInteger();
  /** Long-poll requests that failed after the subscriber was open (each retried). */
  final AtomicInteger pollErrors = new AtomicInteger();
  final AtomicLong lastConnectedNanos = new AtomicLong();
  /** The first few distinct reasons of failures, for the report. */
  private final java.util.Set<String> reasons = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final long startNanos = System.nanoTime();

  void connected() {
    connected.incrementAndGet();
    lastConnectedNanos.accumulateAndGet(System.nanoTime(), Math::max);
  }

  void failure(boolean spec, String reason) {
    (spec ? refusals : failures).incrementAndGet();
    if (reason != null && reasons.size() < 8) {
      reasons.add(reason.length() > 160 ? reason.substring(0, 160) : reason);
    }
  }

  /** Seconds from the creation of these stats to the last {@code connected}. */
  double secondsToLastConnected() {
    long last = lastConnectedNanos.get();
    return last == 0 ? 0 : Latencies.round((last - startNanos) / 1e9);
  }

  JsonObject toJson() {
    return new JsonObject()
      .put("attempts", attempts.get())
      .put("connected", connected.get())
      .put("refusals", refusals.get())
      .put("failures", failures.get())
      .put("retries", retries.get())
      .put("gaveUp", gaveUp.get())
      .put("pollErrors", pollErrors.get())
      .put("secondsToLastConnected", secondsToLastConnected())
      .put("failureReasons", new io.vertx.core.json.JsonArray(new java.util.ArrayList<>(reasons)));
  }
}
