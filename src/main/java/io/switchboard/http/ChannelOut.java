package io.switchboard.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;

import java.util.ArrayList;
import java.util.List;

/**
 * The hot path of a transport on a Netty channel (DESIGN §2): frames already encoded once per
 * node — a WebSocket frame, an SSE event framed as an HTTP chunk — are written straight into the
 * channel's pipeline past the protocol's encoder, so they cross only the handlers between it and
 * the socket (TLS): no per-connection copy, no encoder work, no promise. The session's loop
 * flushes once per event-loop turn.
 *
 * <p>Writes made this way bypass Vert.x's outbound path; a transport uses it for every data frame
 * and lets Vert.x write the stream's head and its end (a close frame, the last chunk), flushing
 * what Vert.x wrote before its first own frame.
 */
public final class ChannelOut {

  private final ChannelHandlerContext ctx;
  private final Channel channel;
  /** Outbound buffer entries per frame written (one for a frame written already encoded). */
  private final int entriesPerFrame;
  /** The channel's outbound buffer, looked up once (checked for every frame written). */
  private final ChannelOutboundBuffer buffer;
  private List<Runnable> waiting;

  /**
   * Writes that start at the handler named {@code handler} and pass only the handlers between it
   * and the socket (TLS): for bytes the stream has already framed for the wire, such as the SSE
   * stream's HTTP chunks, which the HTTP encoder would otherwise split into three buffers
   * (size line, bytes, CRLF) per connection.
   */
  public static ChannelOut past(Channel channel, String handler, int entriesPerFrame) {
    ChannelHandlerContext ctx = channel.pipeline().context(handler);
    if (ctx == null) {
      throw new IllegalStateException("no " + handler + " in the channel's pipeline");
    }
    return new ChannelOut(ctx, entriesPerFrame);
  }

  /** The channel of an HTTP request's connection (before or after a WebSocket upgrade). */
  public static Channel channel(io.vertx.core.http.HttpServerRequest request) {
    return ((io.vertx.core.http.impl.HttpServerConnection) request.connection()).channelHandlerContext().channel();
  }

  private ChannelOut(ChannelHandlerContext ctx, int entriesPerFrame) {
    this.ctx = ctx;
    this.channel = ctx.channel();
    this.entriesPerFrame = entriesPerFrame;
    this.buffer = channel.unsafe().outboundBuffer();
  }

  public EventLoop eventLoop() {
    return channel.eventLoop();
  }

  /** The channel's buffer allocator (pooled, direct): for the few bytes written per connection. */
  public ByteBufAllocator alloc() {
    return ctx.alloc();
  }

  public boolean isOpen() {
    return channel.isActive();
  }

  /** Writes without flushing; the buffer is the channel's to release. */
  public void write(ByteBuf frame) {
    if (channel.isActive()) {
      ctx.write(frame, ctx.voidPromise());
    } else {
      frame.release();
    }
  }

  public void flush() {
    ctx.flush();
  }

  /** Frames written and not yet taken by the socket. */
  public int pendingFrames() {
    return buffer == null ? 0 : buffer.size() / entriesPerFrame;
  }

  public long pendingBytes() {
    return buffer == null ? 0 : buffer.totalPendingWriteBytes();
  }

  public boolean writable() {
    return channel.isWritable() || !channel.isActive();
  }

  /** Runs {@code action} on the channel's loop when it is writable again (or closed). */
  public void whenWritable(Runnable action) {
    if (writable()) {
      action.run();
      return;
    }
    if (waiting == null) {
      waiting = new ArrayList<>(1);
      ctx.pipeline().addBefore(ctx.name(), null, new ChannelInboundHandlerAdapter() {
        @Override
        public void channelWritabilityChanged(ChannelHandlerContext c) throws Exception {
          if (c.channel().isWritable()) {
            runWaiting();
          }
          super.channelWritabilityChanged(c);
        }

        @Override
        public void channelInactive(ChannelHandlerContext c) throws Exception {
          runWaiting();
          super.channelInactive(c);
        }
      });
    }
    waiting.add(action);
  }

  private void runWaiting() {
    if (waiting == null || waiting.isEmpty()) {
      return;
    }
    List<Runnable> now = new ArrayList<>(waiting);
    waiting.clear();
    now.forEach(Runnable::run);
  }

  /** Drops the connection at once (a slow consumer: its queue is full, nothing more can reach it). */
  public void abort() {
    channel.close();
  }
}
