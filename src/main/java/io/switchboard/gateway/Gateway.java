package io.switchboard.gateway;

import io.switchboard.NodeContext;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.service.CommandClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.vertx.core.Promise;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.UUID;
import java.util.Deque;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node's connection registry (DESIGN §2): which local connections follow which event-bus
 * address. It registers <em>one</em> consumer per address per node, reference-counted by the
 * connections following it, and hands each event, encoded once, to every one of them.
 */
public final class Gateway {

  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  private final Vertx vertx;
  private final NodeContext node;
  private final CommandClient commands;
  private final Map<String, Route> routes = new ConcurrentHashMap<>();
  private final Map<String, Deque<Connection>> byUser = new ConcurrentHashMap<>();
  private final Map<String, TokenBucket> messageBuckets = new ConcurrentHashMap<>();
  private final Map<String, TokenBucket> commandBuckets = new ConcurrentHashMap<>();
  private final long sweeper;
  private volatile boolean draining;
  private volatile boolean sweepFailing;
  private final Map<String, ReceiptSlot> receipts = new ConcurrentHashMap<>();

  /** At most one receipt per reader per conversation per this interval reaches local clients. */
  static final long RECEIPT_INTERVAL_MS = 1000;

  /** How often followed conversations are checked for items committed but never published. */
  static final long SWEEP_MS = 2000;
  static final String LAST_SEQS = "SELECT id, last_seq FROM conversations WHERE id = ANY($1)";

  public Gateway(Vertx vertx, NodeContext node) {
    this.vertx = vertx;
    this.node = node;
    this.commands = node.commands();
    this.sweeper = vertx.setPeriodic(SWEEP_MS, SWEEP_MS, id -> sweep());
  }

  /**
   * The commit-then-crash hole (DESIGN §4): a node can die after COMMIT and before its publish,
   * and if that was a conversation's last item no later event reveals the gap. Every
   * {@link #SWEEP_MS} this node compares, for the conversations it follows, PostgreSQL's last
   * seq with the last seq seen on the bus; a difference that persists across two sweeps (so
   * is not just in flight) makes each follower read what it misses.
   */
  private void sweep() {
    long idle = System.currentTimeMillis() - 5 * RECEIPT_INTERVAL_MS;
    receipts.values().removeIf(slot -> slot.waiting == null && slot.lastSent < idle);
    for (Map<String, TokenBucket> buckets : List.of(messageBuckets, commandBuckets)) {
      buckets.values().removeIf(bucket -> {
        synchronized (bucket) {
          return bucket.isFull();
        }
      });
    }
    List<String> ids = new ArrayList<>();
    routes.forEach((address, route) -> {
      if (address.startsWith(Addresses.CONVERSATION_PREFIX)) {
        ids.add(address.substring(Addresses.CONVERSATION_PREFIX.length()));
      }
    });
    if (ids.isEmpty()) {
      return;
    }
    UUID[] uuids = ids.stream().map(UUID::fromString).toArray(UUID[]::new);
    node.pool().preparedQuery(LAST_SEQS).execute(Tuple.of(uuids)).onSuccess(rows -> rows.forEach(row -> {
      String id = row.getUUID(0).toString();
      long last = row.getLong(1);
      Route route = routes.get(Addresses.conversation(id));
      if (route == null || last <= route.seen) {
        return;
      }
      if (route.suspect != last) {
        route.suspect = last;
        return;
      }
      route.seen = last;
      for (Connection member : route.members) {
        member.nudge(id, last);
      }
    })).onSuccess(rows -> {
      if (sweepFailing) {
        sweepFailing = false;
        LOG.info("delivery sweep running again");
      }
    }).onFailure(t -> {
      // Retried every sweep; said once per outage rather than every 2 s.
      if (!sweepFailing) {
        sweepFailing = true;
        LOG.warn("delivery sweep cannot read PostgreSQL ({}); retrying every {} ms", t.toString(), SWEEP_MS);
      }
    });
  }

  /**
   * Graceful shutdown (SPEC §9): every local client is told to reconnect (WebSocket close 1012)
   * and resumes on another node by its cursor; completes when all are gone or after the drain.
   */
  public Future<Void> drain(long timeoutMs) {
    draining = true;
    vertx.cancelTimer(sweeper);
    for (Connection c : connections()) {
      c.closeFromAnyThread(Connection.CLOSE_RESTART, "reconnect");
    }
    Promise<Void> done = Promise.promise();
    long started = System.currentTimeMillis();
    vertx.setPeriodic(50, id -> {
      if (byUser.isEmpty() || System.currentTimeMillis() - started > timeoutMs) {
        vertx.cancelTimer(id);
        done.tryComplete();
      }
    });
    return done.future();
  }

  /** One address followed by some local connections. */
  private static final class Route {
    final Set<Connection> members = ConcurrentHashMap.newKeySet();
    MessageConsumer<JsonObject> consumer;
    Future<Void> ready;
    /** Highest timeline seq seen on the bus (conversation routes), and a suspected stale one. */
    volatile long seen;
    volatile long suspect;
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

