package io.switchboard.presence;

import io.switchboard.NodeContext;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.switchboard.store.PresenceStore;
import io.vertx.core.Future;
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
import java.util.HashSet;
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
 * <p><b>Status</b> (SPEC §3b). A user's chosen status ({@code online}, {@code away},
 * {@code busy}, {@code invisible}) and text is one value per user, the newest winning (its time,
 * then the node that took it): set with {@code set_status} on any node, kept in PostgreSQL (a user
 * who went invisible stays so when they come back), and spread in the versioned deltas of the node
 * that took it, with full states carrying it too. Each node also marks its users idle after
 * {@code presence.awaySeconds} without a client command there; a user idle on every node that has
 * them, with status {@code online}, is shown {@code away}. What others are shown is the status,
 * or offline for an {@code invisible} user. When that changes while the user is connected, the
 * lowest node that has the user announces it — {@code presence_changed}, or {@code user_online} /
 * {@code user_offline} when visibility flips — in the same announcements, delivered once per
 * connection through the gateway. {@code user_online} carries the status and text; an invisible
 * user's connections are announced to the other nodes and services, but not to clients.
 *
 * <p>It also answers {@code set_status}, {@code get_presence} and {@code get_conversation_presence}
 * from its replica (on nodes with clients).
 *
 * <p>A node without the HTTP role has no clients: it only passes announcements to its services.
 */
public final class PresenceVerticle extends ServiceVerticle {

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
  /** What others see of a user who is not connected, or is invisible. */
  static final String OFFLINE = "offline";
  static final Set<String> STATUSES = Set.of("online", "away", "busy", "invisible");
  static final int MAX_STATUS_TEXT = 100;
  static final int MAX_QUERY_USERS = 100;
  /** A user who never chose a status. */
  static final Status DEFAULT_STATUS = new Status("online", null, 0, "");

  private final NodeContext node;
  private final Gateway gateway;
  private final boolean services;
  private final String me;
  private final long timeoutMs;
  private final long awayMs;
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
  /** This node's users: when their first connection here opened (the idle clock starts there). */
  private final Map<String, Long> since = new HashMap<>();
  /** Idle changes of {@link #mine} since the last delta, the final state of each user. */
  private final Map<String, Boolean> idleDelta = new LinkedHashMap<>();
  /** Statuses set on this node since the last delta. */
  private final Map<String, Status> statusDelta = new LinkedHashMap<>();
  /** The newest status of each user this node heard of (from commands, deltas, states, announcements, PostgreSQL). */
  private final Map<String, Status> statuses = new HashMap<>();
  /** What clients were last told of each user (by any node's announcement): the status shown, or offline. */
  private final Map<String, Shown> shown = new HashMap<>();
  /** What clients were told or are about to be told: {@link #shown} plus this node's decisions in flight. */
  private final Map<String, Shown> told = new HashMap<>();
  /** Users whose shown status may have changed since the last tick. */
  private final Set<String> dirty = new HashSet<>();
  /** Users whose connection change this node decided and has not published yet. */
  private final Set<String> inFlight = new HashSet<>();

  /** A status a user chose: the newest wins, by time, then by the id of the node that took it. */
  record Status(String status, String text, long at, String by) {

    boolean newerThan(Status other) {
      return other == null || at > other.at || (at == other.at && by.compareTo(other.by) > 0);
    }

    JsonObject toJson(String userId) {
      return new JsonObject().put("userId", userId).put("status", status).put("text", text).put("at", at).put("by", by);
    }

    static Status fromJson(JsonObject json) {
      String status = json.getString("status");
      return STATUSES.contains(status) && json.getValue("at") instanceof Number at
        ? new Status(status, json.getString("text"), at.longValue(), json.getString("by", "")) : null;
    }
  }

  /** What others are shown of a user: a status (online, away, busy) or offline, the text, and when it was decided. */
  private record Shown(String status, String text, long at) {

