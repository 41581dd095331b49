package io.switchboard.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.switchboard.gateway.Handshakes;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Header and idle timeouts on the HTTP port, against clients that hold connections without
 * using them (slowloris):
 * <ul>
 *   <li>a request's headers must be complete within {@code http.headerTimeoutSeconds} of the
 *   connection opening or of the request's first byte, else 408 (JSON) and close;</li>
 *   <li>a connection with no request in progress is closed after {@code http.idleTimeoutSeconds}
 *   without a byte from the client, and so is a request whose body stops arriving (408);</li>
 *   <li>a new connection is unauthenticated until its first request's headers are complete: it
 *   holds a place in the node's {@link Handshakes} (at most {@code limits.unauthenticatedPerIp}
 *   per remote address, past which its first request, or its silence for a second, is answered
 *   429 and the connection closed), and it is closed after {@code limits.handshakeSeconds}
 *   without a complete request (408 when some bytes came) when that is sooner than the header
 *   timeout;</li>
 *   <li>nothing is timed while the server is answering: SSE, long-poll and SockJS streams are
 *   answers in progress, kept alive (and checked) by their own heartbeats, and an upgraded
 *   WebSocket has its own ping and idle rules.</li>
 * </ul>
 * Vert.x has no header timeout and its idle timeout counts any traffic of any connection, so this
 * watches the connection in its Netty pipeline: the raw bytes arriving (before the HTTP decoder,
 * which holds partial headers back) and the decoded requests and responses (after the codec).
 * Everything runs on the connection's event loop.
 */
final class ConnectionGuard {

  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
  static final String BYTES = "sb-guard-bytes";
  static final String MESSAGES = "sb-guard-messages";

  private final long headerNanos;
  private final long idleNanos;
  private final Handshakes handshakes;

  ConnectionGuard(int headerTimeoutSeconds, int idleTimeoutSeconds, Handshakes handshakes) {
    this.headerNanos = TimeUnit.SECONDS.toNanos(headerTimeoutSeconds);
    this.idleNanos = TimeUnit.SECONDS.toNanos(idleTimeoutSeconds);
    this.handshakes = handshakes;
  }

  /** The server's connection handler: starts watching a new HTTP/1.x connection. */
  void watch(HttpConnection connection) {
    if (!(connection instanceof ConnectionBase base)) {
      return;
    }
    Channel channel = base.channel();
    ChannelPipeline pipeline = channel.pipeline();
    if (pipeline.get("httpEncoder") == null || pipeline.get(BYTES) != null) {
      return;
    }
    Watch watch = new Watch();
    pipeline.addFirst(BYTES, watch.bytes);
    pipeline.addAfter("httpEncoder", MESSAGES, watch.messages);
    watch.opened(pipeline.firstContext(), handshakes.admit(channel.remoteAddress()));
  }

  /**
   * Whether a request presents a credential (a token or an API key, as the routes read them):
   * such a request is not refused for the cap on unauthenticated connections; its route checks it.
   */
  static boolean carriesCredential(HttpRequest request) {
    var headers = request.headers();
    if (notBlank(headers.get("Authorization")) || notBlank(headers.get("X-Auth-Token"))
      || notBlank(headers.get("X-API-Key"))) {
      return true;
    }
    var params = new QueryStringDecoder(request.uri()).parameters();
    return params.containsKey("token") || params.containsKey("apiKey");
  }

  private static boolean notBlank(String s) {
    return s != null && !s.isBlank();
  }

  /** How long a connection over the cap may stay silent before it is answered 429 anyway. */
  static final long REFUSED_GRACE_MS = 1000;

  /** The state of one connection. */
  private final class Watch {

