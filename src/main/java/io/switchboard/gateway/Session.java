package io.switchboard.gateway;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Cursor;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.stream.StreamVerticle;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * One client stream, whatever carries it (DESIGN §2, "the delivery core"): what it follows, the
 * position it has reached in each conversation and so its cursor, the limits of its outbound
 * queue, and its one close path. The {@link Transport} only writes; the {@link Route}s order and
 * fan out; this class deduplicates by position and holds the per-client rules.
 *
 * <p>Everything here runs on the session's {@link #loop}: the transport's event loop.
 */
public final class Session {

  private static final Logger LOG = LoggerFactory.getLogger(Session.class);

  /** Refused inbound frames or rate-limited commands in a row before the connection is closed. */
  static final int ABUSE_LIMIT = 50;
  /** Timeline items replayed when a stream opens, at most (a long-poll answer is smaller). */
  static final int NO_REPLAY_LIMIT = 0;

  final Gateway gateway;
  final Loop loop;
  private final Transport transport;
  private final String id = UUID.randomUUID().toString();
  private Principal principal;

  /** Loop bookkeeping: pending flush, and the place in the loop's ticker list. */
  boolean dirty;
  int loopIndex = -1;

  private enum State { NEW, OPENING, LIVE, CLOSED }

  private State state = State.NEW;
  private boolean counted;
  private boolean registered;

  /** What the session follows: conversation routes by conversation id, the others by address. */
  private final HashMap<String, Link> conversations = new HashMap<>(8);
  private final HashMap<String, Link> others = new HashMap<>(4);
  private Set<String> rooms;
  private Set<String> topics;
  private ArrayDeque<Frame> pending;

  private String sessionId;
  /** Conversation → last seq sent on this stream since the session began: the cursor's entries. */
  private LinkedHashMap<String, Long> streamed;
  private String cursorText;
  private int replayLimit = NO_REPLAY_LIMIT;
  /** What the authorization backend attached to this connection (SPEC §10), shown in {@code connected}. */
  private JsonObject info;

  private TokenBucket commandBucket;
  private int rateRefusals;
  private int refusals;
  private long lastHeard = System.currentTimeMillis();
  private long lastKeepAlive = lastHeard;
  private long expiresAtMs;

  /** One followed route: its group once attached, and for a conversation the position reached. */
  static final class Link {
    final Route route;
    Route.Group group;
    int groupIndex = -1;
    long position = -1;
    boolean attached;

    Link(Route route) {
      this.route = route;
    }
  }

  public Session(Gateway gateway, Transport transport, Principal principal) {
    this.gateway = gateway;
    this.transport = transport;
    this.principal = principal;
    this.loop = gateway.loop(transport.eventLoop());
  }

  // ---- identity ----

  public String userId() {
    return principal.userId();
  }

  /** This connection's id: the device a command came from. */
  public String id() {
    return id;
  }

  public Principal principal() {
    return principal;
  }

  public boolean isClosed() {
    return state == State.CLOSED;
  }

  /** Whether the stream is open (its {@code connected} sent) and delivering. */
  public boolean isLive() {
    return state == State.LIVE;
  }

  public String sessionId() {
    return sessionId;
  }

  /** At most this many timeline items are replayed when the stream opens (a long-poll answer). */
  public void replayLimit(int limit) {
    this.replayLimit = limit;
  }

  /** The cursor of everything sent so far (null before the stream opened). */
  public String cursor() {
    if (sessionId == null) {
      return null;
    }
    if (cursorText == null) {
      cursorText = Cursor.format(sessionId, streamed == null ? Map.of() : streamed);
    }
    return cursorText;
  }

  // ---- opening ----