    boolean sameAs(Shown other) {
      return other != null && status.equals(other.status) && java.util.Objects.equals(text, other.text);
    }
  }

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

  /**
   * A decided announcement: a connection change (online anywhere, offline everywhere), or a
   * change of what others are shown of a connected user ({@code status}: from {@code before} to
   * {@code shown} with {@code text}).
   */
  private record Change(String userId, boolean online, long at, boolean status, String before, String shown,
                        String text) {

    static Change connection(String userId, boolean online, long at) {
      return new Change(userId, online, at, false, null, null, null);
    }
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
    this.awayMs = node.config().presenceAwaySeconds() * 1000L;
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
    handle(Types.SET_STATUS, this::setStatus);
    handle(Types.GET_PRESENCE, this::getPresence);
    handle(Types.GET_CONVERSATION_PRESENCE, this::getConversationPresence);
    timers.add(vertx.setPeriodic(TICK_MS, id -> tick()));
    timers.add(vertx.setPeriodic(DUE_MS, id -> processDue(System.currentTimeMillis())));
    timers.add(vertx.setPeriodic(HEARTBEAT_MS, id -> heartbeat()));
    timers.add(vertx.setPeriodic(CHECK_MS, id -> check()));
    return Future.all(List.of(gossip.completion(), reports.completion(), state.completion(), query.completion(),
        registered()))
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
    since.put(userId, System.currentTimeMillis());
    idleDelta.remove(userId);
    dirty.add(userId);
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
    since.remove(userId);
    idleDelta.remove(userId);
    dirty.add(userId);
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
    long now = System.currentTimeMillis();
    processJoining(now);
    // Idle users are looked at every tick, so a command brings a user back from away at once.
    scanIdle(now, false);
    flushDelta();
    reconcileStatuses(now);
    announce();
  }

