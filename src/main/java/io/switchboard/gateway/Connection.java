package io.switchboard.gateway;

import io.switchboard.auth.Principal;
import io.switchboard.http.ConnectionCounts;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Cursor;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Timeline;
import io.switchboard.protocol.Types;
import io.switchboard.stream.StreamVerticle;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
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
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * One client stream, whatever its transport: what it follows, what it has been sent, and its
 * outbound queue. Everything here runs on the connection's own context; events from the node's
 * consumers are handed over with {@link #offer}.
 *
 * <p>Ordering: per conversation, timeline events go out in seq order exactly once. An event
 * whose seq is not the next one is held; if the missing ones do not arrive shortly (publishes
 * from different nodes can overtake each other, and a node can die between commit and publish),
 * they are read from PostgreSQL first.
 */
public abstract class Connection {

  private static final Logger LOG = LoggerFactory.getLogger(Connection.class);

  public static final int CLOSE_NORMAL = 1000;
  public static final int CLOSE_GOING_AWAY = 1001;
  public static final int CLOSE_POLICY = 1008;
  public static final int CLOSE_TOO_LARGE = 1009;
  public static final int CLOSE_RESTART = 1012;
  public static final int CLOSE_UNAUTHORIZED = 4401;
  public static final int CLOSE_SLOW_CONSUMER = 4408;
  public static final int CLOSE_RATE_LIMITED = 4429;

  /** How long a gap may wait for the missing events to arrive live before they are read. */
  static final long GAP_WAIT_MS = 150;
  static final int FILL_PAGE = 200;
  /** Rate-limited commands in a row before the connection is closed. */
  static final int ABUSE_LIMIT = 50;

  protected final Gateway gateway;
  protected final Context context;
  private final String id = java.util.UUID.randomUUID().toString();
  protected final Vertx vertx;
  private final ConnectionCounts.Transport transport;
  protected Principal principal;

  private final Set<String> followed = new HashSet<>();
  private final Map<String, Long> positions = new HashMap<>();
  private final Map<String, Long> streamed = new LinkedHashMap<>();
  private final Map<String, TreeMap<Long, Event>> held = new HashMap<>();
  private final Set<String> filling = new HashSet<>();
  private final Set<String> rooms = new HashSet<>();
  private final Set<String> topics = new HashSet<>();
  private final ArrayDeque<Event> pending = new ArrayDeque<>();
  private final TokenBucket commandBucket;
  private String sessionId;
  private boolean started;
  private boolean live;
  private boolean closed;
  private int queuedEvents;
  private long queuedBytes;
  private int abuse;
  private long expiryTimer = -1;

  protected Connection(Gateway gateway, Context context, ConnectionCounts.Transport transport, Principal principal) {
    this.gateway = gateway;
    this.context = context;
    this.vertx = gateway.vertx();
    this.transport = transport;
    this.principal = principal;
    var limits = gateway.config().limits();
    this.commandBucket = new TokenBucket(limits.commandsPerSecond(), limits.commandBurst());
  }

  // ---- transport hooks ----

  /** Writes an event; the future completes when it has left the process (queue accounting). */
  protected abstract Future<Void> write(Event event, String cursor);

  /** Whether {@link #write} puts the per-event cursor on the wire (SSE {@code id:}, bridge header). */
  protected boolean writesCursor() {
    return true;
  }

  /** Closes the underlying socket or response with a code and reason. */
  protected abstract void terminate(int code, String reason);

  /**
   * At most this many timeline items are replayed when the stream opens (0: all, up to the
   * resync limit); the session then starts right after the last one replayed.
   */
  protected int replayLimit() {
    return 0;
  }

  // ---- lifecycle ----

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
    return closed;
  }

  public String sessionId() {
    return sessionId;
  }

  /** The cursor of everything sent so far. */
  public String cursor() {
    return sessionId == null ? null : Cursor.format(sessionId, streamed);
  }

  /**
   * Opens the stream: follows the user's addresses, then replays what the cursor missed (or
   * snapshots now), sends {@code connected} first and goes live. Live events that arrive
   * meanwhile wait in {@code pending} and are deduplicated against the replay.
   */
  public Future<Void> start(String cursorText, JsonObject connectedExtras) {
    return start(cursorText, connectedExtras, Future::succeededFuture);
  }

  /**
   * Like {@link #start(String, JsonObject)}, with a {@code setup} (rooms and topics asked for at
   * connect time) that completes <em>before</em> {@code connected} is sent: a client that has seen
   * {@code connected} gets every event of them. If the setup fails the stream still opens, and the
   * failure follows {@code connected} as an {@code error} event.
   */
  public Future<Void> start(String cursorText, JsonObject connectedExtras, Supplier<Future<Void>> setup) {
    started = true;
    gateway.register(this);
    gateway.node().connections().opened(transport);
    Future<Void> prepared;
    try {
      prepared = setup.get();
    } catch (RuntimeException e) {
      prepared = Future.failedFuture(e);
    }
    return prepared
      .transform(set -> open(cursorText, connectedExtras, true).map(replayed -> {
        if (set.failed()) {
          reply(Envelope.error(ServiceException.from(set.cause()), null));
        }
        // Armed once connected is out: a token about to expire gets token_expired after it,
        // never as the first event of the stream.
        if (!closed) {
          scheduleExpiry();
        }
        return (Void) null;
      }))
      .onFailure(t -> close(CLOSE_GOING_AWAY, "cannot open the stream: " + ServiceException.from(t).getMessage()));
  }

  /**
   * {@code resume {cursor}} on an open connection: replays what the cursor missed, then goes on
   * live; the reply carries the new cursor.
   */
  public Future<Envelope> resume(String cursorText) {
    live = false;
    positions.clear();
    streamed.clear();
    held.clear();
    return open(cursorText, null, false).map(replayed -> Envelope.of(Types.ACK, new JsonObject()
      .put("sessionId", sessionId).put("cursor", cursor()).put("replayed", replayed)));
  }

  private Future<Integer> open(String cursorText, JsonObject connectedExtras, boolean announce) {
    follow(Addresses.user(userId()));
    follow(Addresses.BROADCAST);
    JsonObject open = new JsonObject();
    if (cursorText != null) {
      open.put("cursor", cursorText);
    }
    return gateway.commands().request(principal, StreamVerticle.OPEN, open)
      .compose(opened -> {
        JsonArray ids = opened.payload().getJsonArray("conversations");
        List<Future<Void>> ready = new ArrayList<>();
        ready.add(follow(Addresses.user(userId())));
        ready.add(follow(Addresses.BROADCAST));
        ids.forEach(id -> ready.add(follow(Addresses.conversation((String) id))));
        JsonObject start = new JsonObject();
        if (opened.payload().getValue("positions") instanceof JsonObject p) {
          start.put("positions", p);
        }
        if (replayLimit() > 0) {
          start.put("limit", replayLimit());
        }
        boolean resync = opened.payload().getBoolean("resync", false);
        if (cursorText != null) {
          gateway.node().metrics().streamResumed(resync);
        }
        return Future.all(ready)
          .compose(v -> gateway.commands().request(principal, StreamVerticle.START, start))
          .map(started -> started.payload().put("resync", resync || started.payload().getBoolean("resync", false)));
      })
      .map(started -> {
        if (closed) {
          return 0;
        }
        sessionId = started.getString("sessionId");
        JsonObject now = started.getJsonObject("positions");
        Set<String> stale = new HashSet<>(followedConversations());
        now.forEach(e -> {
          long seq = ((Number) e.getValue()).longValue();
          positions.put(e.getKey(), seq);
          stale.remove(e.getKey());
          if (!followed.contains(Addresses.conversation(e.getKey()))) {
            followNew(e.getKey(), seq);
          }
        });
        stale.forEach(id -> unfollow(Addresses.conversation(id)));
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
          sendNow(Event.of(Envelope.of(Types.CONNECTED, connected).toJson()));
        }
        if (started.getBoolean("resync")) {
          sendNow(Event.of(Envelope.of(Types.RESYNC_REQUIRED,
            new JsonObject().put("reason", "the cursor cannot be resumed; reload history over REST")).toJson()));
        }
        JsonArray events = started.getJsonArray("events");
        for (Object o : events) {
          Event e = Event.of((JsonObject) o);
          if (e.durable()) {
            streamed.put(e.conversationId(), e.seq());
          }
          sendNow(e);
          afterDelivered(e);
        }
        live = true;
        while (!pending.isEmpty() && !closed) {
          route(pending.poll());
        }
        return events.size();
      });
  }

  /** The one close path: releases consumers, timers and the per-user slot, then the socket. */
  public final void close(int code, String reason) {
    if (closed) {
      return;
    }
    if (code == CLOSE_RESTART) {
      sendNow(Event.of(Envelope.of(Types.RECONNECT, new JsonObject().put("reason", reason)).toJson()));
    }
    if (code == CLOSE_SLOW_CONSUMER) {
      gateway.node().metrics().slowConsumerCut(transport);
    }
    released();
    try {
      terminate(code, reason);
    } catch (RuntimeException e) {
      LOG.debug("closing an already closed {} connection", transport, e);
    }
  }

  /** The peer went away: release everything, nothing to send. */
  protected final void closedByPeer() {
    if (!closed) {
      released();
    }
  }

  private void released() {
    closed = true;
    if (expiryTimer >= 0) {
      vertx.cancelTimer(expiryTimer);
    }
    for (String address : new ArrayList<>(followed)) {
      gateway.unfollow(this, address);
    }
    followed.clear();
    pending.clear();
    held.clear();
    gateway.unregister(this);
    if (started) {
      // A bridge connection may run commands (and so be closed) before its stream starts.
      gateway.node().connections().closed(transport);
    }
    onReleased();
  }

  /** Transport-specific release (timers of its own). */
  protected void onReleased() {
  }

  /** Closes this connection from any thread. */
  public void closeFromAnyThread(int code, String reason) {
    context.runOnContext(v -> close(code, reason));
  }

  // ---- delivery ----

  /** Hands an event to this connection from any thread. */
  public final void offer(Event e) {
    if (Vertx.currentContext() == context) {
      deliver(e);
    } else {
      context.runOnContext(v -> deliver(e));
    }
  }

  private void deliver(Event e) {
    if (closed) {
      return;
    }
    if (!live) {
      if (pending.size() >= gateway.config().limits().queueEvents()) {
        close(CLOSE_SLOW_CONSUMER, "slow_consumer");
        return;
      }
      pending.add(e);
      return;
    }
    route(e);
  }

  private void route(Event e) {
    if (id.equals(e.except())) {
      return;
    }
    String conv = e.conversationId();
    String type = e.type();
    boolean aboutMe = userId().equals(e.payload().getString("userId"));
    if (Types.CONVERSATION_CREATED.equals(type)) {
      if (conv != null && !positions.containsKey(conv)) {
        followNew(conv, e.seq());
        // In the cursor, so that a resume does not announce the conversation a second time.
        streamed.put(conv, e.seq());
        send(e);
      }
      return;
    }
    if (Types.MEMBER_JOINED.equals(type) && aboutMe && conv != null && !positions.containsKey(conv)) {
      followNew(conv, e.seq());
      streamed.put(conv, e.seq());
      send(e);
      return;
    }
    if (Types.STREAMS_SUBSCRIBE.equals(type) || Types.STREAMS_UNSUBSCRIBE.equals(type)) {
      applyStreamTopics(type, e.payload());
      return;
    }
    if (Types.TYPING_UPDATE.equals(type)) {
      if (conv != null && rooms.contains(conv)) {
        send(e);
      }
      return;
    }
    if (e.durable()) {
      accept(e);
      return;
    }
    if (conv != null && !positions.containsKey(conv)) {
      return;
    }
    send(e);
  }

  private void accept(Event e) {
    String conv = e.conversationId();
    Long last = positions.get(conv);
    if (last == null || e.seq() <= last) {
      return;
    }
    TreeMap<Long, Event> waiting = held.get(conv);
    if (e.seq() == last + 1 && waiting == null) {
      deliverDurable(e);
      return;
    }
    held.computeIfAbsent(conv, k -> new TreeMap<>()).put(e.seq(), e);
    drain(conv);
    if (held.containsKey(conv)) {
      scheduleFill(conv);
    }
  }

  private void deliverDurable(Event e) {
    positions.put(e.conversationId(), e.seq());
    streamed.put(e.conversationId(), e.seq());
    send(e);
    afterDelivered(e);
  }

  /** A user who left stops receiving the conversation at once, right after their own leave. */
  private void afterDelivered(Event e) {
    if (Types.MEMBER_LEFT.equals(e.type()) && userId().equals(e.payload().getString("userId"))) {
      String conv = e.conversationId();
      positions.remove(conv);
      held.remove(conv);
      rooms.remove(conv);
      unfollow(Addresses.conversation(conv));
    }
  }

  private void drain(String conv) {
    TreeMap<Long, Event> waiting = held.get(conv);
    while (waiting != null && !waiting.isEmpty() && !closed) {
      Long last = positions.get(conv);
      if (last == null) {
        held.remove(conv);
        return;
      }
      long first = waiting.firstKey();
      if (first <= last) {
        waiting.pollFirstEntry();
      } else if (first == last + 1) {
        deliverDurable(waiting.pollFirstEntry().getValue());
      } else {
        return;
      }
    }
    held.remove(conv);
  }

  private void scheduleFill(String conv) {
    if (filling.add(conv)) {
      vertx.setTimer(GAP_WAIT_MS, id -> fill(conv));
    }
  }

  /** Reads the missing timeline items from PostgreSQL, then releases what was held. */
  private void fill(String conv) {
    TreeMap<Long, Event> waiting = held.get(conv);
    Long last = positions.get(conv);
    if (closed || waiting == null || waiting.isEmpty() || last == null) {
      filling.remove(conv);
      return;
    }
    long missing = waiting.firstKey() - last - 1;
    catchUp(conv, last, (int) Math.min(FILL_PAGE, Math.max(1, missing))).onComplete(ar -> {
      filling.remove(conv);
      if (ar.failed()) {
        close(CLOSE_GOING_AWAY, "reconnect");
        return;
      }
      drain(conv);
      if (held.containsKey(conv)) {
        scheduleFill(conv);
      }
    });
  }

  /** The sweep saw items of {@code conv} up to {@code last} in PostgreSQL that never came live. */
  void nudge(String conv, long last) {
    context.runOnContext(v -> {
      Long position = positions.get(conv);
      if (closed || !live || position == null || position >= last || filling.contains(conv)) {
        return;
      }
      filling.add(conv);
      catchUp(conv, position, FILL_PAGE).onComplete(ar -> {
        filling.remove(conv);
        drain(conv);
      });
    });
  }

  /** Loads items after {@code after} and delivers them in order (deduplicated). */
  private Future<Void> catchUp(String conv, long after, int limit) {
    JsonObject query = new JsonObject().put("conversationId", conv).put("after", after).put("limit", limit);
    return gateway.commands().request(principal, Types.LOAD_MESSAGES, query).map(loaded -> {
      for (Object o : loaded.payload().getJsonArray("messages")) {
        Event e = Event.of(Timeline.event((JsonObject) o).toJson());
        Long last = positions.get(conv);
        if (last != null && e.seq() == last + 1) {
          deliverDurable(e);
        } else if (last != null && e.seq() > last + 1) {
          held.computeIfAbsent(conv, k -> new TreeMap<>()).put(e.seq(), e);
        }
      }
      return null;
    });
  }

  /** Follows a conversation joined while connected, then reads anything published before the consumer was ready. */
  private void followNew(String conv, long position) {
    positions.putIfAbsent(conv, position);
    follow(Addresses.conversation(conv)).onSuccess(v -> {
      Long last = positions.get(conv);
      if (last != null && !closed) {
        catchUp(conv, last, FILL_PAGE).onSuccess(x -> drain(conv));
      }
    });
  }

  /** Writes with outbound-queue accounting; a client that cannot keep up is cut. */
  protected final void send(Event e) {
    if (closed) {
      return;
    }
    sendNow(e);
  }

  private void sendNow(Event e) {
    int size = e.size();
    queuedEvents++;
    queuedBytes += size;
    var limits = gateway.config().limits();
    if (queuedEvents > limits.queueEvents() || queuedBytes > limits.queueBytes()) {
      close(CLOSE_SLOW_CONSUMER, "slow_consumer");
      return;
    }
    // The cursor costs a string per event; only transports that put it on the wire get one.
    String cursor = writesCursor() && (e.durable() || Types.CONNECTED.equals(e.type())) ? cursor() : null;
    gateway.node().metrics().delivered(transport);
    write(e, cursor).onComplete(ar -> {
      queuedEvents--;
      queuedBytes -= size;
    });
  }

  /** Sends an envelope to this connection only (replies, errors, pongs). */
  public final void reply(Envelope envelope) {
    if (!closed) {
      sendNow(Event.of(envelope.toJson()));
    }
  }

  // ---- following ----

  private Future<Void> follow(String address) {
    // A connection closed while a subscription was on its way must not register again: nothing
    // would ever unregister it.
    if (closed) {
      return Future.succeededFuture();
    }
    if (followed.add(address)) {
      return gateway.follow(this, address);
    }
    return Future.succeededFuture();
  }

  private void unfollow(String address) {
    if (followed.remove(address)) {
      gateway.unfollow(this, address);
    }
  }

  private Set<String> followedConversations() {
    Set<String> out = new HashSet<>();
    for (String a : followed) {
      if (a.startsWith(Addresses.CONVERSATION_PREFIX)) {
        out.add(a.substring(Addresses.CONVERSATION_PREFIX.length()));
      }
    }
    return out;
  }

  // ---- commands (WebSocket and bridges) ----

  /**
   * Runs one client command and answers with exactly one envelope carrying its requestId.
   * Connection-scoped commands (rooms, topics, ping) are handled here; the rest go to the services.
   */
  public final Future<Envelope> command(Envelope env) {
    long wait = commandBucket.take();
    if (wait > 0) {
      if (++abuse >= ABUSE_LIMIT) {
        close(CLOSE_RATE_LIMITED, "rate_limited");
      }
      return Future.failedFuture(new ServiceException(ErrorCode.RATE_LIMITED, "too many commands; retry in " + wait + " s"));
    }
    abuse = 0;
    JsonObject p = env.payload();
    try {
      return switch (env.type()) {
        case Types.PING -> Future.succeededFuture(Envelope.of(Types.PONG, new JsonObject()));
        case Types.JOIN_CONVERSATION -> joinRoom(p);
        case Types.LEAVE_CONVERSATION -> leaveRoom(p);
        case Types.SUBSCRIBE -> subscribe(p);
        case Types.UNSUBSCRIBE -> unsubscribe(p);
        case Types.SEND_MESSAGE -> {
          long retry = gateway.takeMessageToken(userId());
          if (retry > 0) {
            throw new ServiceException(ErrorCode.RATE_LIMITED, "too many messages; retry in " + retry + " s");
          }
          yield gateway.commands().request(principal, env.type(), p, id);
        }
        default -> {
          if (!Types.FORWARDED.contains(env.type())) {
            throw ServiceException.invalid("unknown type '" + env.type() + "'");
          }
          yield gateway.commands().request(principal, env.type(), p, id);
        }
      };
    } catch (ServiceException e) {
      return Future.failedFuture(e);
    }
  }

  private Future<Envelope> joinRoom(JsonObject p) {
    String conv = Fields.conversationId(p, "conversationId").toString();
    return gateway.commands().request(principal, Types.JOIN_CONVERSATION, new JsonObject().put("conversationId", conv))
      .map(ok -> {
        rooms.add(conv);
        return ok;
      });
  }

  /** Joins rooms given at connect time (SSE {@code ?rooms=}); unknown or forbidden ones fail. */
  public Future<Void> joinRooms(List<String> ids) {
    List<Future<Envelope>> all = new ArrayList<>();
    for (String id : ids) {
      all.add(joinRoom(new JsonObject().put("conversationId", id)));
    }
    return Future.all(all).mapEmpty();
  }

  /**
   * The service answers both forms: with {@code membership:true} it leaves the group, without it
   * it only checks that the user may see the conversation (others' rooms are forbidden, unknown
   * ones not found), as for {@code join_conversation}.
   */
  private Future<Envelope> leaveRoom(JsonObject p) {
    String conv = Fields.conversationId(p, "conversationId").toString();
    Boolean membership = Fields.optionalBoolean(p, "membership");
    JsonObject payload = new JsonObject().put("conversationId", conv);
    if (Boolean.TRUE.equals(membership)) {
      payload.put("membership", true);
    }
    return gateway.commands().request(principal, Types.LEAVE_CONVERSATION, payload).map(left -> {
      rooms.remove(conv);
      return left;
    });
  }

  private Future<Envelope> subscribe(JsonObject p) {
    List<String> wanted = Fields.stringList(p, "topics", gateway.config().limits().topicsPerConnection(), 200);
    if (wanted.isEmpty()) {
      throw ServiceException.invalid("'topics' must be a non-empty array of topic names");
    }
    Set<String> after = new HashSet<>(topics);
    after.addAll(wanted);
    if (after.size() > gateway.config().limits().topicsPerConnection()) {
      throw ServiceException.invalid("at most " + gateway.config().limits().topicsPerConnection() + " topics per connection");
    }
    return gateway.commands().request(principal, Types.SUBSCRIBE, new JsonObject().put("topics", new JsonArray(wanted)))
      .compose(ok -> {
        List<Future<Void>> ready = new ArrayList<>();
        for (String t : wanted) {
          if (topics.add(t)) {
            ready.add(follow(Addresses.topic(t)));
          }
        }
        return Future.all(ready).map(ok);
      });
  }

  /** Subscribes topics given at connect time (SSE {@code ?topics=}). */
  public Future<Void> subscribeTopics(List<String> names) {
    if (names.isEmpty()) {
      return Future.succeededFuture();
    }
    return subscribe(new JsonObject().put("topics", new JsonArray(names))).mapEmpty();
  }

  private Future<Envelope> unsubscribe(JsonObject p) {
    List<String> names = Fields.stringList(p, "topics", 1000, 200);
    for (String t : names) {
      if (topics.remove(t)) {
        unfollow(Addresses.topic(t));
      }
    }
    return Future.succeededFuture(Envelope.of(Types.UNSUBSCRIBED, new JsonObject().put("topics", new JsonArray(names))));
  }

  /** A REST subscription (already authorised) reaching this stream through the user's address. */
  private void applyStreamTopics(String type, JsonObject payload) {
    JsonArray names = payload.getJsonArray("topics", new JsonArray());
    for (Object o : names) {
      String t = (String) o;
      if (Types.STREAMS_SUBSCRIBE.equals(type)) {
        if (topics.size() < gateway.config().limits().topicsPerConnection() && topics.add(t)) {
          follow(Addresses.topic(t));
        }
      } else if (topics.remove(t)) {
        unfollow(Addresses.topic(t));
      }
    }
  }

  // ---- token expiry ----

  /** Replaces the principal after a token refresh (same user only) and re-arms the expiry timer. */
  public void refresh(Principal fresh) {
    if (!fresh.userId().equals(userId())) {
      throw ServiceException.forbidden("a refreshed token must be for the same user");
    }
    principal = fresh;
    scheduleExpiry();
  }

  private void scheduleExpiry() {
    if (expiryTimer >= 0) {
      vertx.cancelTimer(expiryTimer);
      expiryTimer = -1;
    }
    long exp = principal.expiresAt();
    if (exp <= 0) {
      return;
    }
    long delay = Math.max(1, exp * 1000 - System.currentTimeMillis());
    expiryTimer = vertx.setTimer(delay, id -> {
      expiryTimer = -1;
      reply(Envelope.of(Types.TOKEN_EXPIRED, new JsonObject().put("message", "the token expired; refresh it")));
      close(CLOSE_UNAUTHORIZED, "token_expired");
    });
  }
}
