package io.switchboard.http.sse;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.gateway.Frame;
import io.switchboard.gateway.Transport;
import io.switchboard.http.ChannelOut;
import io.vertx.core.http.HttpServerResponse;

import java.nio.charset.StandardCharsets;

/**
 * An SSE stream (SPEC §7): per event, the {@code id:} line (the cursor, per connection) and the
 * node-wide encoded {@code event:}/{@code data:} lines, in one chunk; a comment line as the
 * heartbeat. The response's head (and its last chunk) is Vert.x's; the events go into the channel
 * as HTTP chunks framed here, past the HTTP encoder: one buffer per event per connection, none
 * at all (a shared node-wide chunk) for an event without a cursor.
 */
final class SseTransport implements Transport {

  private static final byte[] ID = "id: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CRLF = {'\r', '\n'};
  /** A comment line, framed as its chunk once. */
  private static final ByteBuf HEARTBEAT = Unpooled.unreleasableBuffer(
    Unpooled.directBuffer(16).writeBytes(Frame.httpChunk(":\n\n".getBytes(StandardCharsets.US_ASCII))));

  private final HttpServerResponse response;
  private final ChannelOut out;
  private final long heartbeatMillis;

  SseTransport(HttpServerResponse response, ChannelOut out, long heartbeatMillis) {
    this.response = response;
    this.out = out;
    this.heartbeatMillis = heartbeatMillis;
  }

  @Override
  public ConnectionCounts.Transport kind() {
    return ConnectionCounts.Transport.SSE;
  }

  @Override
  public EventLoop eventLoop() {
    return out.eventLoop();
  }

  @Override
  public void write(Frame frame, String cursor) {
    if (cursor == null) {
      out.write(frame.sseChunk());
      return;
    }
    // One chunk: size line, the id: line (this connection's cursor), the node-wide lines, CRLF.
    ByteBuf lines = frame.sse();
    int size = ID.length + cursor.length() + 1 + lines.readableBytes();
    String hex = Integer.toHexString(size);
    ByteBuf chunk = out.alloc().directBuffer(hex.length() + 2 + size + 2);
    ByteBufUtil.writeAscii(chunk, hex);
    chunk.writeBytes(CRLF);
    chunk.writeBytes(ID);
    ByteBufUtil.writeAscii(chunk, cursor);
    chunk.writeByte('\n');
    chunk.writeBytes(lines);
    chunk.writeBytes(CRLF);
    out.write(chunk);
  }

  /** Text the stream starts with (the client's reconnection delay). */
  void writeRaw(String text) {
    byte[] bytes = Frame.httpChunk(text.getBytes(StandardCharsets.UTF_8));
    out.write(out.alloc().directBuffer(bytes.length).writeBytes(bytes));
  }

  @Override
  public void flush() {
    out.flush();
  }

  @Override
  public boolean carriesCursor() {
    return true;
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
    return heartbeatMillis;
  }

  @Override
  public boolean keepAlive(long idleMillis) {
    // The heartbeat only writes: a client that reads nothing is found by its queue filling up.
    if (out.writable()) {
      out.write(HEARTBEAT.duplicate());
    }
    return true;
  }

  @Override
  public void close(CloseCode code, String reason) {
    if (code == CloseCode.SLOW_CONSUMER || response.closed()) {
      // Its queue is full: nothing more can reach it. Drop the TCP connection; the client
      // reconnects with Last-Event-ID and resumes.
      out.abort();
      return;
    }
    out.flush();
    if (!response.ended()) {
      response.end();
    }
  }

  @Override
  public void tryAgain(long retryAfterMillis, Frame error) {
    // 200 and a stream that ends: EventSource reconnects after retry:, where a non-200 answer
    // would make it give up for good (SPEC §7).
    writeRaw("retry: " + retryAfterMillis + "\n\n");
    out.write(error.sseChunk());
    close(CloseCode.TRY_AGAIN, "try again");
  }
}
