package io.switchboard.bridge;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Handshakes;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.Origins;
import io.switchboard.bridge.BridgeFrames.Dialect;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;
import io.vertx.ext.web.handler.sockjs.SockJSHandlerOptions;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;

import java.util.List;

/**
 * The SockJS event-bus bridge at {@code /eventbus} (SPEC §7), for
 * {@code @vertx/eventbus-bridge-client.js}. vertx-web's SockJS handler carries the frames (and its
 * raw WebSocket endpoint {@code /eventbus/websocket}); the bridge protocol is
 * {@link BridgeSession}'s, not vertx-web's {@code SockJSBridge}, which would register one
 * event-bus consumer per socket, queue without bound and check no credential per frame.
 *
 * <p>SockJS sessions live in this node's memory: its polling fallbacks need sticky sessions
 * behind a load balancer (the {@code JSESSIONID} cookie it sets is there for that).
 */
public final class SockJsBridge {

  /** Where the bridge is mounted. */
  public static final String PATH = "/eventbus";

  private final Gateway gateway;
  private final Origins origins;

  public SockJsBridge(Gateway gateway, Origins origins) {
    this.gateway = gateway;
    this.origins = origins;
  }

  public void mount(Router router) {
    Vertx vertx = gateway.vertx();
    int frameBytes = gateway.config().limits().frameBytes();
    router.route(PATH + "/*").handler(this::checkOrigin);
    // xhr_send posts a JSON array of frames, each a JSON string: room for the escaping, then
    // BridgeSession holds each frame to limits.frameBytes.
    router.post(PATH + "/*").handler(BodyHandler.create(false).setBodyLimit(2L * frameBytes + 1024));
    SockJSHandlerOptions options = new SockJSHandlerOptions()
      .setRegisterWriteHandler(false)
      .setInsertJSESSIONID(true);
    router.route(PATH + "/*").subRouter(SockJSHandler.create(vertx, options).socketHandler(this::open));
  }

  /** A page of another origin may not open a session (SockJS requests carry {@code Origin}). */
  private void checkOrigin(RoutingContext ctx) {
    if (origins.allowed(ctx.request().getHeader("Origin"))) {
      ctx.next();
    } else {
      HttpErrors.send(ctx, ServiceException.forbidden("origin not allowed"));
    }
  }

  private void open(SockJSSocket sock) {
    Handshakes.Ticket ticket = gateway.handshakes().admit(sock.remoteAddress().hostAddress());
    if (ticket == null) {
      // Over limits.unauthenticatedPerIp: the session is closed at once (SockJS's close frame).
      sock.close(CloseCode.RATE_LIMITED.code(), "too many unauthenticated connections");
      return;
    }
    Context context = Vertx.currentContext() != null ? Vertx.currentContext() : gateway.vertx().getOrCreateContext();
    BridgeSession session = new BridgeSession(gateway, new Socket(sock, gateway.config().ws().idleTimeoutSeconds() * 1000L),
      context, Dialect.SOCKJS, ticket);
    sock.handler(session::receive);
    sock.closeHandler(v -> session.peerClosed());
    sock.exceptionHandler(t -> {
      // Vert.x drops a WebSocket message over the node's message size and reports it here.
      if (t.getMessage() != null && t.getMessage().contains("max message size")) {
        session.tooLarge(-1);
      } else {
        session.peerClosed();
        sock.close();
      }
    });
  }

  /** A SockJS socket as the session sees it. */
  private static final class Socket implements BridgeSocket {
    private final SockJSSocket sock;
    private final long idleTimeoutMs;
    private QueryStringDecoder query;

    Socket(SockJSSocket sock, long idleTimeoutMs) {
      this.sock = sock;
      this.idleTimeoutMs = idleTimeoutMs;
    }

    @Override
    public Future<Void> write(String frame) {
      return sock.write(frame);
    }

    @Override
    public void close(int code, String reason) {
      sock.close(code, reason);
    }

    @Override
    public void pause() {
      sock.pause();
    }

    @Override
    public void resume() {
      sock.resume();
    }

    @Override
    public String queryParam(String name) {
      String uri = sock.uri();
      if (uri == null) {
        return null;
      }
      if (query == null) {
        query = new QueryStringDecoder(uri);
      }
      List<String> values = query.parameters().get(name);
      return values == null || values.isEmpty() || values.get(0).isBlank() ? null : values.get(0);
    }

    @Override
    public long idleTimeoutMs() {
      return idleTimeoutMs;
    }
  }
}
