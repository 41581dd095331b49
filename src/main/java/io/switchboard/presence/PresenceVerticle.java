package io.switchboard.presence;

import io.switchboard.NodeContext;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Types;
import io.switchboard.store.Db;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Cluster-wide presence (SPEC §4, DESIGN §5). Every node with clients keeps a replica of which
 * users each node has, fed by gossip on {@code sb.presence}: a message when a node's first
 * connection of a user opens or its last closes, and a heartbeat with the node's whole set.
 *
 * <p>A user is online while any node has them. The node where the change happened announces
 * {@code user_online}/{@code user_offline} to the users sharing a conversation; the offline
 * announcement waits a short grace so a quick reconnect (or a connection moving to another
 * node) does not flap. A node that leaves the cluster or stops heart-beating for
 * {@code presence.nodeTimeoutSeconds} is dropped, and the lowest-id live node announces its
 * users offline unless another node has them. A restarted node has a new id, so it leaves
 * no ghosts and no doubles.
 */
public final class PresenceVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(PresenceVerticle.class);

  static final long HEARTBEAT_MS = 2000;
  static final long CHECK_MS = 1000;
  static final long OFFLINE_GRACE_MS = 1000;
  static final String SEEN = """
    INSERT INTO users (id, last_seen_at) VALUES ($1, now())
    ON CONFLICT (id) DO UPDATE SET last_seen_at = now()
    RETURNING to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')""";
  static final String CO_MEMBERS = """
    SELECT DISTINCT m2.user_id FROM members m1
    JOIN members m2 ON m2.conversation_id = m1.conversation_id AND m2.left_seq IS NULL AND m2.user_id <> $1
    WHERE m1.user_id = $1 AND m1.left_seq IS NULL""";

  private final NodeContext node;
  private final Gateway gateway;
  private final Map<String, Set<String>> usersByNode = new HashMap<>();
  private final Map<String, Long> lastHeard = new HashMap<>();
  /** Users announced online (by any node) and not yet offline, replicated through CHANGED gossip. */
  private final Set<String> announcedOnline = new HashSet<>();
  private final long timeoutMs;
  private MessageConsumer<JsonObject> consumer;

  public PresenceVerticle(NodeContext node, Gateway gateway) {
    this.node = node;
    this.gateway = gateway;
    this.timeoutMs = node.config().presenceNodeTimeoutSeconds() * 1000L;
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().consumer(Addresses.PRESENCE, msg -> onGossip(msg.body()));
    vertx.setPeriodic(HEARTBEAT_MS, id -> heartbeat());
    vertx.setPeriodic(CHECK_MS, id -> dropSilentNodes());
    return consumer.completion().onSuccess(v -> heartbeat());
  }

  private void onGossip(JsonObject envelope) {
    JsonObject p = envelope.getJsonObject("payload", new JsonObject());
    String from = p.getString("nodeId");
    if (from == null) {
      return;
    }
    if (from.equals(node.nodeId()) && Presence.CHANGED.equals(envelope.getString("type"))) {
      return;
    }
    switch (envelope.getString("type", "")) {
      case Presence.NODE_USER -> {
        String userId = p.getString("userId");
        boolean online = p.getBoolean("online", false);
        boolean wasOnline = onlineAnywhere(userId);
        Set<String> users = usersByNode.computeIfAbsent(from, k -> new HashSet<>());
        if (online) {
          users.add(userId);
        } else {
          users.remove(userId);
        }
        boolean mine = from.equals(node.nodeId());
        if (online && mine && !wasOnline && announcedOnline.add(userId)) {
          announce(userId, true);
        } else if (!online) {
          // The node where it happened speaks after a short grace; should it die meanwhile, the
          // leader speaks a little later. Whoever speaks first removes the user from the
          // (replicated) announced set, so the other stays silent.
          vertx.setTimer(mine ? OFFLINE_GRACE_MS : 3 * OFFLINE_GRACE_MS, t -> {
            if (!onlineAnywhere(userId) && !gateway.isLocal(userId) && (mine || isLeader())
              && announcedOnline.remove(userId)) {
              announce(userId, false);
            }
          });
        }
      }
      case Presence.CHANGED -> {
        String userId = p.getString("userId");
        if (p.getBoolean("online", false)) {
          announcedOnline.add(userId);
        } else {
          announcedOnline.remove(userId);
        }
      }
      case Presence.NODE_STATE -> {
        lastHeard.put(from, System.currentTimeMillis());
        Set<String> users = new HashSet<>();
        p.getJsonArray("users", new JsonArray()).forEach(u -> users.add((String) u));
        usersByNode.put(from, users);
      }
      default -> {
      }
    }
  }

  private void heartbeat() {
    Set<String> local = gateway.localUsers();
    usersByNode.put(node.nodeId(), new HashSet<>(local));
    lastHeard.put(node.nodeId(), System.currentTimeMillis());
    vertx.eventBus().publish(Addresses.PRESENCE, Envelope.of(Presence.NODE_STATE,
      new JsonObject().put("nodeId", node.nodeId()).put("users", new JsonArray(List.copyOf(local)))).toJson());
  }

  /** Nodes gone from the cluster, or silent past the timeout, take their users' presence with them. */
  private void dropSilentNodes() {
    List<String> members = node.clusterManager() == null ? List.of(node.nodeId()) : node.clusterManager().getNodes();
    long now = System.currentTimeMillis();
    for (String nodeId : List.copyOf(usersByNode.keySet())) {
      if (nodeId.equals(node.nodeId())) {
        continue;
      }
      Long heard = lastHeard.get(nodeId);
      boolean gone = !members.contains(nodeId) || heard == null || now - heard > timeoutMs;
      if (!gone) {
        continue;
      }
      Set<String> users = usersByNode.remove(nodeId);
      lastHeard.remove(nodeId);
      LOG.info("node {} left or went silent; dropping presence of {} user(s)", nodeId, users.size());
      if (isLeader()) {
        for (String userId : users) {
          if (!onlineAnywhere(userId) && announcedOnline.remove(userId)) {
            announce(userId, false);
          }
        }
      }
    }
  }

  /** The lowest node id among the live presence nodes speaks for the dead ones. */
  private boolean isLeader() {
    String min = node.nodeId();
    for (String id : lastHeard.keySet()) {
      if (id.compareTo(min) < 0) {
        min = id;
      }
    }
    return min.equals(node.nodeId());
  }

  private boolean onlineAnywhere(String userId) {
    for (Set<String> users : usersByNode.values()) {
      if (users.contains(userId)) {
        return true;
      }
    }
    return false;
  }

  /** Records lastSeenAt and tells the services and the users who share a conversation. */
  private void announce(String userId, boolean online) {
    vertx.eventBus().publish(Addresses.PRESENCE, Envelope.of(Presence.CHANGED,
      new JsonObject().put("userId", userId).put("online", online).put("nodeId", node.nodeId())).toJson());
    node.pool().preparedQuery(SEEN).execute(Tuple.of(userId))
      .compose(seen -> node.pool().preparedQuery(CO_MEMBERS).execute(Tuple.of(userId)).map(rows -> {
        JsonObject payload = new JsonObject().put("userId", userId)
          .put("lastSeenAt", seen.iterator().next().getString(0));
        JsonObject event = Envelope.of(online ? Types.USER_ONLINE : Types.USER_OFFLINE, payload).toJson();
        rows.forEach(r -> vertx.eventBus().publish(Addresses.user(r.getString(0)), event));
        return null;
      }))
      .recover(Db::failure)
      .onFailure(t -> LOG.warn("presence of {} not announced: {}", userId, t.getMessage()));
  }
}
