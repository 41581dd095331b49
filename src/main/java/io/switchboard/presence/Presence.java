package io.switchboard.presence;

/** Internal envelope types on {@code sb.presence} (never sent to clients). */
public final class Presence {

  /** A node's first connection of a user opened or its last closed: {nodeId, userId, online}. */
  public static final String NODE_USER = "node_user";
  /** A node's heartbeat with every user connected to it: {nodeId, users:[...]}. */
  public static final String NODE_STATE = "node_state";
  /** A user came online anywhere or went offline everywhere: {userId, online}. For services. */
  public static final String CHANGED = "presence_changed";

  private Presence() {
  }
}
