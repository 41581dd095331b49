package io.switchboard.presence;

import io.switchboard.NodeContext;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.store.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Cluster-wide presence (SPEC §4, DESIGN §9), one instance per node, the node's only reader of
 * presence gossip.
 *
 * <p>Each node with clients owns a versioned set of its users ({@link NodeSet}) and keeps a
 * replica of every other node's, as Phoenix Tracker does: changes go out as batched deltas, each
 * one version; heartbeats carry only the version, the count and a digest; a node that sees a
 * version gap, a fingerprint that differs or a node it does not know asks that node for its
 * full state ({@code sb.node.<id>.presence}).
 *
 * <p>A user is online while any node has them. Exactly one node announces each change: the node
 * where the first connection opened, the node where the last one closed (after a short grace,
 * so a quick reconnect or a move to another node does not flap) — of nodes where that happened
 * at the same moment, the lowest — or, for the users of a node that died or went silent, the
 * <em>leader</em> (the live presence node with the lowest id). An
 * announcement reads the users' conversations once and goes to the cluster as one message; each
 * node hands it to its gateway, which delivers it once to every local connection following any
 * of those conversations, and to its services on {@code sb.presence.changes}. Announcements are
 * ordered per user by the announcing node's clock, so one that arrives late changes nothing.
 *
 * <p>A node without the HTTP role has no clients: it only passes announcements to its services.
 */
