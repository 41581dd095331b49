package io.switchboard.gateway;

import io.netty.channel.EventLoop;
import io.switchboard.NodeContext;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.Timeline;
import io.switchboard.service.CommandClient;
import io.switchboard.stream.StreamVerticle;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node's delivery core (DESIGN §2): the routes it follows (one event-bus consumer per
 * address per node, however many sessions follow it), the sessions of each user, the event
 * loops that carry them, the admission queue for stream opens, and the sweep that catches items
 * committed but never published.
 */
public final class Gateway {

  static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  /** How often followed conversations that saw traffic lately are checked against PostgreSQL. */
  static final long SWEEP_MS = 2000;
  /** Every this many sweeps, every followed conversation is checked, quiet ones too. */
  static final int FULL_SWEEP_EVERY = 5;
  /** A conversation with a timeline event this recent is swept every time. */
  static final long BUSY_MS = 30_000;

  /** This node's own presence service hears of its users (it tells the cluster, in deltas). */
  private static final io.vertx.core.eventbus.DeliveryOptions LOCAL =
    new io.vertx.core.eventbus.DeliveryOptions().setLocalOnly(true);

  private final VertxInternal vertx;
  private final NodeContext node;
  private final CommandClient commands;
  private final Dispatcher dispatcher;
  private final Admission admission;
  private final Handshakes handshakes;
  private final Map<String, Route> routes = new ConcurrentHashMap<>();
  private final Map<EventLoop, Loop> loops = new ConcurrentHashMap<>();
  /** The loop each event shard's consumer (and so each route of the shard) runs on. */
  private final Loop[] shardLoops = new Loop[Addresses.SHARDS];
  private final List<MessageConsumer<JsonObject>> shardConsumers = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Map<String, Deque<Session>> byUser = new ConcurrentHashMap<>();
  private final Map<String, TokenBucket> messageBuckets = new ConcurrentHashMap<>();
  private final Map<String, TokenBucket> commandBuckets = new ConcurrentHashMap<>();
  private final long sweeper;
  private final long expirer;
  private int sweeps;
  private volatile boolean draining;
  private volatile boolean sweepFailing;

  public Gateway(Vertx vertx, NodeContext node) {
    this.vertx = (VertxInternal) vertx;
    this.node = node;
    this.commands = node.commands();
    this.dispatcher = new Dispatcher(this);
    var limits = node.config().limits();
    this.admission = new Admission(limits.openConcurrency(), limits.openQueueSeconds() * 1000L);
    this.handshakes = new Handshakes(limits.handshakeSeconds(), limits.unauthenticatedPerIp());
    List<Loop> all = new ArrayList<>();
    for (io.netty.util.concurrent.EventExecutor executor : this.vertx.nettyEventLoopGroup()) {
      all.add(loop((EventLoop) executor));
    }
    for (int k = 0; k < Addresses.SHARDS; k++) {
      shardLoops[k] = all.get(k % all.size());
    }
    this.sweeper = vertx.setPeriodic(SWEEP_MS, SWEEP_MS, id -> sweep());
    this.expirer = vertx.setPeriodic(500, id -> admission.expire());
  }

  public Vertx vertx() {
    return vertx;
  }

  public NodeContext node() {
    return node;
  }

  public SwitchboardConfig config() {
    return node.config();
  }

  public CommandClient commands() {
    return commands;
  }

  Dispatcher dispatcher() {
    return dispatcher;
  }

  Admission admission() {
    return admission;
  }

  /** The node's unauthenticated connections: their handshake timeout and their cap per IP. */
  public Handshakes handshakes() {
    return handshakes;
  }

  /** The rooms and topics a stream asked for at connect time, each granted or refused on its own. */
  public Future<List<io.switchboard.protocol.ServiceException>> grant(Session session, List<String> rooms,
                                                                      List<String> topics) {
    return dispatcher.grant(session, rooms, topics);
  }

  /** The delivery state of one event loop of this node's Vert.x (all are created at start). */
  Loop loop(EventLoop eventLoop) {
    Loop loop = loops.get(eventLoop);
    return loop != null ? loop : loops.computeIfAbsent(eventLoop, this::newLoop);
  }