  /**
   * Opens the stream (SPEC §7): waits for its turn in the node's admission queue, follows the
   * user's addresses, asks the stream service for what the cursor missed (or a snapshot), runs
   * {@code setup} (rooms and topics asked for at connect time, each granted or refused on its
   * own), then sends {@code connected}, the refusals as {@code error} events, the replay, and
   * goes live. A node that cannot open it says "try again" in the transport's own form.
   *
   * @param setup completes with the refusals to report after {@code connected}
   */
  public void open(String cursorText, JsonObject connectedExtras, Supplier<Future<List<ServiceException>>> setup) {
    if (state != State.NEW) {
      return;
    }
    state = State.OPENING;
    loop.add(this);
    if (!gateway.register(this)) {
      return;
    }
    registered = true;
    gateway.node().connections().opened(transport.kind());
    counted = true;
    gateway.admission().submit(this, () -> start(cursorText, connectedExtras, setup, true));
  }

  /**
   * {@code resume {cursor}} on an open connection (WebSocket, bridge): replays what the cursor
   * missed, then goes on live; the reply carries the new cursor.
   */
  public Future<Envelope> resume(String cursorText) {
    if (state != State.LIVE) {
      return Future.failedFuture(ServiceException.invalid("the stream is not open yet"));
    }
    for (String conv : new ArrayList<>(conversations.keySet())) {
      unfollowConversation(conv);
    }
    streamed = null;
    this.cursorText = null;
    state = State.OPENING;
    io.vertx.core.Promise<Envelope> reply = io.vertx.core.Promise.promise();
    gateway.admission().submit(this, () -> start(cursorText, null, () -> Future.succeededFuture(List.of()), false)
      .onComplete(ar -> {
        if (ar.succeeded()) {
          reply.complete(Envelope.of(Types.ACK, new JsonObject()
            .put("sessionId", sessionId).put("cursor", cursor()).put("replayed", ar.result())));
        } else {
          reply.fail(ar.cause());
        }
      }));
    return reply.future();
  }

  /** Completes with the number of items replayed. Releases its admission place when the reads are done. */
  private Future<Integer> start(String cursorText, JsonObject connectedExtras,
                                Supplier<Future<List<ServiceException>>> setup, boolean announce) {
    if (state == State.CLOSED) {
      gateway.admission().done();
      return Future.failedFuture(new ServiceException(ErrorCode.UNAVAILABLE, "closed"));
    }
    followOther(Addresses.user(userId()));
    followOther(Addresses.BROADCAST);
    JsonObject open = new JsonObject();
    if (cursorText != null) {
      open.put("cursor", cursorText);
    }
    if (announce) {
      // A new stream, not a resume on an open one: the stream service may put it to the
      // application's authorization backend (SPEC §10), which sees the token's claims.
      open.put("transport", transport.kind().name().toLowerCase(java.util.Locale.ROOT))
        .put("claims", principal.claims() == null ? new JsonObject() : principal.claims());
    }
    Future<JsonObject> started = gateway.commands().request(principal, StreamVerticle.OPEN, open)
      .compose(opened -> {
        JsonObject p = opened.payload();
        if (cursorText != null) {
          gateway.node().metrics().streamResumed(p.getBoolean("resync", false));
        }
        // Following is local (the node receives every address's events from its start): the
        // routes exist, and follow live, before the replay is read.
        for (Object conv : p.getJsonArray("conversations")) {
          followConversation((String) conv);
        }
        JsonObject proxied = p.getJsonObject("proxy");
        if (proxied != null) {
          // What the authorization backend attached: topics this stream follows, info for connected.
          List<String> extra = new ArrayList<>();
          proxied.getJsonArray("topics", new JsonArray()).forEach(t -> extra.add((String) t));
          int room = gateway.config().limits().topicsPerConnection() - topics().size();
          followTopics(extra.subList(0, Math.max(0, Math.min(room, extra.size()))));
          info = proxied.getJsonObject("info");
        }
        JsonObject start = p.copy();
        start.remove("conversations");
        start.remove("proxy");
        if (replayLimit > 0) {
          start.put("limit", replayLimit);
        }
        return gateway.commands().request(principal, StreamVerticle.START, start).map(Envelope::payload);
      });
    Future<List<ServiceException>> prepared = started.compose(s -> {
      try {
        return setup.get();
      } catch (RuntimeException e) {
        return Future.failedFuture(e);
      }
    });
    io.vertx.core.Promise<Integer> replayed = io.vertx.core.Promise.promise();
    prepared.onComplete(ar -> {
      gateway.admission().done();
      if (state == State.CLOSED) {
        replayed.tryFail("closed");
        return;
      }
      if (ar.failed()) {
        ServiceException e = ServiceException.from(ar.cause());
        replayed.fail(e);
        if (e.code() == ErrorCode.FORBIDDEN || e.code() == ErrorCode.UNAUTHORIZED) {
          // Refused (the authorization backend said no, the token was revoked): not a "try again".
          write(Frame.of(Envelope.error(e, null)));
          close(e.code() == ErrorCode.FORBIDDEN ? CloseCode.POLICY : CloseCode.UNAUTHORIZED, e.code().code());
          return;
        }
        // The client comes back with its cursor (a resume on an open socket too: its routes are gone).
        tryAgain(Admission.retryDelay(), "the stream could not be opened: " + e.getMessage());
        return;
      }
      began(started.result(), ar.result(), connectedExtras, announce, replayed);
    });
    return replayed.future();
  }

