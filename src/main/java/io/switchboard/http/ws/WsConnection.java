package io.switchboard.http.ws;

import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.switchboard.auth.Principal;
import io.switchboard.gateway.Connection;
import io.switchboard.gateway.Event;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.ConnectionCounts;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;

/**
 * A WebSocket client: envelopes both ways, pings every {@code ws.pingSeconds}, closed when silent
 * past {@code ws.idleTimeoutSeconds}. Every command with a requestId gets exactly one reply.
 */
final class WsConnection extends Connection {

  private final ServerWebSocket ws;
  private final long pinger;
  private long lastHeard = System.nanoTime();

  WsConnection(Gateway gateway, Context context, Principal principal, ServerWebSocket ws) {
    super(gateway, context, ConnectionCounts.Transport.WS, principal);
    this.ws = ws;
    long ping = gateway.config().ws().pingSeconds() * 1000L;
    long idleNanos = gateway.config().ws().idleTimeoutSeconds() * 1_000_000_000L;
    this.pinger = vertx.setPeriodic(ping, ping, id -> {
      if (System.nanoTime() - lastHeard > idleNanos) {
        close(CLOSE_GOING_AWAY, "idle timeout");
      } else if (!ws.isClosed()) {
        ws.writePing(Buffer.buffer());
      }
    });
    ws.closeHandler(v -> closedByPeer());
    ws.exceptionHandler(this::onException);
    ws.pongHandler(b -> lastHeard = System.nanoTime());
    ws.binaryMessageHandler(b -> {
      lastHeard = System.nanoTime();
      reply(Envelope.error(ServiceException.invalid("binary frames are not supported; send JSON text"), null));
    });
    ws.textMessageHandler(this::onText);
  }

  /**
   * Vert.x reports a frame over {@code limits.frameBytes} (Netty's decoder) and a message over it
   * (its frame aggregator) as exceptions. The first is followed by a close without a close frame,
   * the second by nothing at all: the socket would stay open and silently deaf. Either way the
   * client is told with 1009 here.
   */
  private void onException(Throwable t) {
    if (t instanceof CorruptedWebSocketFrameException c && c.closeStatus() != null) {
      close(c.closeStatus().code(), c.closeStatus().code() == CLOSE_TOO_LARGE ? "frame too large" : "protocol error");
    } else if (t instanceof IllegalStateException && String.valueOf(t.getMessage()).contains("max message size")) {
      close(CLOSE_TOO_LARGE, "message too large");
    } else {
      close(CLOSE_GOING_AWAY, "connection error");
    }
  }

  private void onText(String text) {
    lastHeard = System.nanoTime();
    Envelope env;
    try {
      env = Envelope.parse(text);
    } catch (ServiceException e) {
      reply(Envelope.error(e, Envelope.requestIdOf(text)));
      return;
    }
    Future<Envelope> result;
    try {
      result = switch (env.type()) {
        case Types.AUTH -> refreshToken(env);
        case Types.RESUME -> resume(Fields.requiredString(env.payload(), "cursor", 200_000));
        default -> command(env);
      };
    } catch (ServiceException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      if (ar.succeeded()) {
        reply(ar.result().withRequestId(env.requestId()));
      } else {
        reply(Envelope.error(ServiceException.from(ar.cause()), env.requestId()));
      }
    });
  }

  private Future<Envelope> refreshToken(Envelope env) {
    String token = Fields.requiredString(env.payload(), "token", 8192);
    return gateway.node().authenticator().authenticate(token).map(fresh -> {
      refresh(fresh);
      return Envelope.of(Types.AUTH_SUCCESS, new JsonObject().put("userId", fresh.userId()));
    }).recover(t -> Future.failedFuture(t instanceof ServiceException se && se.code() == ErrorCode.FORBIDDEN
      ? se : new ServiceException(ErrorCode.UNAUTHORIZED, "invalid token")));
  }

  @Override
  protected boolean writesCursor() {
    return false;
  }

  @Override
  protected Future<Void> write(Event event, String cursor) {
    if (ws.isClosed()) {
      return Future.succeededFuture();
    }
    return ws.writeTextMessage(event.text());
  }

  @Override
  protected void terminate(int code, String reason) {
    if (!ws.isClosed()) {
      ws.close((short) code, reason);
    }
  }

  @Override
  protected void onReleased() {
    vertx.cancelTimer(pinger);
  }
}
