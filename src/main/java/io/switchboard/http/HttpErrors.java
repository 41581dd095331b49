package io.switchboard.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that turns failures into REST error bodies: {@code {"error":{"code","message"}}},
 * for routed requests, for requests the HTTP decoder refused before any route, and for the
 * connection guard's 408.
 */
public final class HttpErrors {

  private static final Logger LOG = LoggerFactory.getLogger(HttpErrors.class);

  private HttpErrors() {
  }

  public static void send(RoutingContext ctx, ServiceException e) {
    send(ctx.response(), e.code().status(), e);
  }

  /**
   * Sends {@code e} with an HTTP status of its own, for the few statuses HTTP has and the
   * specification's codes do not (414, 426, 431): the body carries the nearest code.
   */
  public static void send(HttpServerResponse response, int status, ServiceException e) {
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
    response.setStatusCode(status)
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .end(json(e));
  }

  /** The error body of {@code e}. */
  public static String json(ServiceException e) {
    return new JsonObject().put("error", e.toJson()).encode();
  }

  /** Router error handler: whatever failed the context, the client gets a coded JSON error. */
  public static void handle(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof ServiceException se) {
      send(ctx, se);
      return;
    }
    int status = ctx.statusCode();
    if (failure != null && !(failure instanceof io.vertx.ext.web.handler.HttpException) && (status < 400 || status >= 500)) {
      // A handler that failed with a 4xx status and a plain exception (CorsHandler: 403 "CORS
      // Rejected") refused the request; only the rest is a bug.
      LOG.error("unhandled failure on {} {}", ctx.request().method(), ctx.normalizedPath(), failure);
      send(ctx, new ServiceException(ErrorCode.INTERNAL, "internal error"));
      return;
    }
    switch (status) {
      case 400 -> send(ctx, ServiceException.invalid("bad request"));
      case 401 -> send(ctx, new ServiceException(ErrorCode.UNAUTHORIZED, "authentication required"));
      case 403 -> send(ctx, ServiceException.forbidden("forbidden"));
      case 404 -> send(ctx, ServiceException.notFound("no such resource"));
      case 405 -> send(ctx, ServiceException.invalid("method not allowed"));
      case 413 -> send(ctx, ServiceException.tooLarge("request body too large"));
      case 414 -> send(ctx.response(), 414, ServiceException.tooLarge("request URI too long"));
      case 431 -> send(ctx.response(), 431, ServiceException.tooLarge("request headers too large"));
      case 429 -> send(ctx, new ServiceException(ErrorCode.RATE_LIMITED, "too many requests"));
      case 503 -> send(ctx, new ServiceException(ErrorCode.UNAVAILABLE, "unavailable"));
      default -> {
        if (status >= 400 && status < 500) {
          // Any other refusal keeps its status, with the nearest code.
          send(ctx.response(), status, ServiceException.invalid(HttpResponseStatus.valueOf(status).reasonPhrase()));
        } else {
          send(ctx, new ServiceException(ErrorCode.INTERNAL, "internal error"));
        }
      }
    }
  }

  /**
   * The server's invalid-request handler: a request the HTTP decoder could not read (a request
   * line or headers over their limits, broken framing) is answered before any route, as JSON like
   * every other error, and the connection is closed, since where the next request starts is
   * unknown. Vert.x would answer with an empty body.
   */
  public static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status;
    ServiceException e;
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      e = ServiceException.tooLarge("the request line (method, URI and version) is too long");
    } else if (cause instanceof TooLongHttpHeaderException) {
      status = 431;
      e = ServiceException.tooLarge("the request headers are too large");
    } else {
      status = 400;
      e = ServiceException.invalid("malformed HTTP request");
    }
    HttpServerResponse response = request.response();
    response.putHeader("Connection", "close");
    send(response, status, e);
    request.connection().close();
  }
}