  private void flushDelta() {
    if (delta.isEmpty() && idleDelta.isEmpty() && statusDelta.isEmpty()) {
      return;
    }
    JsonArray joins = new JsonArray();
    JsonArray leaves = new JsonArray();
    delta.forEach((userId, online) -> (online ? joins : leaves).add(userId));
    delta.clear();
    JsonObject body = new JsonObject().put("nodeId", me).put("joins", joins).put("leaves", leaves);
    if (!idleDelta.isEmpty()) {
      JsonArray idle = new JsonArray();
      JsonArray active = new JsonArray();
      idleDelta.forEach((userId, isIdle) -> (isIdle ? idle : active).add(userId));
      idleDelta.clear();
      body.put("idle", idle).put("active", active);
    }
    if (!statusDelta.isEmpty()) {
      JsonArray changed = new JsonArray();
      statusDelta.forEach((userId, status) -> changed.add(status.toJson(userId)));
      statusDelta.clear();
      body.put("statuses", changed);
    }
    mine.version(mine.version() + 1);
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP, Envelope.of(Presence.DELTA,
      body.put("version", mine.version())).toJson());
  }

  /**
   * Marks this node's users idle after {@code presence.awaySeconds} without a client command
   * here (counted from their first connection here), and active again after one.
   */
  private void scanIdle(long now, boolean everyone) {
    if (awayMs <= 0) {
      return;
    }
    for (String userId : List.copyOf(everyone ? mine.users() : mine.idleUsers())) {
      long last = Math.max(since.getOrDefault(userId, now), node.commands().lastCommandAt(userId));
      boolean idle = now - last >= awayMs;
      if (mine.idle(userId, idle)) {
        idleDelta.put(userId, idle);
        dirty.add(userId);
      }
    }
  }

  private void heartbeat() {
    reconcile();
    flushDelta();
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP, Envelope.of(Presence.HEARTBEAT, new JsonObject()
      .put("nodeId", me).put("version", mine.version()).put("count", mine.size()).put("digest", mine.digest())).toJson());
  }

  /**
   * The whole set, at the version of the last delta (pending changes go out first, in order), with
   * its idle users and the statuses of its users and of those set here.
   */
  private void onStateRequest(Message<JsonObject> msg) {
    flushDelta();
    JsonArray known = new JsonArray();
    statuses.forEach((userId, status) -> {
      if (mine.contains(userId) || me.equals(status.by())) {
        known.add(status.toJson(userId));
      }
    });
    msg.reply(Envelope.of(Presence.STATE, new JsonObject().put("nodeId", me).put("version", mine.version())
      .put("users", new JsonArray(List.copyOf(mine.users())))
      .put("idle", new JsonArray(List.copyOf(mine.idleUsers())))
      .put("statuses", known)).toJson());
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
    for (Object u : delta.getJsonArray("joins", new JsonArray())) {
      r.set.add((String) u);
      dirty.add((String) u);
    }
    String from = delta.getString("nodeId");
    for (Object u : delta.getJsonArray("leaves", new JsonArray())) {
      if (r.set.remove((String) u)) {
        dirty.add((String) u);
        heardLeave((String) u, from, now);
        left((String) u, now, now + BACKSTOP_MS);
      }
    }
    for (String key : List.of("idle", "active")) {
      for (Object u : delta.getJsonArray(key, new JsonArray())) {
        if (u instanceof String userId && r.set.idle(userId, "idle".equals(key))) {
          dirty.add(userId);
        }
      }
    }
    mergeStatuses(delta.getJsonArray("statuses"));
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
    List<String> idle = new ArrayList<>();
    state.getJsonArray("idle", new JsonArray()).forEach(u -> idle.add((String) u));
    for (String gone : r.set.replace(users, idle, state.getLong("version", 0L))) {
      dirty.add(gone);
      left(gone, now, now + BACKSTOP_MS);
    }
    dirty.addAll(users);
    mergeStatuses(state.getJsonArray("statuses"));
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
    scanIdle(now, true);
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
    // Statuses of users connected nowhere are read again from PostgreSQL when they come back.
    statuses.entrySet().removeIf(e -> now - e.getValue().at() > FORGET_MS && !onlineAnywhere(e.getKey()));
    shown.entrySet().removeIf(e -> OFFLINE.equals(e.getValue().status()) && now - e.getValue().at() > FORGET_MS);
    told.entrySet().removeIf(e -> OFFLINE.equals(e.getValue().status()) && now - e.getValue().at() > FORGET_MS);
    if (gateway != null) {
      node.commands().forgetCommands((userId, at) -> now - at > CHECK_MS * 60 && !mine.contains(userId));
    }
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
    toAnnounce.add(Change.connection(userId, online, at));
    inFlight.add(userId);
    // An invisible user's last-seen time does not move (others see them offline). Whether a user
    // coming online is invisible is known once their status is read, so theirs is recorded then.
    if (!online && !OFFLINE.equals(shownOf(userId))) {
      seen.merge(userId, at, Math::max);
    }
  }

  /**
   * Sends what was decided since the last tick: the call watcher hears of the offline ones at
   * once; then one read of the users' conversations per {@link #BATCH} users (and, for users
   * coming online, of the statuses they chose), and one message to the cluster. If the read fails
   * the announcement still goes out, without conversations: services and the other nodes' state
   * must not miss it; clients do, and the failure is logged.
   */
  private Future<Void> announce() {
    if (toAnnounce.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Change> batch = new ArrayList<>(toAnnounce);
    toAnnounce.clear();
    JsonArray offline = new JsonArray();
    batch.stream().filter(c -> !c.online() && !c.status()).forEach(c -> offline.add(c.userId()));
    watch(offline);
    List<Future<Void>> sent = new ArrayList<>();
    for (int i = 0; i < batch.size(); i += BATCH) {
      List<Change> part = batch.subList(i, Math.min(batch.size(), i + BATCH));
      List<String> ids = part.stream().map(Change::userId).distinct().toList();
      List<String> arriving = part.stream().filter(c -> c.online() && !c.status()).map(Change::userId).distinct().toList();
      Future<Map<String, PresenceStore.Status>> chosen = arriving.isEmpty()
        ? Future.succeededFuture(Map.of())
        : PresenceStore.statuses(node.pool(), arriving).onFailure(t -> LOG.warn(
          "presence cannot read the chosen status of {} arriving user(s) ({}); they are announced to services only",
          arriving.size(), t.toString()));
      Future<Map<String, List<String>>> conversations = PresenceStore.conversations(node.pool(), ids)
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
        });
      sent.add(Future.join(conversations, chosen).otherwiseEmpty().map(v -> {
        publishAnnouncements(part, conversations.result() == null ? Map.of() : conversations.result(),
          chosen.succeeded() ? chosen.result() : null);
        return null;
      }));
    }
    return Future.join(sent).mapEmpty();
  }

  /**
   * Publishes a batch's announcements. {@code chosen} is null when the arriving users' chosen
   * statuses could not be read: one of them this node knows no status of might be invisible, so
   * it is announced to services only (no conversation, so no client), never shown online by
   * mistake.
   */
  private void publishAnnouncements(List<Change> part, Map<String, List<String>> convs,
                                    Map<String, PresenceStore.Status> chosen) {
    JsonArray changes = new JsonArray();
    int ids = 0;
    for (Change c : part) {
      boolean unknown = chosen == null && c.online() && !c.status() && !statuses.containsKey(c.userId());
      List<String> conversationIds = unknown ? List.of() : convs.getOrDefault(c.userId(), List.of());
      if (!changes.isEmpty() && ids + conversationIds.size() > IDS_PER_MESSAGE) {
        publishAnnouncement(changes);
        changes = new JsonArray();
        ids = 0;
      }
      changes.add(announcement(c, chosen == null ? null : chosen.get(c.userId()))
        .put("conversationIds", new JsonArray(conversationIds)));
      ids += conversationIds.size();
    }
    publishAnnouncement(changes);
  }

  /**
   * One change as the cluster hears it: {@code {userId, online, at, shown, text, event}} and, for a
   * status change, {@code kind: "status"}; for a connection, the user's status. {@code event} is
   * what clients get, or null when they get nothing (an invisible user's connections).
   */
  private JsonObject announcement(Change c, PresenceStore.Status stored) {
    String userId = c.userId();
    String lastSeenAt = Envelope.format(Instant.ofEpochMilli(c.at()));
    JsonObject entry = new JsonObject().put("userId", userId).put("online", c.online()).put("at", c.at());
    if (c.status()) {
      JsonObject event;
      if (OFFLINE.equals(c.before())) {
        event = presenceEvent(Types.USER_ONLINE, userId, lastSeenAt, c.shown(), c.text());
      } else if (OFFLINE.equals(c.shown())) {
        event = presenceEvent(Types.USER_OFFLINE, userId, lastSeenAt, null, null);
      } else {
        event = presenceEvent(Types.PRESENCE_CHANGED, userId, null, c.shown(), c.text());
      }
      return entry.put("kind", "status").put("shown", c.shown()).put("text", c.text()).put("event", event);
    }
    inFlight.remove(userId);
    if (stored != null) {
      mergeStatus(userId, new Status(stored.status(), stored.text(), stored.at(), ""));
    }
    Status status = statuses.getOrDefault(userId, DEFAULT_STATUS);
    JsonObject event = null;
    Shown next;
    if (c.online()) {
      String shownStatus = shownStatus(userId);
      String text = OFFLINE.equals(shownStatus) ? null : status.text();
      next = new Shown(shownStatus, text, c.at());
      if (!OFFLINE.equals(shownStatus)) {
        event = presenceEvent(Types.USER_ONLINE, userId, lastSeenAt, shownStatus, text);
        seen.merge(userId, c.at(), Math::max);
      }
    } else {
      next = new Shown(OFFLINE, null, c.at());
      if (!OFFLINE.equals(shownOf(userId))) {
        event = presenceEvent(Types.USER_OFFLINE, userId, lastSeenAt, null, null);
      }
    }
    told.merge(userId, next, (old, n) -> old.at() > n.at() ? old : n);
    return entry.put("shown", next.status()).put("text", next.text()).put("event", event)
      .put("status", status == DEFAULT_STATUS ? null : status.toJson(userId));
  }

  private static JsonObject presenceEvent(String type, String userId, String lastSeenAt, String status, String text) {
    JsonObject payload = new JsonObject().put("userId", userId);
    if (lastSeenAt != null) {
      payload.put("lastSeenAt", lastSeenAt);
    }
    if (status != null) {
      payload.put("status", status).put("text", text);
    }
    return new Envelope(type, payload, null, Envelope.now()).toJson();
  }

  private void publishAnnouncement(JsonArray changes) {
    vertx.eventBus().publish(Addresses.PRESENCE_GOSSIP,
      Envelope.of(Presence.ANNOUNCE, new JsonObject().put("nodeId", me).put("changes", changes)).toJson());
  }

  /**
   * Every node, the announcer included: clients and services hear of each change that is not
   * older than what was last announced about that user (announcements of two nodes can arrive
   * out of order). A node that has the user connected while the cluster says offline corrects it.
   * Status changes reach clients only; the services hear of connections.
   */
  private void onAnnounce(JsonObject p) {
    JsonArray forServices = new JsonArray();
    long now = System.currentTimeMillis();
    for (Object o : p.getJsonArray("changes", new JsonArray())) {
      if (!(o instanceof JsonObject c) || !(c.getValue("userId") instanceof String userId)) {
        continue;
      }
      if ("status".equals(c.getString("kind"))) {
        onStatusAnnounced(userId, c);
        continue;
      }
      boolean online = c.getBoolean("online", false);
      long at = c.getLong("at", 0L);
      Announced last = announced.get(userId);
      if (last != null && (last.at() > at || (last.at() == at && last.online() && !online))) {
        continue;
      }
      announced.put(userId, new Announced(online, at, p.getString("nodeId")));
      if (c.getValue("status") instanceof JsonObject status) {
        mergeStatus(userId, Status.fromJson(status));
      }
      String shownStatus = c.getString("shown", online ? "online" : OFFLINE);
      Shown next = new Shown(shownStatus, c.getString("text"), at);
      shown.merge(userId, next, (old, n) -> old.at() > n.at() ? old : n);
      told.merge(userId, next, (old, n) -> old.at() > n.at() ? old : n);
      if (gateway != null) {
        dirty.add(userId);
        List<String> conversationIds = new ArrayList<>();
        c.getJsonArray("conversationIds", new JsonArray()).forEach(id -> conversationIds.add((String) id));
        if (c.getValue("event") instanceof JsonObject event) {
          gateway.deliverToConversations(event, conversationIds, userId);
        }
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

  /**
   * A change of what others are shown of a connected user. Ordered with the connection changes by
   * the deciding nodes' clocks; delivered only when it differs from what clients were last told,
   * so two nodes announcing the same change reach each connection once.
   */
  private void onStatusAnnounced(String userId, JsonObject c) {
    long at = c.getLong("at", 0L);
    String shownStatus = c.getString("shown");
    if (shownStatus == null) {
      return;
    }
    Shown next = new Shown(shownStatus, c.getString("text"), at);
    Shown current = shown.get(userId);
    if (current != null && current.at() > at) {
      return;
    }
    shown.put(userId, next);
    told.merge(userId, next, (old, n) -> old.at() > n.at() ? old : n);
    if (gateway == null) {
      return;
    }
    dirty.add(userId);
    if (!next.sameAs(current) && c.getValue("event") instanceof JsonObject event) {
      List<String> conversationIds = new ArrayList<>();
      c.getJsonArray("conversationIds", new JsonArray()).forEach(id -> conversationIds.add((String) id));
      gateway.deliverToConversations(event, conversationIds, userId);
    }
  }

  // ---- status (SPEC §3b) ----

  /**
   * What others are shown of a connected user: offline when invisible, away when their status is
   * online and they are idle on every node that has them, else their status.
   */
  private String shownStatus(String userId) {
    Status status = statuses.getOrDefault(userId, DEFAULT_STATUS);
    if ("invisible".equals(status.status())) {
      return OFFLINE;
    }
    if ("online".equals(status.status()) && idleEverywhere(userId)) {
      return "away";
    }
    return status.status();
  }

  /** What others are shown of a user now: {@link #shownStatus} while connected, else offline. */
  private String view(String userId) {
    return onlineAnywhere(userId) ? shownStatus(userId) : OFFLINE;
  }

  /** A user's own view of their status: as others see it, but invisible when invisible. */
  private String ownView(String userId) {
    if (!onlineAnywhere(userId)) {
      return OFFLINE;
    }
    Status status = statuses.getOrDefault(userId, DEFAULT_STATUS);
    return "invisible".equals(status.status()) ? "invisible" : shownStatus(userId);
  }

  private String shownOf(String userId) {
    Shown s = shown.get(userId);
    return s == null ? null : s.status();
  }

  private boolean idleEverywhere(String userId) {
    boolean any = false;
    if (mine.contains(userId)) {
      if (!mine.isIdle(userId)) {
        return false;
      }
      any = true;
    }
    for (Replica r : replicas.values()) {
      if (r.set.contains(userId)) {
        if (!r.set.isIdle(userId)) {
          return false;
        }
        any = true;
      }
    }
    return any;
  }

  private void mergeStatuses(JsonArray changed) {
    if (changed == null) {
      return;
    }
    for (Object o : changed) {
      if (o instanceof JsonObject json && json.getValue("userId") instanceof String userId) {
        mergeStatus(userId, Status.fromJson(json));
      }
    }
  }

  /** Keeps the newer of two statuses; true when {@code next} was newer. */
  private boolean mergeStatus(String userId, Status next) {
    if (next == null || !next.newerThan(statuses.get(userId))) {
      return false;
    }
    statuses.put(userId, next);
    if (gateway != null) {
      dirty.add(userId);
    }
    return true;
  }

  /**
   * Users whose shown status may have changed: the lowest node that has such a user connected
   * announces what others are shown now, when it differs from what they were told. Users with a
   * connection change on its way, or not yet announced online, wait for it.
   */
  private void reconcileStatuses(long now) {
    if (dirty.isEmpty()) {
      return;
    }
    List<String> users = List.copyOf(dirty);
    dirty.clear();
    for (String userId : users) {
      Announced a = announced.get(userId);
      if (inFlight.contains(userId) || joining.containsKey(userId) || a == null || !a.online()
        || !mine.contains(userId) || lowerNodeHas(userId)) {
        continue;
      }
      String next = shownStatus(userId);
      String text = OFFLINE.equals(next) ? null : statuses.getOrDefault(userId, DEFAULT_STATUS).text();
      Shown before = told.get(userId);
      if (before == null) {
        // Joined the cluster after the user's announcement: assume its clients were told this.
        told.put(userId, new Shown(next, text, now));
        continue;
      }
      if (before.status().equals(next) && java.util.Objects.equals(before.text(), text)) {
        continue;
      }
      long at = Math.max(now, before.at() + 1);
      told.put(userId, new Shown(next, text, at));
      toAnnounce.add(new Change(userId, !OFFLINE.equals(next), at, true, before.status(), next, text));
      if (OFFLINE.equals(before.status()) != OFFLINE.equals(next)) {
        // Visible again, or gone invisible: the last time others saw them.
        seen.merge(userId, at, Math::max);
      }
    }
  }

  /** {@code set_status {status, text?}}: kept in PostgreSQL, then spread in this node's next delta. */
  private Future<Envelope> setStatus(Command cmd) {
    JsonObject p = cmd.payload();
    String status = Fields.requiredString(p, "status", 16);
    if (!STATUSES.contains(status)) {
      throw ServiceException.invalid("'status' must be \"online\", \"away\", \"busy\" or \"invisible\"");
    }
    String text = Fields.optionalString(p, "text", MAX_STATUS_TEXT);
    if (text != null) {
      if (text.codePoints().anyMatch(ch -> Character.getType(ch) == Character.CONTROL)) {
        throw ServiceException.invalid("'text' must be one line without control characters");
      }
      text = text.strip().isEmpty() ? null : text.strip();
    }
    String userId = cmd.userId();
    Status current = statuses.get(userId);
    long at = Math.max(System.currentTimeMillis(), current == null ? 0 : current.at() + 1);
    Status next = new Status(status, text, at, me);
    String chosenText = text;
    return PresenceStore.setStatus(node.pool(), userId, new PresenceStore.Status(status, text, at))
      .recover(Db::failure)
      .map(v -> {
        if (mergeStatus(userId, next)) {
          statusDelta.put(userId, next);
        }
        JsonObject mine = new JsonObject().put("userId", userId).put("status", status).put("text", chosenText);
        // The user's other devices learn it too (presence events about a user never reach the user otherwise).
        publish(Addresses.user(userId), Types.PRESENCE_CHANGED, mine);
        return Envelope.of(Types.ACK, mine.copy());
      });
  }

  /** {@code get_presence {userIds}}: those of the users who share a conversation with the caller (and the caller). */
  private Future<Envelope> getPresence(Command cmd) {
    List<String> ids = Fields.stringList(cmd.payload(), "userIds", MAX_QUERY_USERS, 128);
    if (ids.isEmpty()) {
      throw ServiceException.invalid("'userIds' is required: 1 to " + MAX_QUERY_USERS + " user ids");
    }
    List<String> distinct = List.copyOf(new java.util.LinkedHashSet<>(ids));
    String viewer = cmd.userId();
    return PresenceStore.visibleTo(node.pool(), viewer, distinct).recover(Db::failure).map(visible -> {
      JsonArray users = new JsonArray();
      for (String userId : distinct) {
        if (visible.containsKey(userId)) {
          users.add(presenceOf(userId, viewer).put("lastSeenAt", visible.get(userId)));
        }
      }
      return Envelope.of(Types.PRESENCE, new JsonObject().put("users", users));
    });
  }

  /** {@code get_conversation_presence {conversationId}}: the members online now, as the caller sees them. */
  private Future<Envelope> getConversationPresence(Command cmd) {
    java.util.UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    String viewer = cmd.userId();
    return ConversationStore.requireMember(node.pool(), id, viewer)
      .compose(v -> ConversationStore.memberIds(node.pool(), id))
      .recover(Db::failure)
      .map(members -> {
        JsonArray online = new JsonArray();
        for (String userId : members) {
          JsonObject p = presenceOf(userId, viewer);
          if (p.getBoolean("online")) {
            p.remove("online");
            online.add(p);
          }
        }
        return Envelope.of(Types.CONVERSATION_PRESENCE,
          new JsonObject().put("conversationId", id.toString()).put("onlineUsers", online));
      });
  }

  /** {userId, online, status, text} as {@code viewer} may see it. */
  private JsonObject presenceOf(String userId, String viewer) {
    String status = userId.equals(viewer) ? ownView(userId) : view(userId);
    boolean online = !OFFLINE.equals(status);
    return new JsonObject().put("userId", userId).put("online", online).put("status", status)
      .put("text", online ? statuses.getOrDefault(userId, DEFAULT_STATUS).text() : null);
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
