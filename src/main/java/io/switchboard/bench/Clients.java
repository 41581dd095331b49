package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.util.ArrayList;
import java.util.List;

/**
 * The bench's clients. Subscribers are spread over {@code 127.0.0.10 …}: each source address has
 * its own ephemeral port range (about 28 000 ports), so one client machine can hold far more
 * connections to one server port than a single address allows. Everything stays on loopback.
 * REST calls (setup, publishes, sends) go out from 127.0.0.1 through one pooled client.
 */
final class Clients {

  private static final int MAX_PER_SOURCE = 20_000;

  final Vertx vertx;
  final WebClient rest;
  private final List<HttpClientAgent> http = new ArrayList<>();
  private final List<WebSocketClient> ws = new ArrayList<>();

  Clients(Vertx vertx, int sources, int restConnections) {
    this.vertx = vertx;
    for (int i = 0; i < sources; i++) {
      String local = source(i);
      http.add(vertx.createHttpClient(new HttpClientOptions()
          .setLocalAddress(local)
          .setKeepAlive(true)
          .setTcpNoDelay(true)
          .setConnectTimeout(30_000)
          .setMaxInitialLineLength(16 * 1024),
        new PoolOptions().setHttp1MaxSize(MAX_PER_SOURCE).setMaxWaitQueueSize(-1)));
      ws.add(vertx.createWebSocketClient(new WebSocketClientOptions()
        .setLocalAddress(local)
        .setMaxConnections(MAX_PER_SOURCE)
        .setConnectTimeout(30_000)
        .setMaxFrameSize(1 << 20)
        .setMaxMessageSize(4 << 20)
        .setTcpNoDelay(true)));
    }
    this.rest = WebClient.create(vertx, new WebClientOptions()
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setConnectTimeout(30_000)
        .setUserAgentEnabled(false),
      new PoolOptions().setHttp1MaxSize(restConnections).setMaxWaitQueueSize(-1));
  }

  /** The loopback source address of subscriber {@code i}'s group. */
  static String source(int i) {
    return "127.0.0." + (10 + i);
  }

  HttpClientAgent http(int subscriber) {
    return http.get(subscriber % http.size());
  }

  WebSocketClient ws(int subscriber) {
    return ws.get(subscriber % ws.size());
  }

  Future<Void> close() {
    List<Future<Void>> all = new ArrayList<>();
    http.forEach(c -> all.add(c.close()));
    ws.forEach(c -> all.add(c.close()));
    rest.close();
    return Future.join(all).mapEmpty();
  }
}
