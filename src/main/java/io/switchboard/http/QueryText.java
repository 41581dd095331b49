package io.switchboard.http;

import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Text;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.ext.web.RoutingContext;

/**
 * The first handler of every route: a query string must decode, and each parameter must be text
 * ({@link Text}), whatever route it is for (REST, SSE {@code ?rooms=}, long-poll {@code ?cursor=},
 * the WebSocket upgrade's {@code ?lastEventId=}). A bad one is {@code invalid_request} naming it.
 */
public final class QueryText implements Handler<RoutingContext> {

  @Override
  public void handle(RoutingContext ctx) {
    if (ctx.request().query() == null) {
      ctx.next();
      return;
    }
    MultiMap params;
    try {
      params = ctx.request().params();
    } catch (IllegalArgumentException e) {
      // A malformed %-escape: Netty's decoder throws, and a handler reading it later would fail
      // the request with 500.
      // Its message quotes the query string, which may hold a token: not echoed.
      HttpErrors.send(ctx, ServiceException.invalid("malformed %-escape in the query string"));
      return;
    }
    try {
      for (var e : params) {
        String problem = Text.problem(e.getKey());
        if (problem != null) {
          throw ServiceException.invalid("a query parameter name " + problem);
        }
        Text.check(e.getKey(), e.getValue());
      }
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    ctx.next();
  }
}