  private Loop newLoop(EventLoop eventLoop) {
    Loop loop = new Loop(vertx, eventLoop);
    loop.meter((kind, n) -> node.metrics().delivered(kind, n));
    return loop;
  }

  // ---- routes ----

  /**
   * Registers the node's one consumer per event shard (DESIGN §2): every event of every address
   * reaches this node through them, and {@link #onShard} hands it to the local route of its
   * address, if any. Completes once the cluster routes the shards here; the node opens its HTTP
   * port after that.
   */
  public Future<Void> start() {
    List<Future<Void>> registered = new ArrayList<>();
    for (int k = 0; k < Addresses.SHARDS; k++) {
      Loop home = shardLoops[k];
      Promise<Void> ready = Promise.promise();
      String address = Addresses.shard(k);
      home.context().runOnContext(v -> {
        MessageConsumer<JsonObject> consumer = vertx.eventBus().consumer(address, msg -> onShard(msg.body()));
        shardConsumers.add(consumer);
        consumer.completion().onComplete(ready);
      });
      registered.add(ready.future());
    }
    return Future.all(registered).mapEmpty();
  }

  /** On the shard's loop: an event for a logical address; dropped at once when no session here follows it. */
  private void onShard(JsonObject body) {
    Object to = body.remove(Events.TO);
    Route route = to instanceof String address ? routes.get(address) : null;
    if (route != null && !route.dead) {
      route.onEvent(body);
    }
  }

  /** The loop of an address's shard: its route lives there, where its events arrive. */
  private Loop homeOf(String address) {
    return shardLoops[Addresses.shardOf(address)];
  }

  /**
   * Adds an interest in {@code address}: the route, created when it is the first. Nothing is
   * registered in the cluster: the node receives the address's events through its shard from its
   * start, so a route follows live as soon as it exists.
   */
  Route follow(Session session, String address, String conversationId) {
    return routes.compute(address, (key, existing) -> {
      Route r = existing != null ? existing : new Route(this, key, conversationId, homeOf(key));
      r.interest++;
      return r;
    });
  }

  /** Drops an interest; the last one drops the route. */
  void unfollow(Route route) {
    routes.computeIfPresent(route.address, (key, r) -> {
      if (r != route) {
        return r;
      }
      if (--r.interest > 0) {
        return r;
      }
      r.dead = true;
      return null;
    });
  }

  /** How many addresses this node follows (stats). */
  public int routeCount() {
    return routes.size();
  }

  /** How many addresses starting with {@code prefix} this node follows (stats: rooms, topics). */
  public int routeCount(String prefix) {
    int n = 0;
    for (String address : routes.keySet()) {
      if (address.startsWith(prefix)) {
        n++;
      }
    }
    return n;
  }

  /** Timeline items after {@code after} as events, read once for the node (gap fill, catch-up). */
  Future<List<Frame>> readTimeline(String conversationId, long after, int limit) {
    JsonObject query = new JsonObject().put("conversationId", conversationId).put("after", after).put("limit", limit);
    return commands.request(io.switchboard.auth.Principal.NODE, StreamVerticle.READ, query).map(read -> {
      JsonArray items = read.payload().getJsonArray("messages");
      List<Frame> frames = new ArrayList<>(items.size());
      for (Object o : items) {
        frames.add(Frame.of(Timeline.event((JsonObject) o)));
      }
      return frames;
    });
  }

