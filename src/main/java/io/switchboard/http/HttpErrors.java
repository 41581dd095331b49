package io.switchboard.http;

import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place that turns failures into REST error bodies: {@code {"error":{"code","message"}}}. */
public final class HttpErrors {

  private static final Logger LOG = LoggerFactory.getLogger(HttpErrors.class);

  private HttpErrors() {
  }

  public static void send(RoutingContext ctx, ServiceException e) {
    HttpServerResponse response = ctx.response();
    if (response.ended() || response.closed()) {
      return;
    }
    if (response.headWritten()) {
      response.end();
      return;
    }
    if (e.code() == ErrorCode.RATE_LIMITED && response.headers().get("Retry-After") == null) {
      response.putHeader("Retry-After", "1");
    }
    response.setStatusCode(e.code().status())
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .end(new JsonObject().put("error", e.toJson()).encode());
  }

  /** Router error handler: whatever failed the context, the client gets a coded JSON error. */
  public static void handle(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    ServiceException e;
    if (failure instanceof ServiceException se) {
      e = se;
    } else if (failure != null && !(failure instanceof io.vertx.ext.web.handler.HttpException)
      && (ctx.statusCode() < 400 || ctx.statusCode() >= 500)) {
      // A handler that failed with a 4xx status and a plain exception (CorsHandler rejecting an
      // origin does) is a client error, mapped by its status below.
      LOG.error("unhandled failure on {} {}", ctx.request().method(), ctx.normalizedPath(), failure);
      e = new ServiceException(ErrorCode.INTERNAL, "internal error");
    } else {
      e = switch (ctx.statusCode()) {
        case 400 -> ServiceException.invalid("bad request");
        case 401 -> new ServiceException(ErrorCode.UNAUTHORIZED, "authentication required");
        case 403 -> ServiceException.forbidden("forbidden");
        case 404 -> ServiceException.notFound("no such resource");
        case 405 -> ServiceException.invalid("method not allowed");
        case 413 -> ServiceException.tooLarge("request body too large");
        case 503 -> new ServiceException(ErrorCode.UNAVAILABLE, "unavailable");
        default -> new ServiceException(ErrorCode.INTERNAL, "internal error");
      };
    }
    send(ctx, e);
  }
}
