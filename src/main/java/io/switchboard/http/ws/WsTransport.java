package io.switchboard.http.ws;

import io.netty.channel.EventLoop;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.gateway.Frame;
import io.switchboard.gateway.Transport;
import io.switchboard.http.ChannelOut;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;

/**
 * A WebSocket stream (SPEC §7): each event is the node-wide encoded text frame, written straight
 * into the channel; pings every {@code ws.pingSeconds}; a client silent past
 * {@code ws.idleTimeoutSeconds} is closed. Close frames are Vert.x's.
 */
final class WsTransport implements Transport {

  private final ServerWebSocket ws;
  private final ChannelOut out;
  private final long pingMillis;
  private final long idleMillis;

  WsTransport(ServerWebSocket ws, ChannelOut out, long pingMillis, long idleMillis) {
    this.ws = ws;
    this.out = out;
    this.pingMillis = pingMillis;
    this.idleMillis = idleMillis;
  }

  @Override
  public ConnectionCounts.Transport kind() {
    return ConnectionCounts.Transport.WS;
  }

  @Override
  public EventLoop eventLoop() {
    return out.eventLoop();
  }

  @Override
  public void write(Frame frame, String cursor) {
    out.write(frame.ws());
  }

  /** Commands are read once the stream is open: {@code connected} comes first. */
  @Override
  public void opened() {
    ws.resume();
  }

  @Override
  public void flush() {
    out.flush();
  }

  @Override
  public boolean carriesCursor() {
    return false;
  }

  @Override
  public int pendingFrames() {
    return out.pendingFrames();
  }

  @Override
  public long pendingBytes() {
    return out.pendingBytes();
  }

  @Override
  public boolean writable() {
    return out.writable();
  }

  @Override
  public void whenWritable(Runnable action) {
    out.whenWritable(action);
  }

  @Override
  public long keepAliveMillis() {
    return pingMillis;
  }

  @Override
  public boolean keepAlive(long silentMillis) {
    if (silentMillis > idleMillis) {
      return false;
    }
    if (!ws.isClosed()) {
      ws.writePing(Buffer.buffer());
    }
    return true;
  }

  @Override
  public void close(CloseCode code, String reason) {
    // A slow consumer's close frame waits behind its full queue: a client that reads again learns
    // why (4408), and Vert.x drops the connection after its closing timeout if it never does.
    out.flush();
    if (!ws.isClosed()) {
      ws.close((short) code.code(), reason);
    }
  }

  @Override
  public void tryAgain(long retryAfterMillis, Frame error) {
    out.write(error.ws());
    out.flush();
    if (!ws.isClosed()) {
      // The delay in the reason (SPEC §7): a client waits that long before it comes back.
      ws.close((short) CloseCode.TRY_AGAIN.code(), "try again in " + retryAfterMillis + " ms");
    }
  }
}
