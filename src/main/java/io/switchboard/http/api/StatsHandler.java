package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.auth.Principal;
import io.switchboard.webhook.WebhookVerticle;
import io.switchboard.gateway.Gateway;
import io.switchboard.metrics.NodeMetrics;
import io.switchboard.protocol.Addresses;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /api/stats} (SPEC §9, API key of scope {@code admin}): what the node that answers
 * carries — its connections, the users connected to it, the rooms and topics it follows, the
 * events it receives and writes per second, and its counts of commands by outcome, slow-consumer
 * cuts and resumes. {@code GET /api/admin/cluster} gathers it from every node.
 */
final class StatsHandler implements Handler<RoutingContext> {

  private final NodeContext node;
  private final Gateway gateway;

  StatsHandler(NodeContext node, Gateway gateway) {
    this.node = node;
    this.gateway = gateway;
  }

  /**
   * The node's snapshot, plus the cluster's webhook outbox ({@code webhooks: {pending,
   * deadLettered, oldestPendingSeconds, endpoints}}; null when it cannot be read now).
   */
  @Override
  public void handle(RoutingContext ctx) {
    node.commands().request(Principal.BACKEND, WebhookVerticle.STATS, new JsonObject()).onComplete(ar -> {
      if (ctx.response().closed()) {
        return;
      }
      ctx.response()
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Cache-Control", "no-store")
        .end(snapshot(node, gateway).put("webhooks", ar.succeeded() ? ar.result().payload() : null).encode());
    });
  }

  /**
   * What this node carries now: the body of {@code GET /api/stats}, and this node's entry in the
   * cluster view ({@code GET /api/admin/cluster}).
   */
  static JsonObject snapshot(NodeContext node, Gateway gateway) {
    NodeMetrics metrics = node.metrics();
    return new JsonObject()
      .put("node", node.nodeId())
      .put("connections", node.connections().snapshot())
      .put("usersOnline", gateway.localUsers().size())
      .put("rooms", gateway.routeCount(Addresses.CONVERSATION_PREFIX))
      .put("topics", gateway.routeCount(Addresses.TOPIC_PREFIX))
      .put("eventsInPerSecond", rounded(metrics.eventsInPerSecond()))
      .put("eventsOutPerSecond", rounded(metrics.eventsOutPerSecond()))
      .put("eventsDelivered", metrics.eventsDelivered())
      .put("commands", new JsonObject(new java.util.LinkedHashMap<>(metrics.commandsByOutcome())))
      .put("slowConsumerCuts", new JsonObject(new java.util.LinkedHashMap<>(metrics.slowConsumerCuts())))
      .put("resumes", new JsonObject(new java.util.LinkedHashMap<>(metrics.resumes())));
  }

  private static double rounded(double rate) {
    return Math.round(rate * 100) / 100.0;
  }
}
