package io.switchboard.http.poll;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.gateway.Frame;
import io.switchboard.gateway.Session;
import io.switchboard.gateway.Transport;
import io.switchboard.http.HttpErrors;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One long-poll request as a short-lived stream: the events it collects become one JSON answer
 * {@code {"events":[...],"cursor":"..."}}, after which the session is closed and its cursor is
 * the point the next poll resumes from.
 *
 * <p>The answer is frozen at the moment it is built: the session's cursor then covers exactly the
 * events in it (the session marks an event sent as it writes it), and the session is closed in
 * the same step, so nothing accepted afterwards can be marked sent.
 */
final class PollTransport implements Transport {

  /** At most this many events in one answer; the rest wait for the next poll. */
  static final int MAX_EVENTS = 500;
  /** After the first event, how long to wait for those that arrive with it. */
  static final long BATCH_MILLIS = 5;

  private final RoutingContext ctx;
  private final EventLoop eventLoop;
  private final boolean announce;
  private final long maxBytes;
  private final long timeoutMillis;
  private final List<String> events = new ArrayList<>();
  private Session session;
  private long bytes;
  private Frame connected;
  private boolean ready;
  private boolean answered;
  private ServiceException error;
  private ScheduledFuture<?> batch;

  /**
   * @param announce whether {@code connected} belongs in the answer: on a first poll (no cursor)
   *                 it is the answer; on a resume it is noise, unless the cursor failed
   */
  PollTransport(RoutingContext ctx, EventLoop eventLoop, boolean announce, long maxBytes, long timeoutMillis) {
    this.ctx = ctx;
    this.eventLoop = eventLoop;
    this.announce = announce;
    this.maxBytes = maxBytes;
    this.timeoutMillis = timeoutMillis;
  }

  void session(Session session) {
    this.session = session;
  }

  /** A room or topic asked for was refused: the poll answers with that error instead of events. */
  void refuse(List<ServiceException> refused) {
    if (!refused.isEmpty()) {
      error = refused.get(0);
    }
  }

  @Override
  public ConnectionCounts.Transport kind() {
    return ConnectionCounts.Transport.POLL;
  }

  @Override
  public EventLoop eventLoop() {
    return eventLoop;
  }

  @Override
  public void write(Frame frame, String cursor) {
    if (answered) {
      return;
    }
    if (!ready && error == null && Types.ERROR.equals(frame.type())) {
      // Refused before it opened (the authorization backend said no): the poll answers with it.
      JsonObject e = frame.payload();
      error = new ServiceException(ErrorCode.valueOf(e.getString("code", "internal").toUpperCase(java.util.Locale.ROOT)),
        e.getString("message", ""));
    }
    if (Types.CONNECTED.equals(frame.type()) && !announce) {
      connected = frame;
      return;
    }
    if (Types.RESYNC_REQUIRED.equals(frame.type()) && connected != null) {
      add(connected);
      connected = null;
    }
    add(frame);
    // Until the stream is open (replay included, bounded by the replay limit) everything is kept;
    // afterwards the cap closes the answer at once, so no later event is marked sent. A
    // reconnect is written by a close already under way, which answers.
    if (ready && !Types.RECONNECT.equals(frame.type())) {
      if (full()) {
        answer();
      } else {
        batch();
      }
    }
  }

  private void add(Frame frame) {
    events.add(frame.text());
    bytes += frame.size();
  }

  private boolean full() {
    return events.size() >= MAX_EVENTS || bytes >= maxBytes;
  }

  @Override
  public void opened() {
    ready = true;
    if (error != null || full()) {
      answer();
    } else if (!events.isEmpty()) {
      batch();
    }
  }

  private void batch() {
    if (batch == null) {
      batch = eventLoop.schedule(() -> session.closeFromAnyThread(CloseCode.NORMAL, "answered"), BATCH_MILLIS,
        TimeUnit.MILLISECONDS);
    }
  }

  /** Ends the poll: closes the session (releasing its routes), which answers in {@link #close}. */
  private void answer() {
    session.close(CloseCode.NORMAL, "answered");
  }

  @Override
  public void flush() {
  }

  @Override
  public boolean carriesCursor() {
    return false;
  }

  @Override
  public int pendingFrames() {
    return 0;
  }

  @Override
  public long pendingBytes() {
    return 0;
  }

  @Override
  public boolean writable() {
    return true;
  }

  @Override
  public void whenWritable(Runnable action) {
    action.run();
  }

  /** The poll's timeout, on the node's ticker. */
  @Override
  public long keepAliveMillis() {
    return timeoutMillis;
  }

  @Override
  public boolean keepAlive(long idleMillis) {
    answer();
    return true;
  }

  @Override
  public void close(CloseCode code, String reason) {
    if (answered) {
      return;
    }
    answered = true;
    if (batch != null) {
      batch.cancel(false);
    }
    HttpServerResponse response = ctx.response();
    if (response.closed() || response.ended()) {
      return;
    }
    if (error != null) {
      HttpErrors.send(ctx, error);
      return;
    }
    String cursor = session.cursor();
    if (cursor == null) {
      // The stream never opened: the client polls again with the cursor it has.
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
  public void tryAgain(long retryAfterMillis, Frame error) {
    if (answered) {
      return;
    }
    answered = true;
    if (batch != null) {
      batch.cancel(false);
    }
    HttpServerResponse response = ctx.response();
    if (response.closed() || response.ended()) {
      return;
    }
    response.putHeader("Retry-After", String.valueOf(Math.max(1, (retryAfterMillis + 999) / 1000)));
    HttpErrors.send(ctx, new ServiceException(ErrorCode.UNAVAILABLE, error.payload().getString("message")));
  }
}
