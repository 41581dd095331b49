package io.switchboard.bridge;

import io.netty.channel.EventLoop;
import io.switchboard.bridge.BridgeFrames.Dialect;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.gateway.Frame;
import io.switchboard.gateway.Transport;

/**
 * A bridge socket as a session's transport: every event of the user goes out as a message frame
 * on {@code sb.user.<userId>}, with the stream cursor in the frame headers for timeline events;
 * replies and refusals of the {@link BridgeSession} share the same outbound accounting, so a
 * socket has one queue and one budget.
 */
final class BridgeTransport implements Transport {

  private final BridgeSession bridge;
  private final BridgeSocket socket;
  private final Dialect dialect;
  private final EventLoop eventLoop;
  private final long idleMillis;
  private String quotedAddress;
  private int pendingFrames;
  private long pendingBytes;
  /** Set while a stream ends on {@code unregister}: the socket stays open for commands. */
  private boolean detaching;

  BridgeTransport(BridgeSession bridge, BridgeSocket socket, Dialect dialect, EventLoop eventLoop) {
    this.bridge = bridge;
    this.socket = socket;
    this.dialect = dialect;
    this.eventLoop = eventLoop;
    this.idleMillis = socket.idleTimeoutMs();
  }

  /** The user whose address events are delivered on. */
  void user(String userId) {
    this.quotedAddress = BridgeFrames.quote(io.switchboard.protocol.Addresses.user(userId));
  }

  void detaching(boolean on) {
    this.detaching = on;
  }

  @Override
  public ConnectionCounts.Transport kind() {
    return ConnectionCounts.Transport.BRIDGE;
  }

  @Override
  public EventLoop eventLoop() {
    return eventLoop;
  }

  @Override
  public void write(Frame frame, String cursor) {
    writeFrame(BridgeFrames.message(dialect, quotedAddress, cursor, frame.text(), false));
  }

  /** Writes one frame of the bridge protocol, counted in the socket's queue until it has left. */
  void writeFrame(String frame) {
    int size = frame.length();
    pendingFrames++;
    pendingBytes += size;
    socket.write(frame).onComplete(ar -> {
      pendingFrames--;
      pendingBytes -= size;
    });
  }

  @Override
  public void flush() {
  }

  @Override
  public boolean carriesCursor() {
    return true;
  }

  @Override
  public int pendingFrames() {
    return pendingFrames;
  }

  @Override
  public long pendingBytes() {
    return pendingBytes;
  }

  @Override
  public boolean writable() {
    return pendingFrames < 256;
  }

  @Override
  public void whenWritable(Runnable action) {
    // Frames leave one by one; look again shortly.
    eventLoop.schedule(() -> bridge.onLoop(action), 10, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  @Override
  public long keepAliveMillis() {
    return idleMillis <= 0 ? 0 : Math.max(1000, idleMillis / 4);
  }

  /** Clients ping every few seconds; one silent past the idle timeout is gone. */
  @Override
  public boolean keepAlive(long silentMillis) {
    return silentMillis <= idleMillis;
  }

  @Override
  public void close(CloseCode code, String reason) {
    if (!detaching) {
      bridge.shutdown(code, reason);
    }
  }

  @Override
  public void tryAgain(long retryAfterMillis, Frame error) {
    bridge.shutdown(CloseCode.TRY_AGAIN, "try again in " + retryAfterMillis + " ms");
  }
}
