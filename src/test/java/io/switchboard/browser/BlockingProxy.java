package io.switchboard.browser;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static io.switchboard.testing.TestNodes.await;

/**
 * An HTTP proxy in front of one node, as the networks browsers sit behind can be: it refuses every
 * WebSocket upgrade (403), and on demand holds SSE streams so that no event gets through (a proxy
 * that buffers {@code text/event-stream}) and cuts the streams it carries. Everything else passes.
 */
final class BlockingProxy implements AutoCloseable {

  private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "upgrade",
    "proxy-connection", "te", "trailer");

  private final HttpServer server;
  private final HttpClient client;
  private final Set<HttpConnection> streams = ConcurrentHashMap.newKeySet();
  volatile boolean holdSse;

  BlockingProxy(Vertx vertx, int targetPort) {
    client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(targetPort),
      new PoolOptions().setHttp1MaxSize(32));
    server = await(vertx.createHttpServer().requestHandler(this::handle).listen(0, "127.0.0.1"));
  }

  int port() {
    return server.actualPort();
  }

  /** Drops the SSE streams open through the proxy now (their browsers see the connection end). */
  void cutStreams() {
    streams.forEach(HttpConnection::close);
    streams.clear();
  }

  private void handle(HttpServerRequest req) {
    if ("websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
      req.response().setStatusCode(403).end("WebSockets are not allowed through this proxy");
      return;
    }
    boolean sse = req.path().equals("/api/events");
    if (sse && holdSse) {
      // A buffering proxy: the answer starts, and no event ever gets through.
      streams.add(req.connection());
      req.response().setChunked(true).putHeader("Content-Type", "text/event-stream").writeHead();
      return;
    }
    req.pause();
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    req.headers().forEach(h -> {
      if (!HOP_BY_HOP.contains(h.getKey().toLowerCase())) {
        headers.add(h.getKey(), h.getValue());
      }
    });
    client.request(new RequestOptions().setMethod(req.method()).setURI(req.uri()).setHeaders(headers))
      .compose(out -> out.send(req))
      .onSuccess(in -> {
        var response = req.response().setStatusCode(in.statusCode());
        in.headers().forEach(h -> {
          if (!HOP_BY_HOP.contains(h.getKey().toLowerCase())) {
            response.headers().add(h.getKey(), h.getValue());
          }
        });
        if (response.headers().get("Content-Length") == null) {
          response.setChunked(true);
        }
        if (sse) {
          streams.add(req.connection());
        }
        in.pipeTo(response);
      })
      .onFailure(t -> {
        if (!req.response().ended()) {
          req.response().setStatusCode(502).end("proxy: " + t.getMessage());
        }
      });
  }

  @Override
  public void close() {
    cutStreams();
    await(server.close());
    await(client.close());
  }
}
