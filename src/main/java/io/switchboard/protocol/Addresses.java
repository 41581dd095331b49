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

  /** Presence gossip between nodes. */
  public static final String PRESENCE = "sb.presence";

  /** Events for everyone (broadcast publish). */
  public static final String BROADCAST = "sb.broadcast";

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

  /** Where one node answers for its own stats (request/reply; the admin cluster view asks every node). */
  public static String nodeStats(String nodeId) {
    return "sb.node." + nodeId + ".stats";
  }

  /** Node-to-node control address of one node. */
  public static String node(String nodeId) {
    return "sb.node." + nodeId;
  }
}
