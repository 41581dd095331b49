package io.switchboard.bridge;

import io.netty.channel.EventLoop;
import io.switchboard.auth.Principal;
import io.switchboard.bridge.BridgeFrames.Dialect;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.CloseCode;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Handshakes;
import io.switchboard.gateway.Session;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.topic.TopicVerticle;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;

/**
 * The bridge protocol of one socket (SPEC §7, "Event-bus bridge"), whatever carries it: SockJS
 * or TCP. It only translates frames; commands and the stream are the socket's {@link Session}'s
 * (the one dispatcher, the one outbound queue and its limits), written through a
 * {@link BridgeTransport}.
 *
 * <p>Security: deny by default. The one inbound message is a {@code send} to {@code sb.cmd} whose
 * body is an envelope, and the one registration is the caller's own {@code sb.user.<id>}; every
 * other frame is refused with an {@code err} frame and never reaches the event bus. Unlike
 * vertx-web's bridge, no client frame ever becomes an event-bus consumer or message of its own:
 * the user's events come through the node's one consumer per address, and commands are sent by
 * the server on the client's behalf with the principal of a verified credential, checked on
 * every {@code send} and {@code register} (a session is bound to the first user it sees).
 *
 * <p>Frames are handled one at a time in arrival order (a token check may be asynchronous), so
 * a register and the sends after it are seen in the order the client wrote them.
 */
final class BridgeSession {

  private static final Logger LOG = LoggerFactory.getLogger(BridgeSession.class);

  /** Refused frames in a row before a socket without a session yet is closed. */
  static final int ABUSE_LIMIT = 50;
  /** Frames waiting for their turn before the socket stops being read. */
  static final int INBOX_HIGH = 64;
  static final int MAX_REPLY_ADDRESS = 128;
  static final int MAX_CURSOR = 200_000;
  /** How long a closing err frame may take to leave before the socket is closed anyway. */
  static final long CLOSE_GRACE_MS = 1000;
  /** The principal of a backend's publish, as for {@code POST /api/publish}. */

  private static final Future<Void> DONE = Future.succeededFuture();
  /** The failureType of the err frame that closes a socket that did not authenticate in time. */
  static final String AUTH_TIMEOUT = "auth_timeout";

  /** Who sent a frame: a user (JWT), or a backend (API key with the publish scope) when {@code user} is null. */
  private record Caller(Principal user) {
    boolean backend() {
      return user == null;
    }
  }

  private final Gateway gateway;
  private final BridgeSocket socket;
  private final Context context;
  private final Vertx vertx;
  private final Dialect dialect;
  private final SwitchboardConfig.Limits limits;
  private final BridgeTransport transport;
  private final Deque<JsonObject> inbox = new ArrayDeque<>();
  private long idleTimer = -1;
  private long lastHeard = System.nanoTime();
  private boolean busy;
  private boolean paused;
  private boolean closed;
  private String closingMessage;
  private int refusals;
  private String knownToken;
  private Principal knownPrincipal;
  private Session session;
  private String boundUser;
  private boolean registered;
  /** The socket's place among the node's unauthenticated connections, until its first valid credential. */
  private final Handshakes.Ticket ticket;

  /**
   * {@code ticket}: the socket's place in {@link Handshakes}, released here on the first frame
   * with a valid credential or on close; if none comes within {@code limits.handshakeSeconds},
   * the socket is closed (an err frame {@code 4401 auth_timeout}, then close).
   */
  BridgeSession(Gateway gateway, BridgeSocket socket, Context context, Dialect dialect, Handshakes.Ticket ticket) {
    this.gateway = gateway;
    this.socket = socket;
    this.context = context;
    this.vertx = gateway.vertx();
    this.dialect = dialect;
    this.limits = gateway.config().limits();
    EventLoop loop = ((io.vertx.core.internal.ContextInternal) context).nettyEventLoop();
    this.transport = new BridgeTransport(this, socket, dialect, loop);
    this.ticket = ticket;
    ticket.expireOn(loop, () -> onLoop(() -> close(CloseCode.UNAUTHORIZED, AUTH_TIMEOUT, "authentication timeout: no frame "
      + "with a valid token or API key within " + gateway.config().limits().handshakeSeconds() + " s")));
    long idleMs = socket.idleTimeoutMs();
    long idleNanos = idleMs * 1_000_000L;
    // Until the socket has a session (whose ticker then watches it), its own idle check.
    this.idleTimer = idleMs <= 0 ? -1 : vertx.setPeriodic(Math.max(1000, idleMs / 4), id -> {
      if (session == null && System.nanoTime() - lastHeard > idleNanos) {
        close(CloseCode.GOING_AWAY, "idle_timeout", "no frame for " + idleMs / 1000 + " s (clients ping every few seconds)");
      }
    });
  }

