package io.switchboard.bridge;

import io.vertx.core.Future;

/** What a {@link BridgeSession} needs from its transport: a SockJS socket or a TCP socket. */
interface BridgeSocket {

  /** Writes one frame (JSON text); completes when it has left the process. */
  Future<Void> write(String frame);

  /** Closes the socket (after what was written so far, where the transport allows). */
  void close(int code, String reason);

  /** Stops reading frames until {@link #resume}. */
  void pause();

  void resume();

  /** A query parameter of the URL the client connected with (SockJS), or null. */
  String queryParam(String name);

  /** Close the socket when the client sends nothing for this long; 0 for never. */
  long idleTimeoutMs();
}