  private void began(JsonObject started, List<ServiceException> refusals, JsonObject connectedExtras,
                     boolean announce, io.vertx.core.Promise<Integer> replayed) {
    sessionId = started.getString("sessionId");
    JsonObject seed = started.getJsonObject("cursor");
    if (seed != null && !seed.isEmpty()) {
      streamed = new LinkedHashMap<>();
      seed.forEach(e -> streamed.put(e.getKey(), ((Number) e.getValue()).longValue()));
    }
    cursorText = null;
    JsonObject positions = started.getJsonObject("positions");
    Set<String> stale = new HashSet<>(conversations.keySet());
    positions.forEach(e -> {
      long seq = ((Number) e.getValue()).longValue();
      stale.remove(e.getKey());
      Link link = conversations.get(e.getKey());
      if (link == null) {
        followNew(e.getKey(), seq);
      } else {
        link.position = seq;
      }
    });
    stale.forEach(this::unfollowConversation);
    if (announce) {
      JsonObject connected = new JsonObject()
        .put("userId", userId())
        .put("sessionId", sessionId)
        .put("cursor", cursor())
        .put("node", gateway.node().nodeId())
        .put("heartbeatSeconds", gateway.config().sse().heartbeatSeconds());
      if (connectedExtras != null) {
        connected.mergeIn(connectedExtras);
      }
      if (info != null) {
        connected.put("info", info);
      }
      write(Frame.of(Envelope.of(Types.CONNECTED, connected)));
      scheduleExpiry();
    }
    if (started.getBoolean("resync", false)) {
      JsonObject resync = new JsonObject().put("reason", "the cursor cannot be resumed; reload history over REST");
      if (started.getBoolean("reset", false)) {
        // The database went back (a restored backup) or history was deleted: items the client
        // holds may no longer exist, and seqs it holds may name other items now.
        resync.put("reason", "the history this cursor was built on is gone (a restored database or deleted"
          + " history); reload history over REST, replacing what you hold").put("reset", true);
      }
      write(Frame.of(Envelope.of(Types.RESYNC_REQUIRED, resync)));
    }
    for (ServiceException refused : refusals) {
      write(Frame.of(Envelope.error(refused, null)));
    }
    JsonArray events = started.getJsonArray("events", new JsonArray());
    replay(events, 0, () -> {
      if (state == State.CLOSED) {
        replayed.tryFail("closed");
        return;
      }
      for (Link link : conversations.values()) {
        if (!link.attached && link.position >= 0 && link.group == null) {
          link.route.home.execute(() -> link.route.attach(this, link.position, true));
        }
      }
      state = State.LIVE;
      ArrayDeque<Frame> queued = pending;
      pending = null;
      while (queued != null && !queued.isEmpty() && state != State.CLOSED) {
        routeUserFrame(queued.poll());
      }
      transport.opened();
      replayed.tryComplete(events.size());
    });
  }

