package io.switchboard.gateway;

import io.netty.channel.EventLoop;

/**
 * What a {@link Session} needs from the connection that carries it (DESIGN §2): writing frames
 * encoded once per node, flushing them in one go, back-pressure, and closing with a code. SSE,
 * WebSocket, long-poll, SockJS and TCP each implement it; none holds a rule.
 *
 * <p>Every method runs on the transport's event loop ({@link #eventLoop()}).
 */
public interface Transport {

  /** Which kind of transport this is (counts, metrics). */
  ConnectionCounts.Transport kind();

  /** The event loop of the connection. */
  EventLoop eventLoop();

  /**
   * Writes one frame without flushing. {@code cursor} is the stream position after it for
   * transports that {@link #carriesCursor() carry it}, else null.
   */
  void write(Frame frame, String cursor);

  /** Sends what {@link #write} buffered. */
  void flush();

  /** Whether frames carry the per-event cursor (SSE {@code id:}, the bridges' cursor header). */
  boolean carriesCursor();

  /** Frames written and not yet taken by the peer (the outbound queue). */
  int pendingFrames();

  /** Bytes written and not yet taken by the peer. */
  long pendingBytes();

  /** False while the peer is behind: a paced writer (a long replay) waits for {@link #whenWritable}. */
  boolean writable();

  /** Runs {@code action} once, on the event loop, when {@link #writable()} is true again. */
  void whenWritable(Runnable action);

  /**
   * Keeps a quiet stream alive: an SSE comment, a WebSocket ping. Called by the node's ticker at
   * the transport's interval; {@code idleMillis} is how long the peer has been silent.
   * Returns false when the peer has been silent too long and the stream must end.
   */
  boolean keepAlive(long idleMillis);

  /** How often {@link #keepAlive} is due, in milliseconds (0: never). */
  long keepAliveMillis();

  /** The stream is open: {@code connected}, the replay and what was queued meanwhile are written. */
  default void opened() {
  }

  /**
   * Ends the stream: after what was written, where the transport allows ({@code SLOW_CONSUMER}
   * drops the connection at once). Called once.
   */
  void close(CloseCode code, String reason);

  /**
   * The stream cannot open now: tell the client to come back after {@code retryAfterMillis}, in
   * this transport's own "try again" form (SPEC §7), with {@code error} (an {@code unavailable}
   * error frame) where the form has room for it. Then the connection ends. Called at most once,
   * before anything else was written.
   */
  void tryAgain(long retryAfterMillis, Frame error);
}
