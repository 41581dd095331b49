package io.switchboard.gateway;

/**
 * Why a connection ends, as a code every transport can express (SPEC §7): the WebSocket close
 * code itself, the {@code failureCode} of the bridges' last {@code err} frame, and for SSE and
 * long-poll the way the stream ends. {@link #reconnect} says whether a client should come back
 * on its own (with its cursor) or first fix something.
 */
public enum CloseCode {
  /** Done: answered (long-poll), unregistered, replaced by a newer connection of the user. */
  NORMAL(1000, true),
  /** The server cannot go on with this stream now (a failed read); the client resumes. */
  GOING_AWAY(1001, true),
  /** A forbidden origin, or a client that keeps sending refused frames. */
  POLICY(1008, false),
  /** A frame over {@code limits.frameBytes}. */
  TOO_LARGE(1009, false),
  /** The node is stopping: reconnect, to another node. */
  RESTART(1012, true),
  /** The node cannot open the stream now: try again after the delay the close carries. */
  TRY_AGAIN(1013, true),
  /** No valid credentials (or the token expired). */
  UNAUTHORIZED(4401, false),
  /** The client did not read fast enough; it resumes with its cursor. */
  SLOW_CONSUMER(4408, true),
  /** Too many commands refused for the rate limit in a row. */
  RATE_LIMITED(4429, true);

  private final int code;
  private final boolean reconnect;

  CloseCode(int code, boolean reconnect) {
    this.code = code;
    this.reconnect = reconnect;
  }

  /** The WebSocket close code. */
  public int code() {
    return code;
  }

  /** Whether the client should reconnect by itself. */
  public boolean reconnect() {
    return reconnect;
  }
}
