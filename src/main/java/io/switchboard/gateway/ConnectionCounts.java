package io.switchboard.gateway;

import io.vertx.core.json.JsonObject;

import java.util.concurrent.atomic.AtomicInteger;

/** Open client connections of one node by transport, for health, stats and metrics (thread-safe). */
public final class ConnectionCounts {

  /** The transports a client can be connected with. */
  public enum Transport { SSE, WS, BRIDGE, POLL }

  private final AtomicInteger[] counts = {
    new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};

  public void opened(Transport t) {
    counts[t.ordinal()].incrementAndGet();
  }

  public void closed(Transport t) {
    counts[t.ordinal()].decrementAndGet();
  }

  /** Open connections of one transport now. */
  public int count(Transport t) {
    return counts[t.ordinal()].get();
  }

  public JsonObject snapshot() {
    return new JsonObject()
      .put("sse", counts[Transport.SSE.ordinal()].get())
      .put("ws", counts[Transport.WS.ordinal()].get())
      .put("bridge", counts[Transport.BRIDGE.ordinal()].get())
      .put("poll", counts[Transport.POLL.ordinal()].get());
  }
}
