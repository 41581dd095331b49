package io.switchboard.http.api;

import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * {@code GET /api/openapi.json}: the OpenAPI 3.1 description of every route of the node's HTTP
 * port ({@code openapi.json} in the jar). {@code OpenApiTest} holds it to the router, both ways,
 * so a route added without its description fails the build.
 */
public final class OpenApi {

  /** Where the description is kept. */
  public static final String RESOURCE = "openapi.json";

  private static final Buffer DOCUMENT = load();

  private OpenApi() {
  }

  static void serve(RoutingContext ctx) {
    ctx.response()
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .putHeader("Cache-Control", "no-cache")
      .end(DOCUMENT);
  }

  private static Buffer load() {
    try (InputStream in = OpenApi.class.getClassLoader().getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + RESOURCE);
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