  /** Runs {@code action} on the socket's context. */
  void onLoop(Runnable action) {
    context.runOnContext(v -> action.run());
  }

  // ---- inbound ----

  /** One frame from the client, as the transport delivered it. */
  void receive(Buffer data) {
    if (closed) {
      return;
    }
    lastHeard = System.nanoTime();
    if (session != null) {
      session.heard();
    }
    if (data.length() > limits.frameBytes()) {
      tooLarge(data.length());
      return;
    }
    JsonObject frame;
    try {
      // Parsed as text: Jackson's byte parser refuses an escaped lone surrogate in a field name as
      // invalid UTF-8, which would leave the frame unanswered at its replyAddress; as text it
      // parses, and the text rule then refuses it with an answer where the client waits for one.
      frame = new JsonObject(data.toString(StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      refuse(BridgeFrames.INVALID_JSON, "malformed JSON: a frame must be a JSON object", null);
      return;
    }
    inbox.add(frame);
    if (inbox.size() >= INBOX_HIGH && !paused) {
      paused = true;
      socket.pause();
    }
    drain();
  }

  /**
   * A frame over {@code limits.frameBytes} ({@code bytes} when known, else -1): refused, and the
   * socket closed, as its framing may be lost.
   */
  void tooLarge(long bytes) {
    close(CloseCode.TOO_LARGE, BridgeFrames.TOO_LARGE, (bytes < 0 ? "a frame" : "a frame of " + bytes + " bytes")
      + " is over the limit of " + limits.frameBytes() + " bytes");
  }

  private void drain() {
    while (!busy && !closed && !inbox.isEmpty()) {
      Future<Void> done = handle(inbox.poll());
      if (!done.isComplete()) {
        busy = true;
        done.onComplete(ar -> {
          busy = false;
          drain();
        });
      }
    }
    if (paused && !closed && inbox.isEmpty()) {
      paused = false;
      socket.resume();
    }
  }

  private Future<Void> handle(JsonObject frame) {
    try {
      return dispatch(frame);
    } catch (RuntimeException e) {
      LOG.error("bridge frame handling failed", e);
      refuse("internal", "internal error", null);
      return DONE;
    }
  }

  private Future<Void> dispatch(JsonObject frame) {
    if (!(frame.getValue("type") instanceof String type)) {
      return refused(BridgeFrames.MISSING_TYPE, "'type' must be a string", null);
    }
    if ("ping".equals(type)) {
      if (dialect.answersPing) {
        writeFrame(BridgeFrames.PONG);
      }
      return DONE;
    }
    if (!(frame.getValue("address") instanceof String address) || address.isEmpty()) {
      return refused(BridgeFrames.MISSING_ADDRESS, "'address' must be a non-empty string", null);
    }
    return switch (type) {
      case "send" -> send(address, frame);
      case "register" -> register(address, frame);
      case "unregister" -> unregister(address);
      case "publish" -> refused(BridgeFrames.ACCESS_DENIED,
        "publish is not allowed; send commands to '" + Addresses.BRIDGE_COMMANDS + "'", null);
      default -> refused(BridgeFrames.INVALID_TYPE, "unknown frame type '" + shorten(type) + "'", null);
    };
  }

  // ---- send: commands on sb.cmd ----

  private Future<Void> send(String address, JsonObject frame) {
    Object reply = frame.getValue("replyAddress");
    if (reply != null && (!(reply instanceof String r) || r.isEmpty() || r.length() > MAX_REPLY_ADDRESS)) {
      return refused(BridgeFrames.INVALID_REPLY_ADDRESS,
        "'replyAddress' must be a string of 1-" + MAX_REPLY_ADDRESS + " characters", null);
    }
    String replyAddress = (String) reply;
    if (!Addresses.BRIDGE_COMMANDS.equals(address)) {
      return refused(BridgeFrames.ACCESS_DENIED,
        "only '" + Addresses.BRIDGE_COMMANDS + "' accepts messages, not '" + shorten(address) + "'", replyAddress);
    }
    return caller(frame, replyAddress).map(caller -> {
      if (caller != null) {
        run(caller, frame.getValue("body"), replyAddress);
      }
      return null;
    });
  }

  private void run(Caller caller, Object body, String replyAddress) {
    Envelope env;
    try {
      if (!(body instanceof JsonObject json)) {
        throw ServiceException.invalid("the body of a send to '" + Addresses.BRIDGE_COMMANDS
          + "' must be an envelope object {type, payload, requestId}");
      }
      env = Envelope.fromJson(json);
    } catch (ServiceException e) {
      answer(replyAddress, null, e, requestIdOf(body));
      return;
    }
    Future<Envelope> result;
    if (caller.backend()) {
      result = backendCommand(env);
    } else {
      Session conn = sessionFor(caller.user(), replyAddress);
      if (conn == null) {
        return;
      }
      result = userCommand(conn, env);
    }
    accepted();
    result.onComplete(ar -> answer(replyAddress, ar.succeeded() ? ar.result() : null,
      ar.succeeded() ? null : ServiceException.from(ar.cause()), env.requestId()));
  }

  private Future<Envelope> userCommand(Session conn, Envelope env) {
    try {
      if (Types.RESUME.equals(env.type())) {
        if (!registered) {
          throw ServiceException.invalid("register on your address first (its headers may carry the cursor)");
        }
        return conn.resume(Fields.requiredString(env.payload(), "cursor", MAX_CURSOR));
      }
      return conn.command(env);
    } catch (ServiceException e) {
      return Future.failedFuture(e);
    }
  }

  /** An API key may only push events: the topic service's {@code publish}, as {@code POST /api/publish}. */
  private Future<Envelope> backendCommand(Envelope env) {
    if (!TopicVerticle.PUBLISH.equals(env.type())) {
      return Future.failedFuture(ServiceException.forbidden(
        "an API key may only send '" + TopicVerticle.PUBLISH + "' envelopes; users send commands with a token"));
    }
    return gateway.commands().request(Principal.BACKEND, TopicVerticle.PUBLISH, env.payload());
  }

  /** The reply envelope to {@code replyAddress}; without one, only a failure is told, as an err frame. */
  private void answer(String replyAddress, Envelope ok, ServiceException failure, String requestId) {
    if (closed) {
      return;
    }
    Envelope out = failure == null ? ok.withRequestId(requestId) : Envelope.error(failure, requestId);
    if (replyAddress == null && failure == null) {
      return;
    }
    if (replyAddress != null) {
      writeFrame(BridgeFrames.message(dialect, BridgeFrames.quote(replyAddress), null, out.toJson().encode(), true));
    } else if (failure != null) {
      writeFrame(BridgeFrames.err(failure.code().status(), failure.code().code(), failure.getMessage(), null));
    }
  }

  private static String requestIdOf(Object body) {
    if (body instanceof JsonObject json && json.getValue("requestId") instanceof String id && id.length() <= 128) {
      return id;
    }
    return null;
  }

  // ---- register / unregister: the user's own address ----

  private Future<Void> register(String address, JsonObject frame) {
    if (!address.startsWith(Addresses.USER_PREFIX)) {
      return refused(BridgeFrames.ACCESS_DENIED, "you may only register on your own address '"
        + Addresses.USER_PREFIX + "<your user id>'", address);
    }
    return caller(frame, address).map(caller -> {
      if (caller == null) {
        return null;
      }
      if (caller.backend()) {
        refuse(BridgeFrames.ACCESS_DENIED, "an API key has no address to register on; use a user's token", address);
        return null;
      }
      if (!Addresses.user(caller.user().userId()).equals(address)) {
        refuse(BridgeFrames.ACCESS_DENIED, "you may only register on your own address '"
          + Addresses.user(caller.user().userId()) + "'", address);
        return null;
      }
      Session conn = sessionFor(caller.user(), address);
      if (conn == null) {
        return null;
      }
      accepted();
      if (!registered) {
        registered = true;
        conn.open(header(frame, "cursor", MAX_CURSOR), null, () -> Future.succeededFuture(java.util.List.of()));
      }
      return null;
    });
  }

  private Future<Void> unregister(String address) {
    if (registered && session != null && address.equals(Addresses.user(session.userId()))) {
      // The stream ends, the socket stays open for commands (with a new session).
      Session conn = session;
      session = null;
      registered = false;
      transport.detaching(true);
      conn.close(CloseCode.NORMAL, "unregistered");
      transport.detaching(false);
      return DONE;
    }
    if (knownPrincipal != null && address.equals(Addresses.user(knownPrincipal.userId()))) {
      return DONE;
    }
    return refused(BridgeFrames.ACCESS_DENIED, "not registered on '" + shorten(address) + "'", address);
  }

  /**
   * The socket's session, created on the first authenticated frame. A socket is bound to one
   * user: a frame with another user's token is refused. A new token of the same user refreshes
   * the session's principal (and so its expiry).
   */
  private Session sessionFor(Principal user, String errAddress) {
    if (session == null) {
      if (boundUser != null && !boundUser.equals(user.userId())) {
        refuse(BridgeFrames.ACCESS_DENIED, "this bridge session belongs to another user", errAddress);
        return null;
      }
      boundUser = user.userId();
      transport.user(user.userId());
      session = new Session(gateway, transport, user);
      return session;
    }
    if (!session.userId().equals(user.userId())) {
      refuse(BridgeFrames.ACCESS_DENIED, "this bridge session belongs to another user", errAddress);
      return null;
    }
    if (session.principal() != user) {
      session.refresh(user);
    }
    return session;
  }

  // ---- credentials ----

  /**
   * The frame's caller: a JWT from {@code headers.token} (else the URL's {@code token}), or an
   * API key from {@code headers.apiKey} (else the URL's {@code apiKey}). Completes with null
   * after refusing the frame when there is no valid credential.
   */
  private Future<Caller> caller(JsonObject frame, String errAddress) {
    String token = header(frame, "token", 8192);
    if (token == null) {
      token = socket.queryParam("token");
    }
    if (token != null) {
      return principal(token).transform(ar -> {
        if (ar.succeeded()) {
          ticket.release();
          return Future.succeededFuture(new Caller(ar.result()));
        }
        refuse(BridgeFrames.UNAUTHORIZED, ServiceException.from(ar.cause()).getMessage(), errAddress);
        return Future.succeededFuture(null);
      });
    }
    String apiKey = header(frame, "apiKey", 1024);
    if (apiKey == null) {
      apiKey = socket.queryParam("apiKey");
    }
    if (apiKey != null) {
      Optional<SwitchboardConfig.ApiKey> key = gateway.node().authenticator().apiKey(apiKey);
      if (key.isEmpty()) {
        refuse(BridgeFrames.UNAUTHORIZED, "invalid API key", errAddress);
        return Future.succeededFuture(null);
      }
      if (!key.get().scopes().contains(TopicVerticle.PUBLISH)) {
        refuse(BridgeFrames.ACCESS_DENIED, "this API key has no 'publish' scope", errAddress);
        return Future.succeededFuture(null);
      }
      ticket.release();
      return Future.succeededFuture(new Caller(null));
    }
    refuse(BridgeFrames.UNAUTHORIZED,
      "no credentials: put the JWT in the frame headers {\"token\": ...} or the URL's token parameter", errAddress);
    return Future.succeededFuture(null);
  }

  /** Verifies a token, remembering the last one verified (a client sends the same token on every frame). */
  private Future<Principal> principal(String token) {
    if (token.equals(knownToken) && !expired(knownPrincipal)) {
      return Future.succeededFuture(knownPrincipal);
    }
    return onContext(gateway.node().authenticator().authenticate(token)).map(p -> {
      knownToken = token;
      knownPrincipal = p;
      return p;
    });
  }

  private static boolean expired(Principal p) {
    return p.expiresAt() > 0 && p.expiresAt() * 1000 <= System.currentTimeMillis();
  }

  private static String header(JsonObject frame, String name, int maxLength) {
    if (frame.getValue("headers") instanceof JsonObject headers
      && headers.getValue(name) instanceof String s && !s.isBlank() && s.length() <= maxLength) {
      return s;
    }
    return null;
  }

  // ---- outbound ----

  /**
   * Replies and err frames, in the socket's one outbound queue: SockJS's own queue has no
   * bound, so a client that sends but never reads is cut here.
   */
  private void writeFrame(String frame) {
    if (closed) {
      return;
    }
    if (session != null) {
      if (!session.admitWrite()) {
        return;
      }
    } else if (transport.pendingFrames() >= limits.queueEvents() || transport.pendingBytes() >= limits.queueBytes()) {
      close(CloseCode.SLOW_CONSUMER, "slow_consumer", "slow_consumer");
      return;
    }
    transport.writeFrame(frame);
  }

  private Future<Void> refused(String code, String message, String address) {
    refuse(code, message, address);
    return DONE;
  }

  /** Refuses a frame with an err frame; a client that keeps sending refused frames is closed. */
  private void refuse(String code, String message, String address) {
    writeFrame(BridgeFrames.err(BridgeFrames.REFUSED, code, message, address));
    if (session != null) {
      closingMessage = "too many refused frames in a row";
      session.refused();
    } else if (++refusals >= ABUSE_LIMIT) {
      close(CloseCode.POLICY, "abuse", "too many refused frames in a row");
    }
  }

  private void accepted() {
    refusals = 0;
    if (session != null) {
      session.accepted();
    }
  }

  // ---- closing ----

  /** Closes the socket: through its session when it has one, so that it is released. */
  void close(CloseCode code, String reason, String message) {
    if (closed) {
      return;
    }
    closingMessage = message;
    if (session != null && !session.isClosed()) {
      session.close(code, reason);
    } else {
      shutdown(code, reason);
    }
  }

  /**
   * Closes the socket, telling the client why in a last err frame (whose failureCode is the
   * close code, as on the WebSocket transport). A slow consumer is cut at once: its queue is full.
   */
  void shutdown(CloseCode code, String reason) {
    if (closed) {
      return;
    }
    closed = true;
    stopTimers();
    inbox.clear();
    if (code == CloseCode.SLOW_CONSUMER) {
      socket.close(code.code(), reason);
      return;
    }
    Future<Void> last = socket.write(BridgeFrames.err(code.code(), reason, closingMessage != null ? closingMessage : reason, null));
    long timer = vertx.setTimer(CLOSE_GRACE_MS, id -> socket.close(code.code(), reason));
    last.onComplete(ar -> {
      if (vertx.cancelTimer(timer)) {
        socket.close(code.code(), reason);
      }
    });
  }

  /** The client went away: release the session, nothing to send. */
  void peerClosed() {
    if (closed) {
      return;
    }
    closed = true;
    stopTimers();
    inbox.clear();
    if (session != null) {
      session.peerClosed();
    }
  }

  private void stopTimers() {
    ticket.release();
    if (idleTimer >= 0) {
      vertx.cancelTimer(idleTimer);
    }
  }

  /** Continues on the session's context whatever thread completes {@code f}. */
  private <T> Future<T> onContext(Future<T> f) {
    if (f.isComplete()) {
      return f;
    }
    Promise<T> promise = Promise.promise();
    f.onComplete(ar -> context.runOnContext(v -> promise.handle(ar)));
    return promise.future();
  }

  private static String shorten(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "…";
  }
}
