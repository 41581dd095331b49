package io.switchboard.http.ws;

import io.switchboard.auth.Principal;
import io.switchboard.gateway.Connection;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.Origins;
import io.switchboard.http.api.RestApi;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /api/ws} (and {@code /api/events} with {@code Upgrade}): the WebSocket protocol of
 * SPEC §7. The token comes with the upgrade or as a first {@code auth} envelope; a forbidden
 * origin is closed with 1008, a failed authentication with {@code auth_error} and 4401.
 */
public final class WsHandler implements Handler<RoutingContext> {

  /** How long an unauthenticated socket may wait for its {@code auth} envelope. */
  static final long AUTH_TIMEOUT_MS = 10_000;

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
    request.toWebSocket().onSuccess(ws -> {
      // Nothing is read until the stream is open: connected is the first event of every stream,
      // and a command sent meanwhile is answered after it instead of before it (or not at all).
      ws.pause();
      if (!originOk) {
        ws.close((short) Connection.CLOSE_POLICY, "forbidden origin");
        return;
      }
      if (token != null) {
        gateway.node().authenticator().authenticate(token).onComplete(ar -> {
          if (ar.succeeded()) {
            open(ws, ar.result(), cursor, false);
          } else {
            refuse(ws, ServiceException.from(ar.cause()));
          }
        });
      } else {
        awaitAuth(ws, cursor);
      }
    });
  }

  /** No token with the upgrade: the first envelope must be {@code auth {token}}. */
  private void awaitAuth(ServerWebSocket ws, String cursor) {
    long timer = gateway.vertx().setTimer(AUTH_TIMEOUT_MS, id -> refuse(ws,
      new ServiceException(ErrorCode.UNAUTHORIZED, "no auth envelope")));
    ws.closeHandler(v -> gateway.vertx().cancelTimer(timer));
    ws.textMessageHandler(text -> {
      // Hold what the client sends after its auth until the connection's handlers are in place.
      ws.pause();
      ws.textMessageHandler(null);
      gateway.vertx().cancelTimer(timer);
      Envelope env;
      try {
        env = Envelope.parse(text);
      } catch (ServiceException e) {
        refuse(ws, new ServiceException(ErrorCode.UNAUTHORIZED, "the first envelope must be auth"));
        return;
      }
      Object tokenValue = env.payload().getValue("token");
      if (!Types.AUTH.equals(env.type()) || !(tokenValue instanceof String t)) {
        refuse(ws, new ServiceException(ErrorCode.UNAUTHORIZED, "the first envelope must be auth {token}"), env.requestId());
        return;
      }
      gateway.node().authenticator().authenticate(t).onComplete(ar -> {
        if (ar.succeeded()) {
          ws.writeTextMessage(new Envelope(Types.AUTH_SUCCESS, new JsonObject().put("userId", ar.result().userId()),
            env.requestId(), Envelope.now()).toJson().encode());
          open(ws, ar.result(), cursor, true);
        } else {
          refuse(ws, ServiceException.from(ar.cause()), env.requestId());
        }
      });
    });
    ws.resume();
  }

  private void open(ServerWebSocket ws, Principal principal, String cursor, boolean afterAuth) {
    WsConnection conn = new WsConnection(gateway, gateway.vertx().getOrCreateContext(), principal, ws);
    conn.start(cursor, null).onComplete(ar -> ws.resume());
  }

  private void refuse(ServerWebSocket ws, ServiceException e) {
    refuse(ws, e, null);
  }

  private void refuse(ServerWebSocket ws, ServiceException e, String requestId) {
    if (ws.isClosed()) {
      return;
    }
    ws.writeTextMessage(new Envelope(Types.AUTH_ERROR, e.toJson(), requestId, Envelope.now()).toJson().encode())
      .eventually(() -> ws.close((short) Connection.CLOSE_UNAUTHORIZED, "unauthorized"));
  }

}
