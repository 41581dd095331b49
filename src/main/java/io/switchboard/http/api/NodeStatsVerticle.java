package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;

/**
 * One per node with the HTTP role: answers {@link Addresses#nodeStats} with this node's
 * {@link StatsHandler#snapshot}, so that any node can build the cluster view of
 * {@code GET /api/admin/cluster}.
 */
public final class NodeStatsVerticle extends VerticleBase {

  private final NodeContext node;
  private final Gateway gateway;
  private MessageConsumer<JsonObject> consumer;

  public NodeStatsVerticle(NodeContext node, Gateway gateway) {
    this.node = node;
    this.gateway = gateway;
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().consumer(Addresses.nodeStats(node.nodeId()),
      msg -> msg.reply(StatsHandler.snapshot(node, gateway)));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }
}