  /** Adds {@code c} to the followers of {@code address}; completes once the cluster routes it here. */
  public Future<Void> follow(Connection c, String address) {
    Route route = routes.compute(address, (key, existing) -> {
      Route r = existing != null ? existing : new Route();
      if (existing == null) {
        r.consumer = vertx.eventBus().consumer(key, msg -> {
          Event event;
          try {
            event = Event.of(msg.body());
          } catch (RuntimeException e) {
            LOG.warn("dropping a malformed event on {}", key);
            return;
          }
          node.metrics().eventArrived(msg.body());
          if (event.durable() && event.seq() > r.seen) {
            r.seen = event.seq();
          }
          if (Types.RECEIPT.equals(event.type())) {
            coalesceReceipt(r, event);
            return;
          }
          fanOut(r, event);
        });
        r.ready = r.consumer.completion();
      }
      r.members.add(c);
      return r;
    });
    return route.ready;
  }

  private static void fanOut(Route r, Event event) {
    for (Connection member : r.members) {
      member.offer(event);
    }
  }

  /**
   * Delivers one event, encoded once, to every local connection that follows any of
   * {@code conversationIds}, once however many of them it follows, except the connections of
   * {@code exceptUserId} (presence: a user's co-members hear of them, the user does not).
   */
  public void deliverToConversations(JsonObject envelope, Collection<String> conversationIds, String exceptUserId) {
    Set<Connection> targets = Collections.newSetFromMap(new IdentityHashMap<>());
    for (String id : conversationIds) {
      Route route = routes.get(Addresses.conversation(id));
      if (route != null) {
        targets.addAll(route.members);
      }
    }
    targets.removeIf(c -> c.userId().equals(exceptUserId));
    if (targets.isEmpty()) {
      return;
    }
    Event event = Event.of(envelope);
    for (Connection c : targets) {
      c.offer(event);
    }
  }

  /** The last receipt fan-out per (conversation, reader), and the newest one waiting for its turn. */
  private static final class ReceiptSlot {
    long lastSent;
    Event waiting;
  }

  /**
   * Receipts are coalesced per node, per conversation and reader: at most one a second reaches
   * local clients, always the newest (read positions only move forward, so nothing is lost).
   * Runs on the route consumer's context.
   */
  private void coalesceReceipt(Route r, Event event) {
    String key = event.conversationId() + "|" + event.payload().getString("userId");
    ReceiptSlot slot = receipts.computeIfAbsent(key, k -> new ReceiptSlot());
    long now = System.currentTimeMillis();
    if (slot.waiting == null && now - slot.lastSent >= RECEIPT_INTERVAL_MS) {
      slot.lastSent = now;
      fanOut(r, event);
      return;
    }
    boolean armed = slot.waiting != null;
    if (slot.waiting == null || event.payload().getLong("seq", 0L) >= slot.waiting.payload().getLong("seq", 0L)) {
      slot.waiting = event;
    }
    if (!armed) {
      vertx.setTimer(Math.max(1, slot.lastSent + RECEIPT_INTERVAL_MS - now), id -> {
        Event newest = slot.waiting;
        slot.waiting = null;
        slot.lastSent = System.currentTimeMillis();
        fanOut(r, newest);
      });
    }
  }

  /** Removes {@code c}; the last follower's leaving unregisters the node's consumer. */
  public void unfollow(Connection c, String address) {
    routes.computeIfPresent(address, (key, r) -> {
      r.members.remove(c);
      if (r.members.isEmpty()) {
        r.consumer.unregister();
        return null;
      }
      return r;
    });
  }

  /** Registers a new connection of a user; beyond the per-user limit the oldest is replaced. */
  void register(Connection c) {
    if (draining) {
      // Stopping: a client that reconnects here is sent on to another node at once.
      c.closeFromAnyThread(Connection.CLOSE_RESTART, "reconnect");
      return;
    }
    Connection[] evicted = new Connection[1];
    boolean[] first = new boolean[1];
    byUser.compute(c.userId(), (k, list) -> {
      Deque<Connection> l = list != null ? list : new ArrayDeque<>();
      first[0] = l.isEmpty();
      l.addLast(c);
      if (l.size() > config().limits().connectionsPerUser()) {
        evicted[0] = l.pollFirst();
      }
      return l;
    });
    if (first[0]) {
      presence(c.userId(), true);
    }
    if (evicted[0] != null) {
      evicted[0].closeFromAnyThread(Connection.CLOSE_NORMAL, "replaced");
    }
  }

  void unregister(Connection c) {
    boolean[] last = new boolean[1];
    byUser.computeIfPresent(c.userId(), (k, list) -> {
      if (list.remove(c) && list.isEmpty()) {
        last[0] = true;
        return null;
      }
      return list;
    });
    if (last[0]) {
      presence(c.userId(), false);
    }
  }

  /** This node's first connection of a user opened, or its last one closed (PresenceVerticle decides the rest). */
  private void presence(String userId, boolean online) {
    vertx.eventBus().publish(Addresses.PRESENCE, Envelope.of(Presence.NODE_USER, new JsonObject()
      .put("nodeId", node.nodeId()).put("userId", userId).put("online", online)).toJson());
  }

  /** The users with at least one connection on this node. */
  public Set<String> localUsers() {
    return Set.copyOf(byUser.keySet());
  }

  /** True when the user has a connection on this node. */
  public boolean isLocal(String userId) {
    return byUser.containsKey(userId);
  }

  /** All connections of this node (a snapshot). */
  List<Connection> connections() {
    List<Connection> all = new ArrayList<>();
    for (String user : byUser.keySet()) {
      // Per-key compute: the deque is only touched under the map's lock for that key.
      byUser.computeIfPresent(user, (k, list) -> {
        all.addAll(list);
        return list;
      });
    }
    return all;
  }

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

  /** Addresses of a user's own events. */
  static String userAddress(String userId) {
    return Addresses.user(userId);
  }
}
