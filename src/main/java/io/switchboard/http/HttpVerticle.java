package io.switchboard.http;

import io.switchboard.NodeContext;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.api.RestApi;
import io.switchboard.bridge.SockJsBridge;
import io.switchboard.http.poll.PollHandler;
import io.switchboard.http.sse.SseHandler;
import io.switchboard.http.ws.WsHandler;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;

/**
 * The node's one HTTP port: REST, SSE, WebSocket, SockJS and {@code /metrics}, all as route
 * handlers of one router. Deployed once per event loop; Vert.x spreads connections
 * across the instances.
 */
public final class HttpVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(HttpVerticle.class);

  private final NodeContext node;
  private final Gateway gateway;
  private HttpServer server;

  public HttpVerticle(NodeContext node, Gateway gateway) {
    this.node = node;
    this.gateway = gateway;
  }

  @Override
  public Future<?> start() {
    SwitchboardConfig.Http http = node.config().http();
    Router router = router(vertx, node, gateway);
    HttpServerOptions options = new HttpServerOptions()
      .setHost(http.host())
      .setPort(http.port())
      // Every request is handled on its connection's event loop, so Vert.x may write straight to
      // the channel: no outbound queue per connection (a 4 KiB array each, idle or not).
      .setStrictThreadMode(true)
      .setCompressionSupported(true)
      .setMaxFormAttributeSize(node.config().limits().frameBytes())
      // A long-poll cursor travels in the query string and names every conversation of its
      // answer (up to 500): room for that beyond the default 4096.
      .setMaxInitialLineLength(16384)
      .setMaxWebSocketFrameSize(node.config().limits().frameBytes())
      .setMaxWebSocketMessageSize(node.config().limits().frameBytes())
      // No permessage-deflate: Vert.x gives Netty no bound on the inflated size, so a small
      // compressed frame could inflate to tens of MiB.
      .setPerMessageWebSocketCompressionSupported(false)
      .setPerFrameWebSocketCompressionSupported(false)
      // HTTP/1.1 only: with cleartext HTTP/2 detection on, Vert.x hands a connection over only
      // once its first request has been read, so a client trickling headers could never be
      // timed (ConnectionGuard). Every transport here is HTTP/1.1; HTTP/2 belongs to a TLS proxy.
      .setHttp2ClearTextEnabled(false);
    ConnectionGuard guard = new ConnectionGuard(http.headerTimeoutSeconds(), http.idleTimeoutSeconds(),
      gateway.handshakes());
    server = vertx.createHttpServer(Tls.apply(options, node.config().tls().http()))
      .connectionHandler(guard::watch)
      .invalidRequestHandler(HttpErrors::invalidRequest)
      .requestHandler(router);
    return server.listen().onSuccess(s -> LOG.debug("HTTP instance listening on {}", s.actualPort()));
  }

  /**
   * The node's one router: every route of the HTTP port, in order. Public so that the OpenAPI
   * test can hold the description to it.
   */
  public static Router router(Vertx vertx, NodeContext node, Gateway gateway) {
    SwitchboardConfig.Http http = node.config().http();
    Router router = Router.router(vertx);
    Origins origins = new Origins(http.allowedOrigins());
    // Before anything reads a parameter: every route's query string must be text.
    router.route().handler(new QueryText());
    // Before the CORS handler: SockJS answers CORS itself, with credentials as its browser
    // client's XHR fallbacks require, once the bridge has checked the origin.
    new SockJsBridge(gateway, origins).mount(router);
    WsHandler ws = new WsHandler(gateway, origins);
    // The WebSocket protocol's upgrades come before CORS: WsHandler checks their origin and
    // answers a foreign one with close 1008 (SPEC §7), where CORS would refuse it first with an
    // HTTP error a browser cannot even read.
    router.get("/api/ws").handler(ws);
    router.get("/api/events").handler(ctx -> {
      if ("websocket".equalsIgnoreCase(ctx.request().getHeader("Upgrade"))) {
        ws.handle(ctx);
      } else {
        ctx.next();
      }
    });
    router.route().handler(cors(http));
    router.get("/api/events").handler(new SseHandler(gateway, ws));
    router.get("/api/events/poll").handler(new PollHandler(gateway));
    new RestApi(vertx, node, gateway).mount(router);
    // Unauthenticated, as Prometheus scrapes it: keep the port off the public internet or filter
    // /metrics at the proxy (docs/OPERATIONS.md).
    router.get("/metrics").handler(PrometheusScrapingHandler.create(node.metrics().registry()));
    // Last: the demo app, the operations page and the browser client, for paths nothing else took.
    new StaticSite().mount(router);
    // Every error status a handler or Vert.x Web can produce gets the JSON body.
    for (int status = 400; status < 600; status++) {
      router.errorHandler(status, HttpErrors::handle);
    }
    return router;
  }

  /** The port actually bound (useful when configured as 0). */
  public int port() {
    return server.actualPort();
  }

  private static CorsHandler cors(SwitchboardConfig.Http http) {
    CorsHandler cors = CorsHandler.create();
    if (!http.allowedOrigins().contains("*")) {
      cors.addOrigins(http.allowedOrigins());
    }
    return cors
      .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE,
        HttpMethod.OPTIONS))
      .allowedHeaders(Set.of("Authorization", "Content-Type", "X-Auth-Token", "X-API-Key", "Last-Event-ID"))
      .maxAgeSeconds(600);
  }
}