  /** Writes the replay, paced by the transport: a replay larger than the queue is not a slow consumer. */
  private void replay(JsonArray events, int from, Runnable done) {
    int i = from;
    while (i < events.size()) {
      if (state == State.CLOSED) {
        done.run();
        return;
      }
      if (!transport.writable()) {
        int next = i;
        flush();
        transport.whenWritable(() -> replay(events, next, done));
        return;
      }
      Frame frame = Frame.of(events.getJsonObject(i++));
      if (frame.durable()) {
        streamed(frame.conversationId(), frame.seq());
      }
      writeNow(frame);
      afterDelivered(frame);
    }
    done.run();
  }

  // ---- following ----

  private Link followConversation(String conv) {
    Link link = conversations.get(conv);
    if (link == null) {
      link = new Link(gateway.follow(this, Addresses.conversation(conv), conv));
      conversations.put(conv, link);
    }
    return link;
  }

  /** A user, broadcast or topic address: attached at once. */
  private void followOther(String address) {
    if (others.containsKey(address)) {
      return;
    }
    Link created = new Link(gateway.follow(this, address, null));
    others.put(address, created);
    created.route.home.execute(() -> created.route.attach(this, 0, true));
  }

  /** A conversation joined while connected: followed from {@code position}, checked once by its route. */
  private void followNew(String conv, long position) {
    if (state == State.CLOSED || conversations.containsKey(conv)) {
      return;
    }
    Link link = followConversation(conv);
    link.position = position;
    link.route.home.execute(() -> link.route.attach(this, position, false));
  }

  private void unfollowConversation(String conv) {
    Link link = conversations.remove(conv);
    if (link != null) {
      release(link);
    }
  }

  private void unfollowOther(String address) {
    Link link = others.remove(address);
    if (link != null) {
      release(link);
    }
  }

  private void release(Link link) {
    if (link.group != null) {
      Route.Group group = link.group;
      remove(group, link);
      link.group = null;
      group.route.home.execute(() -> group.route.detached(group));
    }
    gateway.unfollow(link.route);
  }

  /** On this loop: the route has added this session to {@code group}; {@code catchUp} is what it forwarded since. */
  void attached(Route route, Route.Group group, List<Frame> catchUp) {
    Link link = route.conversationId != null ? conversations.get(route.conversationId) : others.get(route.address);
    if (state == State.CLOSED || link == null || link.route != route || link.group != null) {
      // Gone meanwhile: give the place back.
      route.home.execute(() -> route.detached(group));
      return;
    }
    link.group = group;
    link.groupIndex = group.sessions.size();
    group.sessions.add(this);
    link.attached = true;
    for (Frame frame : catchUp) {
      fromRoute(route, frame);
    }
  }

  private void remove(Route.Group group, Link link) {
    ArrayList<Session> list = group.sessions;
    int i = link.groupIndex;
    if (i < 0 || i >= list.size() || list.get(i) != this) {
      list.remove(this);
      return;
    }
    Session last = list.remove(list.size() - 1);
    if (last != this) {
      list.set(i, last);
      Link moved = last.linkOf(group.route);
      if (moved != null) {
        moved.groupIndex = i;
      }
    }
    link.groupIndex = -1;
  }

  private Link linkOf(Route route) {
    return route.conversationId != null ? conversations.get(route.conversationId) : others.get(route.address);
  }

  // ---- delivery ----

