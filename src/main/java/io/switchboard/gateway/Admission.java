package io.switchboard.gateway;

import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The node's admission queue for stream opens (SPEC §7, "Opening under load"). Opening a stream
 * reads PostgreSQL; when thousands of clients reconnect at once (the node they were on died),
 * at most {@code limits.openConcurrency} opens run at a time and the rest wait their turn, in
 * order, for at most {@code limits.openQueueSeconds}. One still waiting then is told to try
 * again after a jittered delay, so that a storm spreads out instead of hammering the database.
 * Thread-safe: sessions of every event loop share it.
 */
final class Admission {

  /** The shortest and longest delay a refused open is told to wait. */
  static final long MIN_RETRY_MS = 1000;
  static final long MAX_RETRY_MS = 5000;

  /** One open waiting for its turn. */
  private record Waiter(Session session, Runnable start, long since) {
  }

  private final int concurrency;
  private final long timeoutMs;
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
  private int running;

  Admission(int concurrency, long timeoutMs) {
    this.concurrency = concurrency;
    this.timeoutMs = timeoutMs;
  }

  /** Runs {@code start} on the session's loop now or when a place frees; it must call {@link #done} once. */
  void submit(Session session, Runnable start) {
    synchronized (this) {
      if (running >= concurrency) {
        queue.add(new Waiter(session, start, System.currentTimeMillis()));
        return;
      }
      running++;
    }
    session.loop.execute(start);
  }

  /** An open finished (opened or failed): the next one in line may start. */
  void done() {
    Waiter next;
    synchronized (this) {
      running--;
      next = poll();
      if (next != null) {
        running++;
      }
    }
    if (next != null) {
      next.session().loop.execute(next.start());
    }
  }

  /** Refuses the opens that waited too long (called every second or so). */
  void expire() {
    long now = System.currentTimeMillis();
    while (true) {
      Waiter w;
      synchronized (this) {
        w = queue.peekFirst();
        if (w == null || now - w.since() < timeoutMs) {
          return;
        }
        queue.pollFirst();
      }
      w.session().loop.execute(() -> w.session().tryAgain(retryDelay(), "the node is busy opening streams"));
    }
  }

  /** Opens waiting now (stats). */
  synchronized int waiting() {
    return queue.size();
  }

  private Waiter poll() {
    Waiter w;
    while ((w = queue.pollFirst()) != null) {
      if (!w.session().isClosed()) {
        return w;
      }
    }
    return null;
  }

  /** A jittered delay: refused clients come back spread over a few seconds, not all at once. */
  static long retryDelay() {
    return ThreadLocalRandom.current().nextLong(MIN_RETRY_MS, MAX_RETRY_MS + 1);
  }
}