public final class PresenceVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(PresenceVerticle.class);

  /** Deltas and announcements go out in batches this often. */
  static final long TICK_MS = 150;
  /**
   * Offline checks run this often, so users who leave together (a proxy restarts, a node drains)
   * are announced together: one read and one message for hundreds of them.
   */
  static final long DUE_MS = 500;
  static final long HEARTBEAT_MS = 2000;
  /** Silent nodes, {@code last_seen_at} writes, forgetting old announcements. */
  static final long CHECK_MS = 1000;
  static final long OFFLINE_GRACE_MS = 1000;
  /**
   * A first connection is announced this long after it opened, once the deltas of nodes where the
   * same user connected at the same moment have arrived: then only the lowest of them speaks.
   */
  static final long ONLINE_SETTLE_MS = 300;
  /** Leaves on two nodes this close together are one change: only the lower node announces it. */
  static final long CONCURRENT_MS = OFFLINE_GRACE_MS + DUE_MS;
  /** When the node where a user left dies within the grace, the leader speaks this long after the leave. */
  static final long BACKSTOP_MS = 3000;
  static final long SYNC_TIMEOUT_MS = 5000;
  /** At start, how long a node waits for the others' states before it lets clients in. */
  static final long START_SYNC_TIMEOUT_MS = 3000;
  /** Users per statement and per announcement read. */
  static final int BATCH = 500;
  /** Conversation ids per announcement message, at most (a user in many groups makes it long). */
  static final int IDS_PER_MESSAGE = 5000;
  /** Deltas kept while a full state is on its way; past this the next heartbeat asks again. */
  static final int MAX_BUFFERED = 100;
  /** An offline announcement is remembered this long, to order a late one against it. */
  static final long FORGET_MS = 300_000;

  private final NodeContext node;
  private final Gateway gateway;
  private final boolean services;
  private final String me;
  private final long timeoutMs;
  private final DeliveryOptions local = new DeliveryOptions().setLocalOnly(true);

  /** This node's users, as last published (version) and as now (content). */
  private final NodeSet mine = new NodeSet();
  /** Changes of {@link #mine} since the last delta, the final state of each user. */
  private final Map<String, Boolean> delta = new LinkedHashMap<>();
  private final Map<String, Replica> replicas = new HashMap<>();
  /** The last announcement of each user, by any node: what clients were last told. */
  private final Map<String, Announced> announced = new HashMap<>();
  /** Users who left somewhere and are online nowhere: check, when due, whether to announce it. */
  private final Map<String, Due> due = new HashMap<>();
  /** First connections here, waiting {@link #ONLINE_SETTLE_MS} to be announced. */
  private final Map<String, Long> joining = new LinkedHashMap<>();
  /** The lowest node a user recently left, and when this node heard of it. */
  private final Map<String, Left> recentlyLeft = new HashMap<>();
  private final List<Change> toAnnounce = new ArrayList<>();
  /** last_seen_at not written yet, newest per user. */
  private final Map<String, Long> seen = new HashMap<>();
  private boolean writingSeen;
  private boolean readFailing;
  private boolean writeFailing;
  private boolean stopping;
  private final List<Long> timers = new ArrayList<>();

  /** Another node's set, as far as its gossip told. */
  private static final class Replica {
    final NodeSet set = new NodeSet();
    long lastHeard = System.currentTimeMillis();
    boolean syncing;
    final List<JsonObject> buffered = new ArrayList<>();
  }

  /** What clients were last told about a user, the announcing node's clock at that change, and that node. */
  private record Announced(boolean online, long at, String by) {
  }

  /** An offline check: {@code mine} when the last connection closed here (this node speaks). */
  private record Due(long dueAt, long at, boolean mine, boolean deferred) {
  }

  /** A user's leave of another node, as heard here. */
  private record Left(String nodeId, long heardAt) {
  }

  /** A decided announcement. */
  private record Change(String userId, boolean online, long at) {
  }

  /**
   * @param gateway  this node's gateway, or null on a node without clients (listener only)
   * @param services whether this node runs the service verticles (its own call watcher is then local)
   */
  public PresenceVerticle(NodeContext node, Gateway gateway, boolean services) {
    this.node = node;
    this.gateway = gateway;
    this.services = services;
    this.me = node.nodeId();
    this.timeoutMs = node.config().presenceNodeTimeoutSeconds() * 1000L;
  }

  @Override
  public Future<?> start() {
    MessageConsumer<JsonObject> gossip = vertx.eventBus().consumer(Addresses.PRESENCE_GOSSIP, this::onGossip);
    if (gateway == null) {
      timers.add(vertx.setPeriodic(CHECK_MS, id -> forget(System.currentTimeMillis())));
      return gossip.completion();
    }
    MessageConsumer<JsonObject> reports = vertx.eventBus().localConsumer(Addresses.PRESENCE, this::onReport);
    MessageConsumer<JsonObject> state = vertx.eventBus().consumer(Addresses.nodePresence(me), this::onStateRequest);
    MessageConsumer<JsonObject> query = vertx.eventBus().localConsumer(Addresses.PRESENCE_QUERY, this::onQuery);
    timers.add(vertx.setPeriodic(TICK_MS, id -> tick()));
    timers.add(vertx.setPeriodic(DUE_MS, id -> processDue(System.currentTimeMillis())));
    timers.add(vertx.setPeriodic(HEARTBEAT_MS, id -> heartbeat()));
    timers.add(vertx.setPeriodic(CHECK_MS, id -> check()));
    return Future.all(List.of(gossip.completion(), reports.completion(), state.completion(), query.completion()))
      .compose(v -> syncAtStart())
      .onSuccess(v -> heartbeat());
  }

  @Override
  public Future<?> stop() {
    timers.forEach(vertx::cancelTimer);
    stopping = true;
    if (gateway == null) {
      return Future.succeededFuture();
    }
    // The last changes reach the others, so their replicas (and the leader's checks) are right.
    flushDelta();
    processDue(System.currentTimeMillis());
    return Future.join(announce(), writeSeen()).otherwiseEmpty();
  }

  // ---- this node's users ----

  /** The gateway's report; the gateway itself says whether the user is here now. */
  private void onReport(Message<JsonObject> msg) {
    JsonObject p = msg.body().getJsonObject("payload", new JsonObject());
    String userId = p.getString("userId");
    if (userId == null) {
      return;
    }
    boolean here = gateway.isLocal(userId);
    if (here && !mine.contains(userId)) {
      opened(userId);
    } else if (!here && mine.contains(userId)) {
      closed(userId);
    }
  }

  private void opened(String userId) {
    mine.add(userId);
    delta.put(userId, true);
    Announced a = announced.get(userId);
    if (a == null || !a.online()) {
      joining.putIfAbsent(userId, System.currentTimeMillis());
    }
  }

  /**
   * First connections that have settled: announced unless someone did meanwhile, or a node with a
   * lower id has the user too (it speaks, so of nodes where a user connected at about the same
   * time only the lowest does). A user whose connection closed meanwhile is still in their
   * offline grace here (a long-poll between two polls), so is announced too.
   */
  private void processJoining(long now) {
    for (Iterator<Map.Entry<String, Long>> it = joining.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Long> e = it.next();
      if (e.getValue() + ONLINE_SETTLE_MS > now) {
        continue;
      }
      it.remove();
      String userId = e.getKey();
      Announced a = announced.get(userId);
      if ((mine.contains(userId) || due.containsKey(userId)) && (a == null || !a.online()) && !lowerNodeHas(userId)) {
        decide(userId, true, e.getValue());
      }
    }
  }

  private boolean lowerNodeHas(String userId) {
    for (Map.Entry<String, Replica> e : replicas.entrySet()) {
      if (e.getKey().compareTo(me) < 0 && e.getValue().set.contains(userId)) {
        return true;
      }
    }
    return false;
  }

  private void closed(String userId) {
    mine.remove(userId);
    delta.put(userId, false);
    long now = System.currentTimeMillis();
    due.put(userId, new Due(now + OFFLINE_GRACE_MS, now, true, false));
  }

  /** Reports can be lost or overtaken; every heartbeat the gateway's own list settles it. */
  private void reconcile() {
    Set<String> local = gateway.localUsers();
    for (String userId : local) {
      if (!mine.contains(userId)) {
        opened(userId);
      }
    }
    for (String userId : List.copyOf(mine.users())) {
      if (!local.contains(userId)) {
        closed(userId);
      }
    }
  }

  private void tick() {
    processJoining(System.currentTimeMillis());
    flushDelta();
    announce();
  }

  private void flushDelta() {
    if (delta.isEmpty()) {
      return;
    }
    JsonArray joins = new JsonArray();
    JsonArray leaves = new JsonArray();
    delta.forEach((userId, online) -> (online ? joins : leaves).add(userId));
    delta.clear();
    mine.version(mine.version() + 1);
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP, Envelope.of(Presence.DELTA, new JsonObject()
      .put("nodeId", me).put("version", mine.version()).put("joins", joins).put("leaves", leaves)).toJson());
  }

  private void heartbeat() {
    reconcile();
    flushDelta();
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP, Envelope.of(Presence.HEARTBEAT, new JsonObject()
      .put("nodeId", me).put("version", mine.version()).put("count", mine.size()).put("digest", mine.digest())).toJson());
  }

  /** The whole set, at the version of the last delta (pending changes go out first, in order). */
  private void onStateRequest(Message<JsonObject> msg) {
    flushDelta();
    msg.reply(Envelope.of(Presence.STATE, new JsonObject().put("nodeId", me).put("version", mine.version())
      .put("users", new JsonArray(List.copyOf(mine.users())))).toJson());
  }

  /** Which of some users are connected anywhere, as this node knows it. */
  private void onQuery(Message<JsonObject> msg) {
    JsonArray online = new JsonArray();
    for (Object u : msg.body().getJsonArray("userIds", new JsonArray())) {
      if (u instanceof String userId && onlineAnywhere(userId)) {
        online.add(userId);
      }
    }
    msg.reply(new JsonObject().put("online", online));
  }

  // ---- the other nodes ----

  private void onGossip(Message<JsonObject> msg) {
    JsonObject envelope = msg.body();
    JsonObject p = envelope.getJsonObject("payload", new JsonObject());
    String from = p.getString("nodeId");
    if (from == null) {
      return;
    }
    String type = envelope.getString("type", "");
    if (Presence.ANNOUNCE.equals(type)) {
      onAnnounce(p);
      return;
    }
    if (gateway == null || from.equals(me)) {
      return;
    }
    if (Presence.DELTA.equals(type)) {
      onDelta(from, p);
    } else if (Presence.HEARTBEAT.equals(type)) {
      onHeartbeat(from, p);
    }
  }

  private void onDelta(String from, JsonObject p) {
    Replica r = replicas.get(from);
    if (r == null) {
      r = meet(from);
      if (r == null) {
        return;
      }
      buffer(r, p);
      return;
    }
    r.lastHeard = System.currentTimeMillis();
    long version = p.getLong("version", 0L);
    if (r.syncing) {
      buffer(r, p);
    } else if (version == r.set.version() + 1) {
      apply(r, p);
    } else if (version > r.set.version() + 1) {
      buffer(r, p);
      sync(from, r);
    }
    // An older version is one a full state already had.
  }

  private void onHeartbeat(String from, JsonObject p) {
    Replica r = replicas.get(from);
    if (r == null) {
      meet(from);
      return;
    }
    r.lastHeard = System.currentTimeMillis();
    if (!r.syncing && !r.set.matches(p.getLong("version", 0L), p.getInteger("count", 0), p.getLong("digest", 0L))) {
      sync(from, r);
    }
  }

  /** A node heard of for the first time: its full state is asked for. Null for a node not (or no longer) in the cluster. */
  private Replica meet(String nodeId) {
    if (!members().contains(nodeId)) {
      return null;
    }
    Replica r = new Replica();
    replicas.put(nodeId, r);
    sync(nodeId, r);
    return r;
  }

  private static void buffer(Replica r, JsonObject delta) {
    if (r.buffered.size() < MAX_BUFFERED) {
      r.buffered.add(delta);
    }
  }

  private void apply(Replica r, JsonObject delta) {
    long now = System.currentTimeMillis();
    delta.getJsonArray("joins", new JsonArray()).forEach(u -> r.set.add((String) u));
    String from = delta.getString("nodeId");
    for (Object u : delta.getJsonArray("leaves", new JsonArray())) {
      if (r.set.remove((String) u)) {
        heardLeave((String) u, from, now);
        left((String) u, now, now + BACKSTOP_MS);
      }
    }
    r.set.version(delta.getLong("version", 0L));
  }

  /** Remembers, for a while, the lowest node a user left. */
  private void heardLeave(String userId, String nodeId, long now) {
    if (nodeId == null) {
      return;
    }
    recentlyLeft.merge(userId, new Left(nodeId, now), (old, next) ->
      now - old.heardAt() > CONCURRENT_MS || next.nodeId().compareTo(old.nodeId()) < 0 ? next : old);
  }

  private Future<Void> sync(String nodeId, Replica r) {
    r.syncing = true;
    return vertx.eventBus().<JsonObject>request(Addresses.nodePresence(nodeId), new JsonObject().put("nodeId", me),
        new DeliveryOptions().setSendTimeout(SYNC_TIMEOUT_MS))
      .<Void>map(reply -> {
        if (replicas.get(nodeId) == r) {
          r.syncing = false;
          replace(r, reply.body().getJsonObject("payload", new JsonObject()));
        }
        return null;
      })
      .recover(t -> {
        if (replicas.get(nodeId) == r) {
          r.syncing = false;
          r.buffered.clear();
          if (t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
            // A member without clients (services only): not a presence node.
            replicas.remove(nodeId);
          } else {
            LOG.debug("presence state of node {} not received: {}", nodeId, t.getMessage());
          }
        }
        return Future.succeededFuture();
      });
  }

  /** A full state: the replica becomes it, then takes the deltas that came after it. */
  private void replace(Replica r, JsonObject state) {
    long now = System.currentTimeMillis();
    List<String> users = new ArrayList<>();
    state.getJsonArray("users", new JsonArray()).forEach(u -> users.add((String) u));
    for (String gone : r.set.replace(users, state.getLong("version", 0L))) {
      left(gone, now, now + BACKSTOP_MS);
    }
    // Online somewhere, so announced (or about to be) by whoever has them; a node that just
    // started learns here what its clients' co-members were already told.
    users.forEach(u -> announced.putIfAbsent(u, new Announced(true, 0, null)));
    r.lastHeard = now;
    r.buffered.sort(Comparator.comparingLong(d -> d.getLong("version", 0L)));
    for (JsonObject d : r.buffered) {
      if (d.getLong("version", 0L) == r.set.version() + 1) {
        apply(r, d);
      }
    }
    r.buffered.clear();
  }

  /** At start, every member's state, so the node knows who is online before its clients come. */
  private Future<Void> syncAtStart() {
    List<Future<Void>> all = new ArrayList<>();
    for (String nodeId : members()) {
      if (!nodeId.equals(me) && !replicas.containsKey(nodeId)) {
        Replica r = new Replica();
        replicas.put(nodeId, r);
        all.add(sync(nodeId, r));
      }
    }
    return Future.join(all).<Void>mapEmpty().timeout(START_SYNC_TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
      .otherwiseEmpty();
  }

  /** Nodes gone from the cluster, or silent past the timeout, take their users' presence with them. */
  private void check() {
    long now = System.currentTimeMillis();
    List<String> members = members();
    Set<String> gone = new java.util.HashSet<>();
    for (Iterator<Map.Entry<String, Replica>> it = replicas.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Replica> e = it.next();
      Replica r = e.getValue();
      if (members.contains(e.getKey()) && now - r.lastHeard <= timeoutMs) {
        continue;
      }
      it.remove();
      gone.add(e.getKey());
      LOG.info("node {} left or went silent; dropping presence of {} user(s)", e.getKey(), r.set.size());
      for (String userId : r.set.users()) {
        left(userId, now, now);
      }
    }
    if (!gone.isEmpty() && isLeader()) {
      rewatch(gone, now);
    }
    processDue(now);
    writeSeen();
    forget(now);
  }

  /**
   * The drop timers of calls live on the node that announced the offline. When that node is gone
   * before they ran, the leader hands its recent offline users to a watcher again (one read tells
   * which of them are still in a call).
   */
  private void rewatch(Set<String> gone, long now) {
    long window = OFFLINE_GRACE_MS + node.config().calls().dropSeconds() * 1000L + timeoutMs + CHECK_MS;
    JsonArray userIds = new JsonArray();
    announced.forEach((userId, a) -> {
      if (!a.online() && a.by() != null && gone.contains(a.by()) && now - a.at() <= window && !onlineAnywhere(userId)) {
        userIds.add(userId);
      }
    });
    watch(userIds);
  }

  private void watch(JsonArray userIds) {
    if (!userIds.isEmpty()) {
      vertx.eventBus().send(Addresses.CALL_WATCH, Envelope.of(Presence.WATCH,
        new JsonObject().put("nodeId", me).put("userIds", userIds)).toJson(), new DeliveryOptions().setLocalOnly(services));
    }
  }

  private void forget(long now) {
    announced.values().removeIf(a -> !a.online() && now - a.at() > FORGET_MS);
    recentlyLeft.values().removeIf(l -> now - l.heardAt() > 2 * CONCURRENT_MS);
  }

  /**
   * A user left another node (or went with it). If they are online nowhere, the leader checks
   * again at {@code dueAt}: for a leave, once the node where it happened had its chance to speak;
   * for a node that is gone, at once.
   */
  private void left(String userId, long at, long dueAt) {
    if (!onlineAnywhere(userId)) {
      due.merge(userId, new Due(dueAt, at, false, false), (old, next) -> old.mine() || old.dueAt() <= next.dueAt() ? old : next);
    }
  }

  /**
   * Offline checks that are due. The node where the last connection closed speaks for its own
   * users; the leader for everyone else's. A non-leader keeps its checks a while, so if the
   * leader itself is gone the next one still speaks.
   */
  private void processDue(long now) {
    if (due.isEmpty()) {
      return;
    }
    boolean leader = isLeader();
    for (Iterator<Map.Entry<String, Due>> it = due.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Due> e = it.next();
      Due d = e.getValue();
      if (d.dueAt() > now) {
        continue;
      }
      String userId = e.getKey();
      Announced a = announced.get(userId);
      Left l = recentlyLeft.get(userId);
      if (onlineAnywhere(userId) || a == null || !a.online()) {
        it.remove();
      } else if (d.mine() && !d.deferred() && l != null && l.nodeId().compareTo(me) < 0
        && Math.abs(l.heardAt() - d.at()) <= CONCURRENT_MS) {
        // The user left a lower node at about the same time: that node speaks. Should it not
        // (it saw the user here when it checked), this node does, a little later.
        e.setValue(new Due(now + BACKSTOP_MS, d.at(), true, true));
      } else if (d.mine() || leader) {
        it.remove();
        decide(userId, false, d.at());
      } else if (now - d.at() > timeoutMs + BACKSTOP_MS) {
        it.remove();
      }
    }
  }

  /** The lowest node id among the live presence nodes speaks for the others. */
  private boolean isLeader() {
    for (String id : replicas.keySet()) {
      if (id.compareTo(me) < 0) {
        return false;
      }
    }
    return true;
  }

  private boolean onlineAnywhere(String userId) {
    if (mine.contains(userId)) {
      return true;
    }
    for (Replica r : replicas.values()) {
      if (r.set.contains(userId)) {
        return true;
      }
    }
    return false;
  }

  private List<String> members() {
    return node.clusterManager() == null ? List.of(me) : node.clusterManager().getNodes();
  }

  // ---- announcements ----

  private void decide(String userId, boolean online, long at) {
    announced.put(userId, new Announced(online, at, me));
    toAnnounce.add(new Change(userId, online, at));
    seen.merge(userId, at, Math::max);
  }

  /**
   * Sends what was decided since the last tick: the call watcher hears of the offline ones at
   * once; then one read of the users' conversations per {@link #BATCH} users, and one message
   * to the cluster. If the read fails the announcement still goes out, without conversations:
   * services and the other nodes' state must not miss it; clients do, and the failure is logged.
   */
  private Future<Void> announce() {
    if (toAnnounce.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Change> batch = new ArrayList<>(toAnnounce);
    toAnnounce.clear();
    JsonArray offline = new JsonArray();
    batch.stream().filter(c -> !c.online()).forEach(c -> offline.add(c.userId()));
    watch(offline);
    List<Future<Void>> sent = new ArrayList<>();
    for (int i = 0; i < batch.size(); i += BATCH) {
      List<Change> part = batch.subList(i, Math.min(batch.size(), i + BATCH));
      List<String> ids = part.stream().map(Change::userId).distinct().toList();
      sent.add(PresenceStore.conversations(node.pool(), ids)
        .map(convs -> {
          if (readFailing) {
            readFailing = false;
            LOG.info("presence reads conversations again");
          }
          return convs;
        })
        .recover(t -> {
          if (!readFailing) {
            readFailing = true;
            LOG.warn("presence cannot read conversations ({}); announcing to services only until it can", t.toString());
          }
          return Future.succeededFuture(Map.of());
        })
        .map(convs -> {
          publishAnnouncements(part, convs);
          return null;
        }));
    }
    return Future.join(sent).mapEmpty();
  }

  private void publishAnnouncements(List<Change> part, Map<String, List<String>> convs) {
    JsonArray changes = new JsonArray();
    int ids = 0;
    for (Change c : part) {
      List<String> conversationIds = convs.getOrDefault(c.userId(), List.of());
      if (!changes.isEmpty() && ids + conversationIds.size() > IDS_PER_MESSAGE) {
        publishAnnouncement(changes);
        changes = new JsonArray();
        ids = 0;
      }
      JsonObject event = new Envelope(c.online() ? Types.USER_ONLINE : Types.USER_OFFLINE,
        new JsonObject().put("userId", c.userId()).put("lastSeenAt", Envelope.format(Instant.ofEpochMilli(c.at()))),
        null, Envelope.now()).toJson();
      changes.add(new JsonObject().put("userId", c.userId()).put("online", c.online()).put("at", c.at())
        .put("event", event).put("conversationIds", new JsonArray(conversationIds)));
      ids += conversationIds.size();
    }
    publishAnnouncement(changes);
  }

  private void publishAnnouncement(JsonArray changes) {
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP,
      Envelope.of(Presence.ANNOUNCE, new JsonObject().put("nodeId", me).put("changes", changes)).toJson());
  }

  /**
   * Every node, the announcer included: clients and services hear of each change that is not
   * older than what was last announced about that user (announcements of two nodes can arrive
   * out of order). A node that has the user connected while the cluster says offline corrects it.
   */
  private void onAnnounce(JsonObject p) {
    JsonArray forServices = new JsonArray();
    long now = System.currentTimeMillis();
    for (Object o : p.getJsonArray("changes", new JsonArray())) {
      if (!(o instanceof JsonObject c) || !(c.getValue("userId") instanceof String userId)) {
        continue;
      }
      boolean online = c.getBoolean("online", false);
      long at = c.getLong("at", 0L);
      Announced last = announced.get(userId);
      if (last != null && (last.at() > at || (last.at() == at && last.online() && !online))) {
        continue;
      }
      announced.put(userId, new Announced(online, at, p.getString("nodeId")));
      if (gateway != null) {
        List<String> conversationIds = new ArrayList<>();
        c.getJsonArray("conversationIds", new JsonArray()).forEach(id -> conversationIds.add((String) id));
        gateway.deliverToConversations(c.getJsonObject("event"), conversationIds, userId);
        if (!online && mine.contains(userId)) {
          joining.put(userId, Math.max(now, at + 1));
        }
      }
      forServices.add(new JsonObject().put("userId", userId).put("online", online));
    }
    if (!forServices.isEmpty()) {
      vertx.eventBus().publish(Addresses.PRESENCE_CHANGES,
        Envelope.of(Presence.CHANGES, new JsonObject().put("changes", forServices)).toJson(), local);
    }
  }

  /** One statement per interval for every user whose presence was announced here; kept for the next try on failure. */
  private Future<Void> writeSeen() {
    if (seen.isEmpty() || writingSeen) {
      return Future.succeededFuture();
    }
    Map<String, Long> batch = new HashMap<>();
    for (Iterator<Map.Entry<String, Long>> it = seen.entrySet().iterator(); it.hasNext() && batch.size() < 2 * BATCH; ) {
      Map.Entry<String, Long> e = it.next();
      batch.put(e.getKey(), e.getValue());
      it.remove();
    }
    writingSeen = true;
    return PresenceStore.seen(node.pool(), batch)
      .onComplete(ar -> writingSeen = false)
      .onSuccess(v -> {
        if (writeFailing) {
          writeFailing = false;
          LOG.info("presence writes last_seen_at again");
        }
      })
      .onFailure(t -> {
        batch.forEach((userId, at) -> seen.merge(userId, at, Math::max));
        if (!writeFailing && !stopping) {
          writeFailing = true;
          LOG.warn("presence cannot write last_seen_at ({}); retrying every {} ms", t.toString(), CHECK_MS);
        }
      });
  }
}
