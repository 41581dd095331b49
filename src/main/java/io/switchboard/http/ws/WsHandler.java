package io.switchboard.http.ws;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.switchboard.auth.Principal;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Handshakes;
import io.switchboard.gateway.Session;
import io.switchboard.http.ChannelOut;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.Origins;
import io.switchboard.http.api.RestApi;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * {@code GET /api/ws} (and {@code /api/events} with {@code Upgrade}): the WebSocket protocol of
 * SPEC §7. The token comes with the upgrade or as a first {@code auth} envelope; a forbidden
 * origin is closed with 1008, a failed authentication with {@code auth_error} and 4401. Inbound
 * envelopes become commands of the connection's {@link Session}; every command with a requestId
 * gets exactly one reply.
 */
public final class WsHandler implements Handler<RoutingContext> {

  /** The reason of the close (4401) of a socket that did not authenticate in time. */
  static final String AUTH_TIMEOUT = "authentication timeout";

  private final Gateway gateway;
  private final Origins origins;

  public WsHandler(Gateway gateway, Origins origins) {
    this.gateway = gateway;
    this.origins = origins;
  }

  @Override
  public void handle(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    if (!request.canUpgradeToWebSocket()) {
      // HTTP's answer to a plain request for a protocol endpoint: 426 naming the protocol.
      ctx.response().putHeader("Upgrade", "websocket").putHeader("Connection", "Upgrade");
      HttpErrors.send(ctx.response(), 426,
        ServiceException.invalid("this endpoint speaks the WebSocket protocol: send an Upgrade: websocket request"));
      return;
    }
    boolean originOk = origins.allowed(request.getHeader("Origin"));
    String token = RestApi.token(request);
    String cursor = request.getParam("lastEventId") != null ? request.getParam("lastEventId") : request.getParam("cursor");
    Channel channel = ChannelOut.channel(request);
    // Without a token the socket is unauthenticated until its auth envelope: it holds a place in
    // the node's count per address (over the cap: 429, never upgraded) and is timed.
    Handshakes.Ticket ticket = null;
    if (token == null && originOk) {
      ticket = gateway.handshakes().admit(channel.remoteAddress());
      if (ticket == null) {
        ctx.response().putHeader("Retry-After", String.valueOf(Handshakes.RETRY_AFTER_SECONDS));
        HttpErrors.send(ctx.response(), 429, new ServiceException(ErrorCode.RATE_LIMITED,
          "too many unauthenticated connections from this address"));
        return;
      }
    }
    Handshakes.Ticket held = ticket;
    request.toWebSocket().onFailure(t -> {
      if (held != null) {
        held.release();
      }
    }).onSuccess(ws -> {
      // Nothing is read until the stream is open: connected is the first event of every stream,
      // and a command sent meanwhile is answered after it instead of before it (or not at all).
      ws.pause();
      if (!originOk) {
        ws.close((short) CloseCode.POLICY.code(), "forbidden origin");
        return;
      }
      if (token != null) {
        gateway.node().authenticator().authenticate(token).onComplete(ar -> {
          if (ar.succeeded()) {
            open(ws, channel, ar.result(), cursor);
          } else {
            refuse(ws, ServiceException.from(ar.cause()), null);
          }
        });
      } else {
        awaitAuth(ws, channel, cursor, held);
      }
    });
  }

  /** No token with the upgrade: the first envelope must be {@code auth {token}}. */
  private void awaitAuth(ServerWebSocket ws, Channel channel, String cursor, Handshakes.Ticket ticket) {
    Context context = Vertx.currentContext();
    // limits.handshakeSeconds from the upgrade to a verified token, else auth_error and 4401.
    ticket.expireOn(channel.eventLoop(), () -> context.runOnContext(v -> refuse(ws,
      new ServiceException(ErrorCode.UNAUTHORIZED, AUTH_TIMEOUT), null, AUTH_TIMEOUT)));
    ws.closeHandler(v -> ticket.release());
    ws.textMessageHandler(text -> {
      // Hold what the client sends after its auth until the session's handlers are in place.
      ws.pause();
      ws.textMessageHandler(null);
      Envelope env;
      try {
        env = Envelope.parse(text);
      } catch (ServiceException e) {
        ticket.release();
        refuse(ws, new ServiceException(ErrorCode.UNAUTHORIZED, "the first envelope must be auth"), null);
        return;
      }
      Object tokenValue = env.payload().getValue("token");
      if (!Types.AUTH.equals(env.type()) || !(tokenValue instanceof String t)) {
        ticket.release();
        refuse(ws, new ServiceException(ErrorCode.UNAUTHORIZED, "the first envelope must be auth {token}"), env.requestId());
        return;
      }
      gateway.node().authenticator().authenticate(t).onComplete(ar -> {
        if (!ticket.release()) {
          // Timed out (and refused) or closed while the token was checked.
          return;
        }
        if (ar.succeeded()) {
          ws.writeTextMessage(new Envelope(Types.AUTH_SUCCESS, new JsonObject().put("userId", ar.result().userId()),
            env.requestId(), Envelope.now()).toJson().encode());
          open(ws, channel, ar.result(), cursor);
        } else {
          refuse(ws, ServiceException.from(ar.cause()), env.requestId());
        }
      });
    });
    ws.resume();
  }

