package io.switchboard.http.poll;

import io.switchboard.auth.Principal;
import io.switchboard.gateway.Connection;
import io.switchboard.gateway.Event;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.ConnectionCounts;
import io.switchboard.http.HttpErrors;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.Json;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;

/**
 * One long-poll request as a short-lived stream: the events it collects become one JSON answer
 * {@code {"events":[...],"cursor":"..."}}, after which the connection is closed and its cursor is
 * the point the next poll resumes from.
 *
 * <p>The answer is frozen at the moment it is built: {@link #cursor()} then covers exactly the
 * events in it (the stream marks an event sent before writing it), and the connection is closed
 * in the same step, so nothing accepted afterwards can be marked sent.
 */
final class PollConnection extends Connection {

  /** At most this many events in one answer; the rest wait for the next poll. */
  static final int MAX_EVENTS = 500;
  /** After the first event, how long to wait for those that arrive with it. */
  static final long BATCH_MILLIS = 5;

  private static final Future<Void> WRITTEN = Future.succeededFuture();

  private final RoutingContext ctx;
  private final boolean announce;
  private final long maxBytes;
  private final List<String> events = new ArrayList<>();
  private long bytes;
  private Event connected;
  private boolean ready;
  private boolean answered;
  private ServiceException error;
  private final long timeoutTimer;
  private long batchTimer = -1;

  /**
   * @param announce whether {@code connected} belongs in the answer: on a first poll (no cursor)
   *                 it is the answer; on a resume it is noise, unless the cursor failed
   */
  PollConnection(Gateway gateway, Context context, Principal principal, RoutingContext ctx, boolean announce,
                 int timeoutSeconds) {
    super(gateway, context, ConnectionCounts.Transport.POLL, principal);
    this.ctx = ctx;
    this.announce = announce;
    this.maxBytes = gateway.config().limits().queueBytes();
    this.timeoutTimer = vertx.setTimer(timeoutSeconds * 1000L, id -> answer());
  }

  /** The stream is open and the rooms and topics asked for are joined: events may be answered. */
  void opened() {
    if (isClosed()) {
      return;
    }
    ready = true;
    if (full()) {
      answer();
    } else if (!events.isEmpty()) {
      batch();
    }
  }

  /** Opening failed (e.g. a forbidden room): the poll answers with the error instead. */
  void fail(ServiceException e) {
    if (!isClosed()) {
      error = e;
      answer();
    }
  }

  void peerClosed() {
    closedByPeer();
  }

  @Override
  protected int replayLimit() {
    return MAX_EVENTS;
  }

  @Override
  protected boolean writesCursor() {
    return false;
  }

  @Override
  protected Future<Void> write(Event event, String cursor) {
    if (isClosed()) {
      return WRITTEN;
    }
    if (Types.CONNECTED.equals(event.type()) && !announce) {
      connected = event;
      return WRITTEN;
    }
    if (Types.RESYNC_REQUIRED.equals(event.type()) && connected != null) {
      add(connected);
      connected = null;
    }
    add(event);
    // Until the stream is open (replay included, bounded by replayLimit) everything is kept;
    // afterwards the cap closes the answer at once, so no later event is marked sent. A
    // reconnect is written by a close already under way, which answers.
    if (ready && !Types.RECONNECT.equals(event.type())) {
      if (full()) {
        answer();
      } else {
        batch();
      }
    }
    return WRITTEN;
  }

  private void add(Event event) {
    events.add(event.text());
    bytes += event.size();
  }

  private boolean full() {
    return events.size() >= MAX_EVENTS || bytes >= maxBytes;
  }

  private void batch() {
    if (batchTimer < 0) {
      batchTimer = vertx.setTimer(BATCH_MILLIS, id -> answer());
    }
  }

  /** Ends the poll: closes the stream (releasing its consumers), which answers in terminate. */
  private void answer() {
    close(CLOSE_NORMAL, "answered");
  }

  @Override
  protected void terminate(int code, String reason) {
    if (answered) {
      return;
    }
    answered = true;
    HttpServerResponse response = ctx.response();
    if (response.closed() || response.ended()) {
      return;
    }
    if (error != null) {
      HttpErrors.send(ctx, error);
      return;
    }
    String cursor = cursor();
    if (cursor == null) {
      // The stream never opened (the database or the services are slow or down): the client
      // polls again with the cursor it has.
      HttpErrors.send(ctx, new ServiceException(ErrorCode.UNAVAILABLE, "the event stream could not be opened; retry"));
      return;
    }
    StringBuilder body = new StringBuilder((int) Math.min(Integer.MAX_VALUE - 64, bytes + 64 + cursor.length()));
    body.append("{\"events\":[");
    for (int i = 0; i < events.size(); i++) {
      if (i > 0) {
        body.append(',');
      }
      body.append(events.get(i));
    }
    body.append("],\"cursor\":").append(Json.encode(cursor)).append('}');
    response.setStatusCode(200)
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .putHeader("Cache-Control", "no-store")
      .end(body.toString());
  }

  @Override
  protected void onReleased() {
    vertx.cancelTimer(timeoutTimer);
    if (batchTimer >= 0) {
      vertx.cancelTimer(batchTimer);
    }
  }
}
