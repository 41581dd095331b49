package io.switchboard.presence;

/** Internal envelope types of presence (never sent to clients; DESIGN §9). */
public final class Presence {

  /**
   * Gateway to its own node, on {@code sb.presence.local}: the node's first connection of a user
   * opened or its last closed: {nodeId, userId, online}. The presence service checks the gateway
   * itself, so a report that arrives late or out of order changes nothing.
   */
  public static final String NODE_USER = "node_user";
  /** Gossip: the changes of one node's user set since its previous version: {nodeId, version, joins, leaves}. */
  public static final String DELTA = "presence_delta";
  /** Gossip: a node's clock, every 2 s: {nodeId, version, count, digest}; no users. */
  public static final String HEARTBEAT = "presence_heartbeat";
  /** Reply on {@code sb.node.<id>.presence}: a node's whole set: {nodeId, version, users}. */
  public static final String STATE = "presence_state";
  /**
   * Gossip: users who came online anywhere or went offline everywhere, announced by exactly one
   * node: {nodeId, changes:[{userId, online, at, event, conversationIds}]}. Every node delivers
   * {@code event} once to its connections that follow any of the conversations.
   */
  public static final String ANNOUNCE = "presence_announce";
  /** Node-local, for services, on {@code sb.presence.changes}: {changes:[{userId, online}]}. */
  public static final String CHANGES = "presence_changes";
  /** To the call watcher, on {@code sb.calls.watch}: {userIds}, users this node announced offline. */
  public static final String WATCH = "presence_watch";

  private Presence() {
  }
}
