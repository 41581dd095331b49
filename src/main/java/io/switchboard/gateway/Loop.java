package io.switchboard.gateway;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.PlatformDependent;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.ObjIntConsumer;

/**
 * One event loop of the node, as the delivery core sees it: the sessions it carries, an inbox
 * through which routes hand it events, and one ticker for every session's heartbeat, ping, idle
 * and token expiry (DESIGN §2). Everything but {@link #deliver} and {@link #execute} runs on the
 * loop itself.
 *
 * <p>A route hands an event to a loop once, whatever the number of the loop's sessions that
 * follow it: one inbox entry, drained by one task, which writes the event to each session and
 * then flushes every session it wrote to once. Events that arrive while a drain is pending join
 * it, so a burst becomes one write batch and one flush per connection.
 */
final class Loop {

  /** How often the ticker visits every session of the loop. */
  static final long TICK_MS = 1000;

  private final EventLoop eventLoop;
  private final ContextInternal context;
  private final Queue<Object> inbox = PlatformDependent.newMpscQueue();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final ArrayList<Session> dirty = new ArrayList<>();
  private final ArrayList<Session> sessions = new ArrayList<>();
  private final EnumMap<ConnectionCounts.Transport, long[]> delivered = new EnumMap<>(ConnectionCounts.Transport.class);
  private final Runnable drainTask = this::drain;
  private final Runnable flushTask = this::flushDirty;
  private boolean draining;
  private boolean flushScheduled;
  private ScheduledFuture<?> ticker;

  /** One route event for the sessions of one route group on this loop. */
  private record Delivery(Route.Group group, Frame frame) {
  }

  Loop(VertxInternal vertx, EventLoop eventLoop) {
    this.eventLoop = eventLoop;
    this.context = vertx.contextBuilder().withEventLoop(eventLoop).build();
    for (ConnectionCounts.Transport t : ConnectionCounts.Transport.values()) {
      delivered.put(t, new long[1]);
    }
  }

  EventLoop eventLoop() {
    return eventLoop;
  }

  /** A Vert.x context on this loop (consumers of routes that live here). */
  ContextInternal context() {
    return context;
  }

  boolean inLoop() {
    return eventLoop.inEventLoop();
  }

  /** From any thread: the sessions of {@code group} get {@code frame}, in hand-over order. */
  void deliver(Route.Group group, Frame frame) {
    inbox.add(new Delivery(group, frame));
    schedule();
  }

  /** From any thread: runs {@code action} on the loop, in order with the deliveries. */
  void execute(Runnable action) {
    inbox.add(action);
    schedule();
  }

  private void schedule() {
    if (scheduled.compareAndSet(false, true)) {
      eventLoop.execute(drainTask);
    }
  }

  private void drain() {
    draining = true;
    try {
      while (true) {
        Object item;
        while ((item = inbox.poll()) != null) {
          try {
            if (item instanceof Delivery d) {
              d.group().deliver(d.frame());
            } else {
              ((Runnable) item).run();
            }
          } catch (RuntimeException e) {
            Gateway.LOG.error("delivery failed", e);
          }
        }
        scheduled.set(false);
        if (inbox.isEmpty() || !scheduled.compareAndSet(false, true)) {
          break;
        }
      }
    } finally {
      draining = false;
    }
    flushDirty();
  }

  /** A session wrote without flushing; it is flushed at the end of the current turn. */
  void markDirty(Session s) {
    if (s.dirty) {
      return;
    }
    s.dirty = true;
    dirty.add(s);
    if (!draining && !flushScheduled) {
      flushScheduled = true;
      eventLoop.execute(flushTask);
    }
  }

  private void flushDirty() {
    flushScheduled = false;
    for (int i = 0; i < dirty.size(); i++) {
      Session s = dirty.get(i);
      s.dirty = false;
      s.flush();
    }
    dirty.clear();
  }

  /** Counts one frame written to a connection of {@code kind} (summed into the meters by the ticker). */
  void countDelivered(ConnectionCounts.Transport kind) {
    delivered.get(kind)[0]++;
  }

  // ---- the ticker ----

  void add(Session s) {
    s.loopIndex = sessions.size();
    sessions.add(s);
    if (ticker == null) {
      ticker = eventLoop.scheduleAtFixedRate(this::tick, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
    }
  }

  void remove(Session s) {
    int i = s.loopIndex;
    if (i < 0 || i >= sessions.size() || sessions.get(i) != s) {
      return;
    }
    Session last = sessions.remove(sessions.size() - 1);
    if (last != s) {
      sessions.set(i, last);
      last.loopIndex = i;
    }
    s.loopIndex = -1;
  }

  /** This loop's sessions (a copy), for drain and stats. */
  ArrayList<Session> sessions() {
    return new ArrayList<>(sessions);
  }

  private ObjIntConsumer<ConnectionCounts.Transport> sink;

  /** Where the ticker reports the frames written since its last visit. */
  void meter(ObjIntConsumer<ConnectionCounts.Transport> sink) {
    this.sink = sink;
  }

  private void tick() {
    long now = System.currentTimeMillis();
    // Backwards: a session that closes while visited swaps the last one into its place.
    for (int i = sessions.size() - 1; i >= 0; i--) {
      if (i < sessions.size()) {
        try {
          sessions.get(i).tick(now);
        } catch (RuntimeException e) {
          Gateway.LOG.error("session tick failed", e);
        }
      }
    }
    if (sink != null) {
      delivered.forEach((kind, n) -> {
        if (n[0] > 0) {
          sink.accept(kind, (int) Math.min(Integer.MAX_VALUE, n[0]));
          n[0] = 0;
        }
      });
    }
    flushDirty();
  }

  void stop() {
    if (ticker != null) {
      ticker.cancel(false);
    }
  }
}