  /** On this loop: an event of a route this session is attached to. */
  void fromRoute(Route route, Frame frame) {
    if (state == State.CLOSED) {
      return;
    }
    if (route.conversationId == null) {
      if (state != State.LIVE) {
        if (pending == null) {
          pending = new ArrayDeque<>();
        }
        if (pending.size() >= gateway.config().limits().queueEvents()) {
          close(CloseCode.SLOW_CONSUMER, "slow_consumer");
          return;
        }
        pending.add(frame);
        return;
      }
      routeUserFrame(frame);
      return;
    }
    Link link = conversations.get(route.conversationId);
    if (link == null || link.route != route) {
      return;
    }
    if (frame.durable()) {
      long seq = frame.seq();
      if (seq <= link.position) {
        return;
      }
      if (seq != link.position + 1) {
        // The route forwards in order from where this session attached: a gap here is a bug,
        // and the client's cursor repairs it.
        LOG.warn("gap on {} for a session at {}: got {}; the stream resumes", route.conversationId, link.position, seq);
        close(CloseCode.GOING_AWAY, "reconnect");
        return;
      }
      link.position = seq;
      streamed(route.conversationId, seq);
      write(frame);
      afterDelivered(frame);
      return;
    }
    if (id.equals(frame.except())) {
      return;
    }
    if (Types.TYPING_UPDATE.equals(frame.type()) && (rooms == null || !rooms.contains(route.conversationId))) {
      return;
    }
    write(frame);
  }

  /** Events of the user, broadcast and topic addresses. */
  private void routeUserFrame(Frame frame) {
    if (id.equals(frame.except())) {
      return;
    }
    String conv = frame.conversationId();
    String type = frame.type();
    if (Types.CONVERSATION_CREATED.equals(type)) {
      if (conv != null && !conversations.containsKey(conv)) {
        followNew(conv, frame.seq());
        // In the cursor, so that a resume does not announce the conversation a second time.
        streamed(conv, frame.seq());
        write(frame);
      }
      return;
    }
    if (Types.MEMBER_JOINED.equals(type) && userId().equals(frame.userId()) && conv != null && !conversations.containsKey(conv)) {
      followNew(conv, frame.seq());
      streamed(conv, frame.seq());
      write(frame);
      return;
    }
    if (Types.STREAMS_SUBSCRIBE.equals(type) || Types.STREAMS_UNSUBSCRIBE.equals(type)) {
      applyStreamTopics(type, frame.payload());
      return;
    }
    if (frame.durable()) {
      // A timeline event of one of the user's conversations: its conversation route has it, in order.
      return;
    }
    if (conv != null && !conversations.containsKey(conv)) {
      return;
    }
    write(frame);
  }

  /** Presence and other node-level fan-outs: delivered once, live streams only. */
  void deliverOnce(Frame frame) {
    if (state == State.LIVE) {
      write(frame);
    }
  }

  private void streamed(String conv, long seq) {
    if (streamed == null) {
      streamed = new LinkedHashMap<>();
    }
    streamed.put(conv, seq);
    cursorText = null;
  }

  /** A user who left stops receiving the conversation at once, right after their own leave. */
  private void afterDelivered(Frame frame) {
    if (Types.MEMBER_LEFT.equals(frame.type()) && userId().equals(frame.payload().getString("userId"))) {
      String conv = frame.conversationId();
      if (rooms != null) {
        rooms.remove(conv);
      }
      unfollowConversation(conv);
    }
  }

  // ---- writing ----

  /** Writes one frame, with the outbound-queue limits: a client that cannot keep up is cut. */
  void write(Frame frame) {
    if (state == State.CLOSED) {
      return;
    }
    var limits = gateway.config().limits();
    if (transport.pendingFrames() >= limits.queueEvents() || transport.pendingBytes() >= limits.queueBytes()) {
      close(CloseCode.SLOW_CONSUMER, "slow_consumer");
      return;
    }
    writeNow(frame);
  }

