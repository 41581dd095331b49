package io.switchboard.http.sse;

import io.switchboard.auth.Principal;
import io.switchboard.gateway.Connection;
import io.switchboard.gateway.Event;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.ConnectionCounts;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

import java.nio.charset.StandardCharsets;

/** An SSE stream: {@code id:} (the cursor, per connection) then the node-wide encoded event lines. */
final class SseConnection extends Connection {

  private static final Buffer HEARTBEAT = Buffer.buffer(":\n\n");

  private final HttpServerRequest request;
  private final HttpServerResponse response;
  private final long heartbeat;

  SseConnection(Gateway gateway, Context context, Principal principal, HttpServerRequest request,
                HttpServerResponse response) {
    super(gateway, context, ConnectionCounts.Transport.SSE, principal);
    this.request = request;
    this.response = response;
    long period = gateway.config().sse().heartbeatSeconds() * 1000L;
    this.heartbeat = vertx.setPeriodic(period, period, id -> {
      if (!isClosed() && !response.writeQueueFull()) {
        response.write(HEARTBEAT.copy());
      }
    });
  }

  void peerClosed() {
    closedByPeer();
  }

  @Override
  protected Future<Void> write(Event event, String cursor) {
    if (response.closed() || response.ended()) {
      return Future.succeededFuture();
    }
    if (cursor != null) {
      response.write(Buffer.buffer(("id: " + cursor + "\n").getBytes(StandardCharsets.UTF_8)));
    }
    return response.write(event.sse());
  }

  @Override
  protected void terminate(int code, String reason) {
    if (code == CLOSE_SLOW_CONSUMER || response.closed()) {
      // Its queue is full: nothing more can reach it. Drop the TCP connection; the client
      // reconnects with Last-Event-ID and resumes.
      request.connection().close();
      return;
    }
    if (!response.ended()) {
      response.end();
    }
  }

  @Override
  protected void onReleased() {
    vertx.cancelTimer(heartbeat);
  }
}
