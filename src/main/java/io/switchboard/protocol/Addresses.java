package io.switchboard.protocol;

/** Every event-bus address of Switchboard (DESIGN §2). No address is spelled anywhere else. */
public final class Addresses {

  /** Prefix of command addresses; {@code sb.cmd.<type>} is request/reply, answered by any node. */
  public static final String COMMAND_PREFIX = "sb.cmd.";

  /** The one public address bridge clients send commands to; the body is an envelope. */
  public static final String BRIDGE_COMMANDS = "sb.cmd";

  /** Prefix of conversation event addresses. */
  public static final String CONVERSATION_PREFIX = "sb.conv.";

  /** Prefix of per-user event addresses. */
  public static final String USER_PREFIX = "sb.user.";

  /** Prefix of topic event addresses. */
  public static final String TOPIC_PREFIX = "sb.topic.";

  /**
   * Node-local: a gateway reports to its own node's presence service that a user's first local
   * connection opened or the last one closed. Only local consumers exist, so it never crosses
   * the cluster.
   */
  public static final String PRESENCE = "sb.presence.local";

  /** Presence gossip between nodes: versioned deltas, heartbeats and announcements (DESIGN §9). */
  public static final String PRESENCE_GOSSIP = "sb.presence";

  /**
   * Node-local: users who came online anywhere or went offline everywhere, decoded once by the
   * node's presence service and handed to its other services (typing, calls).
   */
  public static final String PRESENCE_CHANGES = "sb.presence.changes";

  /**
   * Node-local request/reply: which of {@code {userIds}} are connected anywhere in the cluster, as
   * this node's presence replica knows it: {@code {online:[...]}}.
   */
  public static final String PRESENCE_QUERY = "sb.presence.query";

  /**
   * The call watcher of one node (the announcing node's own when it runs the services): users
   * whose offline that node announced; it arms drop timers for those who are in a call.
   */
  public static final String CALL_WATCH = "sb.calls.watch";

  /**
   * Node-local: a service committed webhook rows; the node's delivery looks at once instead of at
   * its next poll.
   */
  public static final String WEBHOOKS_WAKE = "sb.webhooks.wake";

  /**
   * Cluster-wide publish to every node's gateway: the admin API's disconnects and token
   * revocations, which must reach connections wherever they are.
   */
  public static final String CONTROL = "sb.control";

  /**
   * Cluster-wide publish: the database started a new epoch {@code {epoch, cause}} (a restored
   * backup noticed, or the operator's command). Every node's streams resume, and their older
   * cursors resync (DESIGN §7).
   */
  public static final String EPOCH = "sb.epoch";

  /** Events for everyone (broadcast publish). */
  public static final String BROADCAST = "sb.broadcast";

  /**
   * How many event shards there are. Events travel between nodes on {@link #shard} addresses, not
   * on their own: every node with clients registers one consumer per shard when it starts, and
   * routes each event to its local followers by its logical address ({@link Events}).
   */
  public static final int SHARDS = 16;

  /** Prefix of the event shard addresses. */
  public static final String SHARD_PREFIX = "sb.ev.";

  private Addresses() {
  }

  /** The request/reply address of a command type, e.g. {@code sb.cmd.send_message}. */
  public static String command(String type) {
    return COMMAND_PREFIX + type;
  }

  /** Durable and room events of one conversation. */
  public static String conversation(String conversationId) {
    return CONVERSATION_PREFIX + conversationId;
  }

  /** Events for one user: membership, calls, pushes to that user. */
  public static String user(String userId) {
    return USER_PREFIX + userId;
  }

  /** Events of one topic. */
  public static String topic(String name) {
    return TOPIC_PREFIX + name;
  }

  /** The shard whose address carries the events of a logical address (stable across nodes). */
  public static int shardOf(String address) {
    return Math.floorMod(address.hashCode(), SHARDS);
  }

  /** The event-bus address of shard {@code k}. */
  public static String shard(int k) {
    return SHARD_PREFIX + k;
  }

  /** Where one node answers for its own stats (request/reply; the admin cluster view asks every node). */
  public static String nodeStats(String nodeId) {
    return "sb.node." + nodeId + ".stats";
  }

  /** Node-to-node control address of one node. */
  public static String node(String nodeId) {
    return "sb.node." + nodeId;
  }

  /** Request/reply: one node's full presence state, asked for by a node that missed its deltas or just met it. */
  public static String nodePresence(String nodeId) {
    return node(nodeId) + ".presence";
  }
}