  private void writeNow(Frame frame) {
    String cursor = transport.carriesCursor() && (frame.durable() || Types.CONNECTED.equals(frame.type())) ? cursor() : null;
    transport.write(frame, cursor);
    loop.markDirty(this);
    loop.countDelivered(transport.kind());
  }

  /**
   * For a transport's own frames (bridge replies and refusals): true when the outbound queue has
   * room; false after cutting a client that cannot keep up.
   */
  public boolean admitWrite() {
    if (state == State.CLOSED) {
      return false;
    }
    var limits = gateway.config().limits();
    if (transport.pendingFrames() >= limits.queueEvents() || transport.pendingBytes() >= limits.queueBytes()) {
      close(CloseCode.SLOW_CONSUMER, "slow_consumer");
      return false;
    }
    loop.markDirty(this);
    return true;
  }

  /** Sends an envelope to this connection only (replies, errors, pongs). */
  public void reply(Envelope envelope) {
    if (state != State.CLOSED) {
      write(Frame.of(envelope));
    }
  }

  void flush() {
    transport.flush();
  }

  // ---- closing ----

  /** The one close path: releases routes, the user's slot and the ticker, then ends the transport. */
  public void close(CloseCode code, String reason) {
    if (state == State.CLOSED) {
      return;
    }
    if (code == CloseCode.RESTART) {
      writeNow(Frame.of(Envelope.of(Types.RECONNECT, new JsonObject().put("reason", reason))));
      transport.flush();
    }
    if (code == CloseCode.SLOW_CONSUMER) {
      gateway.node().metrics().slowConsumerCut(transport.kind());
    }
    released();
    try {
      transport.close(code, reason);
    } catch (RuntimeException e) {
      LOG.debug("closing an already closed {} connection", transport.kind(), e);
    }
  }

  /**
   * The admin API ended this connection (a disconnect, a revoked token): {@code disconnect
   * {reason, reconnect:false}}, then close 4401. Any thread.
   */
  public void disconnect(String reason) {
    loop.execute(() -> {
      if (state == State.CLOSED) {
        return;
      }
      write(Frame.of(Envelope.of(Types.DISCONNECT, new JsonObject().put("reason", reason).put("reconnect", false))));
      close(CloseCode.UNAUTHORIZED, reason);
    });
  }

  /** The stream cannot open now: the client is told to come back after {@code retryAfterMillis}. */
  void tryAgain(long retryAfterMillis, String message) {
    if (state == State.CLOSED) {
      return;
    }
    released();
    JsonObject payload = new ServiceException(ErrorCode.UNAVAILABLE, message).toJson().put("retryAfterMs", retryAfterMillis);
    transport.tryAgain(retryAfterMillis, Frame.of(new Envelope(Types.ERROR, payload, null, Envelope.now())));
  }

  /** The peer went away: release everything, nothing to send. */
  public void peerClosed() {
    if (state != State.CLOSED) {
      released();
    }
  }

  /** Closes this session from any thread. */
  public void closeFromAnyThread(CloseCode code, String reason) {
    loop.execute(() -> close(code, reason));
  }

  private void released() {
    state = State.CLOSED;
    for (Link link : conversations.values()) {
      release(link);
    }
    conversations.clear();
    for (Link link : others.values()) {
      release(link);
    }
    others.clear();
    pending = null;
    if (registered) {
      registered = false;
      gateway.unregister(this);
    }
    if (counted) {
      counted = false;
      gateway.node().connections().closed(transport.kind());
    }
    loop.remove(this);
  }

  // ---- the ticker ----

  /** Inbound activity: the peer is alive. */
  public void heard() {
    lastHeard = System.currentTimeMillis();
  }

