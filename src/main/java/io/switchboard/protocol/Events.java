package io.switchboard.protocol;

import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.json.JsonObject;

/**
 * How an event reaches the clients that follow its address (DESIGN §2, "broadcast once per node,
 * subscribe locally"). A logical address — a conversation, a user, a topic, everyone — is never
 * an event-bus registration of its own: the event goes to its {@link Addresses#shard shard},
 * which every node with clients consumes from its start, and each node's gateway hands it to the
 * local followers of the logical address named in the body. Opening a stream therefore registers
 * nothing in the cluster, and the cluster's subscription map holds {@link Addresses#SHARDS}
 * entries per node whatever the number of users and conversations.
 */
public final class Events {

  /** The body field naming the logical address; the gateway takes it out before delivery. */
  public static final String TO = "~to";

  private Events() {
  }

  /** Publishes an event envelope to every follower of {@code address} on every node. */
  public static void publish(EventBus bus, String address, JsonObject envelope) {
    bus.publish(Addresses.shard(Addresses.shardOf(address)), envelope.put(TO, address));
  }

  /** Like {@link #publish(EventBus, String, JsonObject)}, with delivery options (headers, local only). */
  public static void publish(EventBus bus, String address, JsonObject envelope, DeliveryOptions options) {
    bus.publish(Addresses.shard(Addresses.shardOf(address)), envelope.put(TO, address), options);
  }
}
