package io.switchboard.http.sse;

import io.switchboard.auth.Authenticator;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.QueryParams;
import io.switchboard.http.api.RestApi;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * {@code GET /api/events} (SPEC §7): authenticates, answers {@code text/event-stream}, starts with
 * {@code retry:} and {@code connected}, then streams events with the cursor as {@code id:}. A
 * request with {@code Upgrade: websocket} goes to the WebSocket handler instead.
 */
public final class SseHandler implements Handler<RoutingContext> {

  static final int MAX_LIST = 64;

  private final Gateway gateway;
  private final Authenticator auth;
  private final Handler<RoutingContext> webSocket;

  public SseHandler(Gateway gateway, Handler<RoutingContext> webSocket) {
    this.gateway = gateway;
    this.auth = gateway.node().authenticator();
    this.webSocket = webSocket;
  }

  @Override
  public void handle(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    if ("websocket".equalsIgnoreCase(request.getHeader("Upgrade"))) {
      webSocket.handle(ctx);
      return;
    }
    request.pause();
    auth.authenticate(RestApi.token(request)).onComplete(ar -> {
      request.resume();
      if (ar.failed()) {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
        return;
      }
      List<String> rooms = QueryParams.list(request.getParam("rooms"));
      List<String> topics = QueryParams.list(request.getParam("topics"));
      if (rooms.size() > MAX_LIST || topics.size() > gateway.config().limits().topicsPerConnection()) {
        HttpErrors.send(ctx, ServiceException.invalid("too many rooms or topics"));
        return;
      }
      String cursor = request.getHeader("Last-Event-ID");
      if (cursor == null || cursor.isBlank()) {
        cursor = request.getParam("lastEventId");
      }
      HttpServerResponse response = ctx.response()
        .setStatusCode(200)
        .setChunked(true)
        .putHeader("Content-Type", "text/event-stream; charset=utf-8")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("X-Accel-Buffering", "no")
        .putHeader("Connection", "keep-alive");
      response.write("retry: " + gateway.config().sse().retryMillis() + "\n\n");
      SseConnection conn = new SseConnection(gateway, ctx.vertx().getOrCreateContext(), ar.result(), request, response);
      response.closeHandler(v -> conn.peerClosed());
      response.exceptionHandler(t -> conn.peerClosed());
      // Rooms and topics are in place before connected, so no event of them can be missed.
      conn.start(cursor == null || cursor.isBlank() ? null : cursor.trim(), null,
        () -> conn.joinRooms(rooms).compose(v -> conn.subscribeTopics(topics)));
    });
  }


}