  void tick(long now) {
    if (state == State.CLOSED) {
      return;
    }
    if (expiresAtMs > 0 && now >= expiresAtMs) {
      expiresAtMs = 0;
      reply(Envelope.of(Types.TOKEN_EXPIRED, new JsonObject().put("message", "the token expired; refresh it")));
      close(CloseCode.UNAUTHORIZED, "token_expired");
      return;
    }
    long every = transport.keepAliveMillis();
    if (every > 0 && now - lastKeepAlive >= every) {
      lastKeepAlive = now;
      if (!transport.keepAlive(now - lastHeard)) {
        close(CloseCode.GOING_AWAY, "idle timeout");
      } else {
        loop.markDirty(this);
      }
    }
  }

  // ---- commands (WebSocket and bridges) ----

  /**
   * Runs one client command and answers with exactly one envelope carrying its requestId (the
   * node's one dispatcher for every transport that takes commands).
   */
  public Future<Envelope> command(Envelope env) {
    heard();
    return gateway.dispatcher().run(this, env);
  }

  /** Counts a command against the connection's rate; 0 when allowed, else seconds to wait. */
  long takeCommandToken() {
    if (commandBucket == null) {
      var limits = gateway.config().limits();
      commandBucket = new TokenBucket(limits.commandsPerSecond(), limits.commandBurst());
    }
    long wait = commandBucket.take();
    if (wait > 0) {
      if (++rateRefusals >= ABUSE_LIMIT) {
        close(CloseCode.RATE_LIMITED, "rate_limited");
      }
    } else {
      rateRefusals = 0;
    }
    return wait;
  }

  /** An inbound frame was refused (malformed, not allowed); too many in a row close the connection. */
  public void refused() {
    if (++refusals >= ABUSE_LIMIT) {
      close(CloseCode.POLICY, "abuse");
    }
  }

  /** An inbound frame was accepted: the refusal streak ends. */
  public void accepted() {
    refusals = 0;
  }

  /** Rooms: typing events of a conversation reach only sessions that joined its room. */
  void joinedRoom(String conv) {
    if (rooms == null) {
      rooms = new HashSet<>(4);
    }
    rooms.add(conv);
  }

  void leftRoom(String conv) {
    if (rooms != null) {
      rooms.remove(conv);
    }
  }

  /** The topics this session follows. */
  Set<String> topics() {
    return topics == null ? Set.of() : topics;
  }

  /** Follows topic routes (live at once). */
  Future<Void> followTopics(List<String> names) {
    for (String t : names) {
      if (topics == null) {
        topics = new HashSet<>(4);
      }
      if (topics.add(t)) {
        followOther(Addresses.topic(t));
      }
    }
    return Future.succeededFuture();
  }

  void unfollowTopics(List<String> names) {
    for (String t : names) {
      if (topics != null && topics.remove(t)) {
        unfollowOther(Addresses.topic(t));
      }
    }
  }

  /** A REST subscription (already authorised) reaching this stream through the user's address. */
  private void applyStreamTopics(String type, JsonObject payload) {
    JsonArray names = payload.getJsonArray("topics", new JsonArray());
    int max = gateway.config().limits().topicsPerConnection();
    for (Object o : names) {
      String t = (String) o;
      if (Types.STREAMS_SUBSCRIBE.equals(type)) {
        if (topics().size() < max) {
          followTopics(List.of(t));
        }
      } else {
        unfollowTopics(List.of(t));
      }
    }
  }

  // ---- token expiry ----

  /** Replaces the principal after a token refresh (same user only) and re-arms the expiry. */
  public void refresh(Principal fresh) {
    if (!fresh.userId().equals(userId())) {
      throw ServiceException.forbidden("a refreshed token must be for the same user");
    }
    principal = fresh;
    scheduleExpiry();
  }

  private void scheduleExpiry() {
    long exp = principal.expiresAt();
    expiresAtMs = exp <= 0 ? 0 : Math.max(1, exp * 1000);
  }

  /** Transport counts and kind (stats). */
  ConnectionCounts.Transport kind() {
    return transport.kind();
  }
}