    final ChannelInboundHandlerAdapter bytes = new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof ByteBuf) {
          bytesRead();
        }
        super.channelRead(ctx, msg);
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        if (ticket != null) {
          ticket.release();
        }
        super.channelInactive(ctx);
      }
    };

    final ChannelDuplexHandler messages = new ChannelDuplexHandler() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (refused && msg instanceof HttpRequest request && carriesCredential(request)) {
          // Over the cap, but authenticating (to be checked by its route): never counted.
          refused = false;
        }
        if (refused) {
          // Over the cap: the first request is answered 429 and nothing reaches the server.
          ReferenceCountUtil.release(msg);
          if (msg instanceof HttpRequest) {
            refuse();
          }
          return;
        }
        if (msg instanceof HttpRequest) {
          if (ticket != null) {
            ticket.release();
          }
          requestHeaders();
        }
        if (msg instanceof LastHttpContent) {
          requestBodyEnded();
        }
        super.channelRead(ctx, msg);
      }

      @Override
      public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response) {
          int status = response.status().code();
          if (status == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
            upgraded = true;
            cancel();
          } else if (status != HttpResponseStatus.CONTINUE.code()) {
            responseStarted = true;
          }
        }
        if (msg instanceof LastHttpContent && responseStarted) {
          responseEnded();
        }
        super.write(ctx, msg, promise);
      }
    };

    /** The head of the pipeline: what is written here goes to the socket as it is. */
    private ChannelHandlerContext head;
    /** The connection's place among the unauthenticated ones, until its first request; null when refused. */
    private Handshakes.Ticket ticket;
    private boolean refused;
    private boolean answered;
    private ScheduledFuture<?> timer;
    /** Requests whose headers arrived and whose response has not ended. */
    private int inFlight;
    private boolean bodyPending;
    private boolean responseStarted;
    private boolean upgraded;
    /** When the next request began (first byte, or the connection opening); -1 while none has. */
    private long requestBegan = -1;
    private boolean requestHasBytes;
    private long lastRead = System.nanoTime();
    private long idleSince = System.nanoTime();

    void opened(ChannelHandlerContext head, Handshakes.Ticket ticket) {
      this.head = head;
      this.ticket = ticket;
      requestBegan = System.nanoTime();
      schedule(headerNanos);
      if (ticket == null) {
        refused = true;
        head.executor().schedule(() -> {
          if (refused && !requestHasBytes) {
            refuse();
          }
        }, REFUSED_GRACE_MS, TimeUnit.MILLISECONDS);
        return;
      }
      ticket.expireOn(head.executor(), () -> {
        if (head.channel().isActive() && inFlight == 0 && requestBegan >= 0) {
          expire(requestHasBytes, "no complete request within the handshake timeout");
        }
      });
      // A new connection exists to send a request: its headers are timed from now (above).
    }

    void bytesRead() {
      lastRead = System.nanoTime();
      if (!upgraded && inFlight == 0 && !requestHasBytes) {
        requestHasBytes = true;
        if (requestBegan < 0) {
          requestBegan = lastRead;
          schedule(headerNanos);
        }
      }
    }

    void requestHeaders() {
      inFlight++;
      requestBegan = -1;
      requestHasBytes = false;
      bodyPending = true;
      responseStarted = false;
      // Timed again only while its body is still arriving (checked lazily against lastRead).
      schedule(idleNanos);
    }

    void requestBodyEnded() {
      bodyPending = false;
      if (inFlight > 0) {
        // Read whole: the server is answering, and nothing is timed until it has.
        cancel();
      }
    }

    void responseEnded() {
      responseStarted = false;
      inFlight = Math.max(0, inFlight - 1);
      if (inFlight == 0 && !upgraded) {
        idleSince = System.nanoTime();
        schedule(idleNanos);
      }
    }

    private void check() {
      timer = null;
      if (upgraded || !head.channel().isActive()) {
        return;
      }
      long now = System.nanoTime();
      if (inFlight == 0) {
        if (requestBegan >= 0) {
          long left = requestBegan + headerNanos - now;
          if (left <= 0) {
            expire(requestHasBytes, "request headers not complete within the header timeout");
          } else {
            schedule(left);
          }
          return;
        }
        long left = Math.max(idleSince, lastRead) + idleNanos - now;
        if (left <= 0) {
          LOG.debug("closing an idle HTTP connection from {}", head.channel().remoteAddress());
          head.close();
        } else {
          schedule(left);
        }
        return;
      }
      if (bodyPending) {
        long left = lastRead + idleNanos - now;
        if (left <= 0) {
          expire(!responseStarted, "request body not received within the idle timeout");
        } else {
          schedule(left);
        }
      }
      // Otherwise the server is answering: a stream lives by its heartbeats, not by this.
    }

    /** Over the cap: 429 with {@code Retry-After}, then close (once). */
    private void refuse() {
      if (answered || !head.channel().isActive()) {
        return;
      }
      answered = true;
      LOG.debug("refusing an HTTP connection from {}: too many unauthenticated connections", head.channel().remoteAddress());
      if (head.pipeline().get(SslHandler.class) != null) {
        // What is written at the head would bypass TLS: the client sees the close only.
        head.close();
        return;
      }
      byte[] body = HttpErrors.json(new ServiceException(ErrorCode.RATE_LIMITED,
        "too many unauthenticated connections from this address")).getBytes(StandardCharsets.UTF_8);
      String headers = "HTTP/1.1 429 Too Many Requests\r\n"
        + "Content-Type: application/json; charset=utf-8\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "Retry-After: " + Handshakes.RETRY_AFTER_SECONDS + "\r\n"
        + "Connection: close\r\n\r\n";
      head.writeAndFlush(Unpooled.wrappedBuffer(headers.getBytes(StandardCharsets.US_ASCII), body))
        .addListener(ChannelFutureListener.CLOSE);
    }

    /** Ends the connection, with a 408 when the client is owed an answer and none has begun. */
    private void expire(boolean answer, String why) {
      if (answered) {
        return;
      }
      answered = true;
      LOG.debug("closing an HTTP connection from {}: {}", head.channel().remoteAddress(), why);
      if (!answer) {
        head.close();
        return;
      }
      byte[] body = HttpErrors.json(ServiceException.invalid(why)).getBytes();
      String headers = "HTTP/1.1 408 Request Timeout\r\n"
        + "Content-Type: application/json; charset=utf-8\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "Connection: close\r\n\r\n";
      head.writeAndFlush(Unpooled.wrappedBuffer(headers.getBytes(StandardCharsets.US_ASCII), body))
        .addListener(ChannelFutureListener.CLOSE);
    }

    private void schedule(long nanos) {
      cancel();
      timer = head.executor().schedule(this::check, Math.max(1, nanos), TimeUnit.NANOSECONDS);
    }

    private void cancel() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }
  }
}