  /**
   * The commit-then-crash hole (DESIGN §4): a node can die after COMMIT and before its publish,
   * and if that was a conversation's last item no later event reveals the gap. Every
   * {@link #SWEEP_MS} this node compares, for the conversations that saw events lately (every
   * followed one, every {@link #FULL_SWEEP_EVERY} sweeps), PostgreSQL's last seq with the last
   * seq seen on the bus; a difference that persists across two sweeps (so is not just in
   * flight) makes the route read what it misses, once for the node.
   */
  private void sweep() {
    long now = System.currentTimeMillis();
    pruneBuckets();
    boolean full = ++sweeps % FULL_SWEEP_EVERY == 0;
    List<String> ids = new ArrayList<>();
    for (Route r : routes.values()) {
      if (r.conversationId == null || r.dead) {
        continue;
      }
      if (full) {
        r.home.execute(() -> r.trim(now));
      }
      if (full || now - r.lastEventAt < BUSY_MS || r.suspect > 0) {
        ids.add(r.conversationId);
      }
    }
    if (ids.isEmpty()) {
      return;
    }
    commands.request(io.switchboard.auth.Principal.NODE, StreamVerticle.LAST_SEQS,
        new JsonObject().put("conversationIds", new JsonArray(ids)))
      .onSuccess(reply -> {
        if (sweepFailing) {
          sweepFailing = false;
          LOG.info("delivery sweep running again");
        }
        reply.payload().getJsonObject("lastSeqs").forEach(e -> {
          Route route = routes.get(Addresses.conversation(e.getKey()));
          long last = ((Number) e.getValue()).longValue();
          if (route == null || last <= route.seen) {
            if (route != null) {
              route.suspect = 0;
            }
            return;
          }
          if (route.suspect != last) {
            route.suspect = last;
            return;
          }
          route.suspect = 0;
          route.home.execute(() -> route.nudge(last));
        });
      })
      .onFailure(t -> {
        // Retried every sweep; said once per outage rather than every 2 s.
        if (!sweepFailing) {
          sweepFailing = true;
          LOG.warn("delivery sweep cannot read PostgreSQL ({}); retrying every {} ms", t.toString(), SWEEP_MS);
        }
      });
  }

  private void pruneBuckets() {
    for (Map<String, TokenBucket> buckets : List.of(messageBuckets, commandBuckets)) {
      buckets.values().removeIf(bucket -> {
        synchronized (bucket) {
          return bucket.isFull();
        }
      });
    }
  }

  // ---- sessions ----

  /**
   * Registers a new stream of a user; beyond the per-user limit the oldest is replaced. False
   * (and the session closed) while the node drains: the client goes to another node at once.
   */
  boolean register(Session s) {
    if (draining) {
      s.close(CloseCode.RESTART, "reconnect");
      return false;
    }
    Session[] evicted = new Session[1];
    boolean[] first = new boolean[1];
    byUser.compute(s.userId(), (k, list) -> {
      Deque<Session> l = list != null ? list : new ArrayDeque<>(2);
      first[0] = l.isEmpty();
      l.addLast(s);
      if (l.size() > config().limits().connectionsPerUser()) {
        evicted[0] = l.pollFirst();
      }
      return l;
    });
    if (first[0]) {
      presence(s.userId(), true);
    }
    if (evicted[0] != null) {
      evicted[0].closeFromAnyThread(CloseCode.NORMAL, "replaced");
    }
    return true;
  }

  void unregister(Session s) {
    boolean[] last = new boolean[1];
    byUser.computeIfPresent(s.userId(), (k, list) -> {
      if (list.remove(s) && list.isEmpty()) {
        last[0] = true;
        return null;
      }
      return list;
    });
    if (last[0]) {
      presence(s.userId(), false);
    }
  }

  /** This node's first stream of a user opened, or its last one closed (PresenceVerticle decides the rest). */
  private void presence(String userId, boolean online) {
    vertx.eventBus().publish(Addresses.PRESENCE, Envelope.of(Presence.NODE_USER, new JsonObject()
      .put("nodeId", node.nodeId()).put("userId", userId).put("online", online)).toJson(), LOCAL);
  }

  /** The users with at least one stream on this node. */
  public Set<String> localUsers() {
    return Set.copyOf(byUser.keySet());
  }

  /** True when the user has a stream on this node. */
  public boolean isLocal(String userId) {
    return byUser.containsKey(userId);
  }

  /** All sessions of this node (a snapshot). */
  List<Session> sessions() {
    List<Session> all = new ArrayList<>();
    for (String user : byUser.keySet()) {
      // Per-key compute: the deque is only touched under the map's lock for that key.
      byUser.computeIfPresent(user, (k, list) -> {
        all.addAll(list);
        return list;
      });
    }
    return all;
  }

