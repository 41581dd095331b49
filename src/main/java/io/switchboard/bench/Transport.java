package io.switchboard.bench;

/** How a subscriber receives: the four real-time transports the bench drives. */
enum Transport {
  /** Server-sent events ({@code text/event-stream}). */
  SSE("sse"),
  /** WebSocket (Switchboard's JSON envelopes; a template target's raw messages). */
  WS("ws"),
  /** The SockJS event-bus bridge over SockJS's WebSocket transport (Switchboard only). */
  SOCKJS("sockjs"),
  /** Long-poll: one request per answer, the next one carrying the cursor. */
  POLL("poll");

  final String id;

  Transport(String id) {
    this.id = id;
  }

  static Transport parse(String s) {
    for (Transport t : values()) {
      if (t.id.equalsIgnoreCase(s)) {
        return t;
      }
    }
    throw new IllegalArgumentException("--transport must be one of sse, ws, sockjs, poll (not '" + s + "')");
  }
}
