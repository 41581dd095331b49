package io.switchboard.bench;

import java.util.BitSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts what the subscribers of a fan-out receive, by {@link Marker}: per subscriber a bit per
 * message of the current phase (so a repeat is a duplicate, a missing bit a loss), the latency of
 * each first delivery, probes (a subscriber that saw one is ready), and streams the server closed.
 * Messages of an earlier phase (a warm-up's stragglers) are counted apart and ignored.
 */
final class FanoutCounter implements Subscriber.Listener {

  private final int subscribers;
  private final BitSet[] seen;
  private final AtomicIntegerArray ready;
  final AtomicInteger readyCount = new AtomicInteger();
  final AtomicInteger disconnects = new AtomicInteger();
  final java.util.Set<String> disconnectReasons = java.util.concurrent.ConcurrentHashMap.newKeySet();

  // The current phase: messages numbered [base, base + messages).
  private volatile long base;
  private volatile int messages;
  private volatile Latencies latencies = new Latencies(0);
  final AtomicLong deliveries = new AtomicLong();
  final AtomicLong duplicates = new AtomicLong();
  final AtomicLong stale = new AtomicLong();
  final AtomicLong lastDeliveryNanos = new AtomicLong();
  private volatile long expected = Long.MAX_VALUE;
  private volatile Runnable onComplete = () -> { };

  FanoutCounter(int subscribers) {
    this.subscribers = subscribers;
    this.seen = new BitSet[subscribers];
    this.ready = new AtomicIntegerArray(subscribers);
  }

  /**
   * Starts counting a phase of {@code messages} messages numbered from {@code base}, expecting
   * {@code expected} deliveries; {@code onComplete} runs once when they have all arrived.
   */
  synchronized void phase(long base, int messages, long expected, Runnable onComplete) {
    for (int i = 0; i < subscribers; i++) {
      seen[i] = new BitSet(messages);
    }
    this.latencies = new Latencies(expected);
    this.deliveries.set(0);
    this.duplicates.set(0);
    this.stale.set(0);
    this.lastDeliveryNanos.set(0);
    this.expected = expected;
    this.onComplete = onComplete;
    this.messages = messages;
    this.base = base;
  }

  Latencies latencies() {
    return latencies;
  }

  @Override
  public void unit(Subscriber s, String text) {
    int i = s.index;
    Marker.scan(text, (kind, n, nanos) -> {
      long now = System.nanoTime();
      if (kind == Marker.PROBE) {
        if (ready.compareAndSet(i, 0, 1)) {
          readyCount.incrementAndGet();
        }
        return;
      }
      long b = base;
      if (n < b || n >= b + messages) {
        stale.incrementAndGet();
        return;
      }
      // Only this subscriber's event loop touches its bit set.
      BitSet bits = seen[i];
      int k = (int) (n - b);
      if (bits.get(k)) {
        duplicates.incrementAndGet();
        return;
      }
      bits.set(k);
      latencies.record(now - nanos);
      lastDeliveryNanos.accumulateAndGet(now, Math::max);
      if (deliveries.incrementAndGet() == expected) {
        onComplete.run();
      }
    });
  }

  @Override
  public void closed(Subscriber s, String reason) {
    disconnects.incrementAndGet();
    if (disconnectReasons.size() < 5) {
      disconnectReasons.add(reason);
    }
  }
}
