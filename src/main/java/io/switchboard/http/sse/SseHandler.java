package io.switchboard.http.sse;

import io.netty.channel.Channel;
import io.switchboard.auth.Authenticator;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Session;
import io.switchboard.http.ChannelOut;
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
 * {@code retry:}, then the session's {@code connected} and events with the cursor as {@code id:}.
 * A request with {@code Upgrade: websocket} goes to the WebSocket handler instead.
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
        // Never compressed: each connection would get a deflater of its own, and every event
        // would be compressed once per connection instead of encoded once per node.
        .putHeader("Content-Encoding", "identity")
        .putHeader("Connection", "keep-alive");
      response.write("retry: " + gateway.config().sse().retryMillis() + "\n\n");
      // The head leaves every handler Vert.x wrote it through before the first event is written
      // past them (a TLS connection's chunked writer holds writes until a flush).
      Channel channel = ChannelOut.channel(request);
      channel.flush();
      ChannelOut out = ChannelOut.past(channel, "httpEncoder", 1);
      SseTransport transport = new SseTransport(response, out, gateway.config().sse().heartbeatSeconds() * 1000L);
      Session session = new Session(gateway, transport, ar.result());
      response.closeHandler(v -> session.peerClosed());
      response.exceptionHandler(t -> session.peerClosed());
      // Rooms and topics are in place before connected, so no event of them can be missed; each
      // refused one is told in an error event after connected, and the others stay.
      session.open(cursor == null || cursor.isBlank() ? null : cursor.trim(), null,
        () -> gateway.grant(session, rooms, topics));
    });
  }
}
