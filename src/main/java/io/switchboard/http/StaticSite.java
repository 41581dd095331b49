package io.switchboard.http;

import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The static files every node serves from the jar's {@code webroot/}: the demo chat app at
 * {@code /}, the operations page at {@code /admin}, and the browser client at
 * {@code /client/switchboard.js} (copied from {@code clients/js} at build time). Self-contained:
 * the pages load nothing from anywhere else, and their Content-Security-Policy says so.
 */
final class StaticSite {

  /** Scripts, styles and media from this node only; connections to any node (the client's URL list). */
  static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    + "media-src 'self' blob: mediastream:; connect-src 'self' http: https: ws: wss:; "
    + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

  void mount(Router router) {
    StaticHandler files = StaticHandler.create("webroot")
      .setCachingEnabled(false)
      .setDirectoryListing(false)
      .setIndexPage("index.html");
    router.get("/admin").handler(ctx -> ctx.reroute("/admin/index.html"));
    router.getWithRegex("^/(?!api/|metrics|eventbus).*").handler(StaticSite::headers).handler(files);
  }

  private static void headers(RoutingContext ctx) {
    ctx.response().headers()
      .set(HttpHeaders.CACHE_CONTROL, "no-cache")
      .set("X-Content-Type-Options", "nosniff")
      .set("Referrer-Policy", "no-referrer")
      .set("Content-Security-Policy", CSP);
    ctx.next();
  }
}