  /**
   * Delivers an event once to every live session of this node that follows any of
   * {@code conversationIds}, except the sessions of {@code exceptUserId} (presence: a user's
   * co-members hear of them once, however many conversations they share).
   */
  public void deliverToConversations(JsonObject envelope, Collection<String> conversationIds, String exceptUserId) {
    Frame frame = Frame.of(envelope);
    Map<Loop, List<Route.Group>> byLoop = new IdentityHashMap<>();
    for (String id : conversationIds) {
      Route route = routes.get(Addresses.conversation(id));
      if (route == null) {
        continue;
      }
      for (Route.Group g : route.groups()) {
        byLoop.computeIfAbsent(g.loop, l -> new ArrayList<>()).add(g);
      }
    }
    byLoop.forEach((loop, groups) -> loop.execute(() -> {
      Set<Session> reached = Collections.newSetFromMap(new IdentityHashMap<>());
      for (Route.Group g : groups) {
        for (Session s : g.sessions) {
          if (!s.userId().equals(exceptUserId) && reached.add(s)) {
            s.deliverOnce(frame);
          }
        }
      }
    }));
  }

  // ---- the admin API ----

  /**
   * Ends every local stream of {@code userId} ({@code disconnect}, then close 4401); how many.
   * The admin API publishes a disconnect to every node, and each ends its own.
   */
  public int disconnect(String userId, String reason) {
    List<Session> found = new ArrayList<>();
    byUser.computeIfPresent(userId, (k, list) -> {
      found.addAll(list);
      return list;
    });
    found.forEach(s -> s.disconnect(reason));
    return found.size();
  }

  /** Ends every local stream whose principal {@code which} matches (a revoked token); how many. */
  public int disconnect(java.util.function.Predicate<io.switchboard.auth.Principal> which, String reason) {
    int n = 0;
    for (Session s : sessions()) {
      if (which.test(s.principal())) {
        s.disconnect(reason);
        n++;
      }
    }
    return n;
  }

  // ---- limits counted per node ----

  /** The per-user message rate limit (counted on this node): 0 when allowed, else seconds to wait. */
  public long takeMessageToken(String userId) {
    TokenBucket bucket = messageBuckets.computeIfAbsent(userId,
      k -> new TokenBucket(config().limits().messagesPerSecond(), config().limits().messageBurst()));
    synchronized (bucket) {
      return bucket.take();
    }
  }

  /** The per-user REST command rate (counted on this node): 0 when allowed, else seconds to wait. */
  public long takeCommandToken(String userId) {
    TokenBucket bucket = commandBuckets.computeIfAbsent(userId,
      k -> new TokenBucket(config().limits().commandsPerSecond(), config().limits().commandBurst()));
    synchronized (bucket) {
      return bucket.take();
    }
  }

  // ---- epochs ----

  /**
   * The database started a new epoch (DESIGN §7: a restored backup noticed, or the operator's
   * command): what the routes know of each timeline may name items the database no longer has,
   * so they forget it, and every stream is closed to resume — its cursor, of the older epoch,
   * gets {@code resync_required}. Answers how many streams were told. Any thread.
   */
  public int epochChanged() {
    for (Route route : routes.values()) {
      if (route.conversationId != null) {
        route.home.execute(route::forget);
      }
    }
    List<Session> all = sessions();
    for (Session s : all) {
      s.closeFromAnyThread(CloseCode.GOING_AWAY, "reconnect");
    }
    return all.size();
  }

  // ---- shutdown ----

  /**
   * Graceful shutdown (SPEC §9): every local client is told to reconnect (WebSocket close 1012)
   * and resumes on another node by its cursor; completes when all are gone or after the drain.
   */
  public Future<Void> drain(long timeoutMs) {
    draining = true;
    vertx.cancelTimer(sweeper);
    vertx.cancelTimer(expirer);
    // Still delivering while the clients leave; the consumers go with the node's Vert.x.
    for (Session s : sessions()) {
      s.closeFromAnyThread(CloseCode.RESTART, "reconnect");
    }
    Promise<Void> done = Promise.promise();
    long started = System.currentTimeMillis();
    vertx.setPeriodic(50, id -> {
      if (byUser.isEmpty() || System.currentTimeMillis() - started > timeoutMs) {
        vertx.cancelTimer(id);
        loops.values().forEach(Loop::stop);
        done.tryComplete();
      }
    });
    return done.future();
  }

  /** Opens waiting for their turn (stats). */
  public int opensWaiting() {
    return admission.waiting();
  }
}