  private void open(ServerWebSocket ws, Channel channel, Principal principal, String cursor) {
    if (ws.isClosed()) {
      return;
    }
    var config = gateway.config();
    // Frames are written already encoded, past the WebSocket encoder: they cross only the handlers
    // between it and the socket (TLS). What Vert.x wrote so far (auth_success) leaves every handler
    // first (a chunked writer holds writes until a flush); after this Vert.x writes only control
    // frames (ping, pong, close), which may come between two of ours.
    channel.flush();
    ChannelOut out = ChannelOut.past(channel, "wsencoder", 1);
    WsTransport transport = new WsTransport(ws, out, config.ws().pingSeconds() * 1000L,
      config.ws().idleTimeoutSeconds() * 1000L);
    Session session = new Session(gateway, transport, principal);
    ws.closeHandler(v -> session.peerClosed());
    ws.exceptionHandler(t -> onException(session, t));
    ws.pongHandler(b -> session.heard());
    ws.binaryMessageHandler(b -> {
      session.heard();
      session.refused();
      session.reply(Envelope.error(ServiceException.invalid("binary frames are not supported; send JSON text"), null));
    });
    ws.textMessageHandler(text -> onText(session, text));
    session.open(cursor, null, () -> Future.succeededFuture(List.of()));
  }

  /**
   * Vert.x reports a frame over {@code limits.frameBytes} (Netty's decoder) and a message over it
   * (its frame aggregator) as exceptions. The first is followed by a close without a close frame,
   * the second by nothing at all: the socket would stay open and silently deaf. Either way the
   * client is told with 1009 here.
   */
  private static void onException(Session session, Throwable t) {
    if (t instanceof CorruptedWebSocketFrameException c && c.closeStatus() != null) {
      boolean tooLarge = c.closeStatus().code() == CloseCode.TOO_LARGE.code();
      session.close(tooLarge ? CloseCode.TOO_LARGE : CloseCode.POLICY, tooLarge ? "frame too large" : "protocol error");
    } else if (t instanceof IllegalStateException && String.valueOf(t.getMessage()).contains("max message size")) {
      session.close(CloseCode.TOO_LARGE, "message too large");
    } else {
      session.close(CloseCode.GOING_AWAY, "connection error");
    }
  }

  private void onText(Session session, String text) {
    session.heard();
    Envelope env;
    try {
      env = Envelope.parse(text);
    } catch (ServiceException e) {
      session.refused();
      session.reply(Envelope.error(e, Envelope.requestIdOf(text)));
      return;
    }
    session.accepted();
    Future<Envelope> result;
    try {
      result = switch (env.type()) {
        case Types.AUTH -> refreshToken(session, env);
        case Types.RESUME -> session.resume(Fields.requiredString(env.payload(), "cursor", 200_000));
        default -> session.command(env);
      };
    } catch (ServiceException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      if (ar.succeeded()) {
        session.reply(ar.result().withRequestId(env.requestId()));
      } else {
        session.reply(Envelope.error(ServiceException.from(ar.cause()), env.requestId()));
      }
    });
  }

  private Future<Envelope> refreshToken(Session session, Envelope env) {
    String token = Fields.requiredString(env.payload(), "token", 8192);
    return gateway.node().authenticator().authenticate(token).map(fresh -> {
      session.refresh(fresh);
      return Envelope.of(Types.AUTH_SUCCESS, new JsonObject().put("userId", fresh.userId()));
    }).recover(t -> Future.failedFuture(t instanceof ServiceException se && se.code() == ErrorCode.FORBIDDEN
      ? se : new ServiceException(ErrorCode.UNAUTHORIZED, "invalid token")));
  }

  private static void refuse(ServerWebSocket ws, ServiceException e, String requestId) {
    refuse(ws, e, requestId, "unauthorized");
  }

  private static void refuse(ServerWebSocket ws, ServiceException e, String requestId, String reason) {
    if (ws.isClosed()) {
      return;
    }
    ws.writeTextMessage(new Envelope(Types.AUTH_ERROR, e.toJson(), requestId, Envelope.now()).toJson().encode())
      .eventually(() -> ws.close((short) CloseCode.UNAUTHORIZED.code(), reason));
  }
}
