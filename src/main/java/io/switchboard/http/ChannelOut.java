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
 * node are written straight into the channel's pipeline — no per-connection copy, no encoder
 * work, no promise — and flushed once per event-loop turn by the session's loop. The pipeline's
 * own encoders still apply: a raw buffer passes a WebSocket frame encoder untouched, and the
 * HTTP encoder wraps it as one chunk of a chunked response.
 *
 * <p>Writes made this way bypass Vert.x's outbound queue; a transport uses it for every data
 * frame and lets Vert.x write only the end of the stream (a close frame, the last chunk), which
 * Vert.x writes after what the channel already holds.
 */
public final class ChannelOut {

  private final ChannelHandlerContext ctx;
  private final Channel channel;
  /** Outbound buffer entries per frame written (the HTTP encoder makes three of a chunk). */
  private final int entriesPerFrame;
  private List<Runnable> waiting;

  /**
   * The channel's last handler (Vert.x's own, which every protocol of the connection ends with):
   * writes start there and pass every encoder of the pipeline.
   */
  public static ChannelOut of(Channel channel, int entriesPerFrame) {
    return new ChannelOut(channel.pipeline().lastContext(), entriesPerFrame);
  }

  /** The channel of an HTTP request's connection (before or after a WebSocket upgrade). */
  public static Channel channel(io.vertx.core.http.HttpServerRequest request) {
    return ((io.vertx.core.http.impl.HttpServerConnection) request.connection()).channelHandlerContext().channel();
  }

  private ChannelOut(ChannelHandlerContext ctx, int entriesPerFrame) {
    this.ctx = ctx;
    this.channel = ctx.channel();
    this.entriesPerFrame = entriesPerFrame;
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
    ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
    return out == null ? 0 : out.size() / entriesPerFrame;
  }

  public long pendingBytes() {
    ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
    return out == null ? 0 : out.totalPendingWriteBytes();
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
