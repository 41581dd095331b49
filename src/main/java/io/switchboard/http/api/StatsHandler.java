package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.gateway.Gateway;
import io.switchboard.metrics.NodeMetrics;
import io.switchboard.protocol.Addresses;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /api/stats} (SPEC §9, API key of scope {@code admin}): what the node that answers
 * carries — its connections, the users connected to it, the rooms and topics it follows, and the
 * events it receives and writes per second. A cluster's totals are the sum over its nodes.
 */
final class StatsHandler implements Handler<RoutingContext> {

  private final NodeContext node;
  private final Gateway gateway;

  StatsHandler(NodeContext node, Gateway gateway) {
    this.node = node;
    this.gateway = gateway;
  }

  @Override
  public void handle(RoutingContext ctx) {
    NodeMetrics metrics = node.metrics();
    JsonObject body = new JsonObject()
      .put("node", node.nodeId())
      .put("connections", node.connections().snapshot())
      .put("usersOnline", gateway.localUsers().size())
      .put("rooms", gateway.routeCount(Addresses.CONVERSATION_PREFIX))
      .put("topics", gateway.routeCount(Addresses.TOPIC_PREFIX))
      .put("eventsInPerSecond", rounded(metrics.eventsInPerSecond()))
      .put("eventsOutPerSecond", rounded(metrics.eventsOutPerSecond()));
    ctx.response()
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .putHeader("Cache-Control", "no-store")
      .end(body.encode());
  }

  private static double rounded(double rate) {
    return Math.round(rate * 100) / 100.0;
  }
}
