package io.switchboard.bench;

import io.vertx.core.json.JsonObject;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Publish-to-receive latencies in microseconds, recorded from any thread. Capacity is fixed at
 * the start (the deliveries a run expects); what does not fit is counted but not kept.
 */
final class Latencies {

  private final int[] micros;
  private final AtomicInteger next = new AtomicInteger();

  Latencies(long capacity) {
    this.micros = new int[(int) Math.max(0, Math.min(capacity, 50_000_000L))];
  }

  void record(long nanos) {
    int i = next.getAndIncrement();
    if (i < micros.length) {
      micros[i] = (int) Math.min(Integer.MAX_VALUE, Math.max(0, nanos / 1000));
    }
  }

  /** {@code {p50, p90, p99, max}} in milliseconds (all 0 without samples). */
  JsonObject toJson() {
    int n = Math.min(next.get(), micros.length);
    int[] sorted = Arrays.copyOf(micros, n);
    Arrays.sort(sorted);
    return new JsonObject()
      .put("samples", n)
      .put("p50", pct(sorted, 0.50))
      .put("p90", pct(sorted, 0.90))
      .put("p99", pct(sorted, 0.99))
      .put("max", n == 0 ? 0.0 : round(sorted[n - 1] / 1000.0));
  }

  private static double pct(int[] sorted, double q) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
    return round(sorted[Math.max(0, i)] / 1000.0);
  }

  static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
