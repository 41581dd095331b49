package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.protocol.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code GET /api/admin/cluster} (API key of scope {@code admin}): the cluster-wide view of the
 * operations page. Asks every cluster member for its stats ({@link NodeStatsVerticle}) with a short
 * timeout, adds them up, and names the members that did not answer (a node without the HTTP role,
 * or one that is dead, frozen or leaving).
 */
final class ClusterStatsHandler implements Handler<RoutingContext> {

  /** How long a node has to answer; the page polls every few seconds. */
  static final long TIMEOUT_MS = 2000;

  private final Vertx vertx;
  private final NodeContext node;

  ClusterStatsHandler(Vertx vertx, NodeContext node) {
    this.vertx = vertx;
    this.node = node;
  }

  @Override
  public void handle(RoutingContext ctx) {
    List<String> members = node.clusterManager() == null ? List.of(node.nodeId())
      : new ArrayList<>(node.clusterManager().getNodes());
    members.sort(null);
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(TIMEOUT_MS);
    List<Future<JsonObject>> answers = new ArrayList<>();
    for (String member : members) {
      answers.add(vertx.eventBus().<JsonObject>request(Addresses.nodeStats(member), new JsonObject(), options)
        .map(msg -> msg.body()));
    }
    Future.join(answers).onComplete(done -> {
      JsonArray nodes = new JsonArray();
      JsonArray missing = new JsonArray();
      for (int i = 0; i < members.size(); i++) {
        Future<JsonObject> answer = answers.get(i);
        if (answer.succeeded()) {
          nodes.add(answer.result().put("self", members.get(i).equals(node.nodeId())));
        } else {
          missing.add(new JsonObject().put("node", members.get(i))
            .put("error", answer.cause() == null ? "no answer" : answer.cause().getMessage()));
        }
      }
      JsonObject body = new JsonObject()
        .put("node", node.nodeId())
        .put("clusterSize", members.size())
        .put("nodes", nodes)
        .put("missing", missing)
        .put("totals", totals(nodes));
      if (!ctx.response().closed()) {
        ctx.response()
          .putHeader("Content-Type", "application/json; charset=utf-8")
          .putHeader("Cache-Control", "no-store")
          .end(body.encode());
      }
    });
  }

  /** Sums of the answering nodes: numbers add up, objects of numbers add up key by key. */
  static JsonObject totals(JsonArray nodes) {
    JsonObject totals = new JsonObject();
    for (String key : List.of("usersOnline", "rooms", "topics", "eventsInPerSecond", "eventsOutPerSecond",
      "eventsDelivered")) {
      double sum = 0;
      for (Object o : nodes) {
        Number n = ((JsonObject) o).getNumber(key);
        sum += n == null ? 0 : n.doubleValue();
      }
      totals.put(key, key.endsWith("PerSecond") ? Math.round(sum * 100) / 100.0 : (Object) Math.round(sum));
    }
    for (String key : List.of("connections", "commands", "slowConsumerCuts", "resumes")) {
      Map<String, Long> sum = new TreeMap<>();
      for (Object o : nodes) {
        JsonObject part = ((JsonObject) o).getJsonObject(key, new JsonObject());
        part.forEach(e -> sum.merge(e.getKey(), ((Number) e.getValue()).longValue(), Long::sum));
      }
      totals.put(key, new JsonObject(new java.util.LinkedHashMap<>(sum)));
    }
    return totals;
  }
}
