package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.concurrent.TimeUnit;

/**
 * {@code GET /api/health} (SPEC §9): 200 with the node, cluster size, database state and
 * connections by transport, or 503 when the database or the cluster is down.
 */
final class HealthHandler implements Handler<RoutingContext> {

  private static final long DB_CHECK_MS = 2000;

  private final NodeContext node;

  HealthHandler(Vertx vertx, NodeContext node) {
    this.node = node;
  }

  @Override
  public void handle(RoutingContext ctx) {
    Future<Boolean> db = node.pool().query("SELECT 1").execute()
      .timeout(DB_CHECK_MS, TimeUnit.MILLISECONDS)
      .map(rows -> true)
      .otherwise(false);
    db.onComplete(ar -> {
      boolean dbUp = ar.result();
      boolean clusterUp = node.clusterManager() == null || node.clusterManager().isActive();
      int clusterSize = node.clusterManager() == null ? 1 : node.clusterManager().getNodes().size();
      boolean up = dbUp && clusterUp;
      JsonObject body = new JsonObject()
        .put("status", up ? "UP" : "DOWN")
        .put("node", node.nodeId())
        .put("clusterSize", clusterSize)
        .put("cluster", clusterUp ? "UP" : "DOWN")
        .put("db", dbUp ? "UP" : "DOWN")
        .put("connections", node.connections().snapshot());
      ctx.response().setStatusCode(up ? 200 : 503)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Cache-Control", "no-store")
        .end(body.encode());
    });
  }
}
