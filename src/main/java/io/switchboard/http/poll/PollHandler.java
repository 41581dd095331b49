package io.switchboard.http.poll;

import io.switchboard.auth.Authenticator;
import io.netty.channel.EventLoop;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Session;
import io.switchboard.http.ChannelOut;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.QueryParams;
import io.switchboard.http.api.RestApi;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * {@code GET /api/events/poll?cursor=&timeout=25} (SPEC §7), the long-poll fallback: answers
 * {@code 200 {"events":[envelopes...], "cursor":"..."}} as soon as events are ready, or with no
 * events when {@code timeout} seconds pass (default 25, clamped to 1..60).
 *
 * <ul>
 *   <li>A poll without a cursor answers at once with {@code connected} and a first cursor.</li>
 *   <li>A poll with the last answer's {@code cursor} (or {@code lastEventId}, or a
 *       {@code Last-Event-ID} header) resumes like SSE, on any node and without sticky sessions:
 *       it first gets the timeline events missed since that cursor, per conversation in seq
 *       order, none twice; if there are none it waits for the first live one. An unusable cursor
 *       answers {@code connected} and {@code resync_required} with a fresh cursor.</li>
 *   <li>Events that are not timeline items (typing, presence, receipts, topic and user pushes)
 *       reach a long-poll client only while one of its polls is open: nothing of them is kept
 *       between polls. {@code ?rooms=} and {@code ?topics=} join rooms and subscribe topics for
 *       the time of each poll.</li>
 *   <li>An answer holds at most {@link PollTransport#MAX_EVENTS} events; its cursor covers
 *       exactly those, and the next poll returns the rest at once.</li>
 *   <li>A client advances its cursor only when it has an answer: a poll whose answer was lost
 *       can be repeated with the same cursor and gets the same timeline events again.</li>
 * </ul>
 *
 * <p>Each poll is a short-lived {@link Session} (counted as {@code connections.poll} while
 * open) that goes on the stream session its cursor names, without writing a new one; a client
 * that goes away mid-poll releases it at once.</p>
 */
public final class PollHandler implements Handler<RoutingContext> {

  static final int DEFAULT_TIMEOUT = 25;
  static final int MIN_TIMEOUT = 1;
  static final int MAX_TIMEOUT = 60;
  static final int MAX_ROOMS = 64;

  private final Gateway gateway;
  private final Authenticator auth;

  public PollHandler(Gateway gateway) {
    this.gateway = gateway;
    this.auth = gateway.node().authenticator();
  }

  /** A poll's parameters, validated. */
  record PollRequest(String cursor, int timeoutSeconds, List<String> rooms, List<String> topics) {

    static PollRequest parse(HttpServerRequest request, int maxTopics) {
      String cursor = firstNonBlank(request.getParam("cursor"), request.getParam("lastEventId"),
        request.getHeader("Last-Event-ID"));
      List<String> rooms = QueryParams.list(request.getParam("rooms"));
      List<String> topics = QueryParams.list(request.getParam("topics"));
      if (rooms.size() > MAX_ROOMS || topics.size() > maxTopics) {
        throw ServiceException.invalid("too many rooms or topics");
      }
      return new PollRequest(cursor, timeout(request.getParam("timeout")), rooms, topics);
    }

    private static int timeout(String param) {
      if (param == null || param.isBlank()) {
        return DEFAULT_TIMEOUT;
      }
      long seconds;
      try {
        seconds = Long.parseLong(param.trim());
      } catch (NumberFormatException e) {
        throw ServiceException.invalid("'timeout' must be a whole number of seconds");
      }
      return (int) Math.max(MIN_TIMEOUT, Math.min(MAX_TIMEOUT, seconds));
    }

    private static String firstNonBlank(String... values) {
      for (String v : values) {
        if (v != null && !v.isBlank()) {
          return v.trim();
        }
      }
      return null;
    }

  }

  @Override
  public void handle(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    request.pause();
    auth.authenticate(RestApi.token(request)).onComplete(ar -> {
      request.resume();
      if (ar.failed()) {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
        return;
      }
      PollRequest poll;
      try {
        poll = PollRequest.parse(request, gateway.config().limits().topicsPerConnection());
      } catch (ServiceException e) {
        HttpErrors.send(ctx, e);
        return;
      }
      EventLoop loop = ChannelOut.channel(request).eventLoop();
      PollTransport transport = new PollTransport(ctx, loop, poll.cursor() == null,
        gateway.config().limits().queueBytes(), poll.timeoutSeconds() * 1000L);
      Session session = new Session(gateway, transport, ar.result());
      transport.session(session);
      session.replayLimit(PollTransport.MAX_EVENTS);
      ctx.response().closeHandler(v -> session.peerClosed());
      ctx.response().exceptionHandler(t -> session.peerClosed());
      // A refused room or topic answers the poll with that error.
      session.open(poll.cursor(), null, () -> gateway.grant(session, poll.rooms(), poll.topics()).map(refused -> {
        transport.refuse(refused);
        return List.of();
      }));
    });
  }
}
