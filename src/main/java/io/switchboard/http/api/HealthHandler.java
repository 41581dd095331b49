package io.switchboard.http.api;

import io.switchboard.Lifecycle;
import io.switchboard.NodeContext;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.ext.web.RoutingContext;

import java.util.concurrent.TimeUnit;

/**
 * The health endpoints of SPEC §9.
 * <ul>
 *   <li>{@code GET /api/health}: 200 with the node, cluster size, database state and connections
 *   by transport, {@code "status":"DEGRADED"} while the node sees fewer members than
 *   {@code cluster.expectedMembers}; 503 when the database or the cluster is down.</li>
 *   <li>{@code GET /api/health/live}: 200 whenever the HTTP port answers at all (a liveness probe:
 *   nothing it depends on is checked, so an outage elsewhere never gets the node restarted).</li>
 *   <li>{@code GET /api/health/ready}: 200 only while the node has started, is not draining, is a
 *   member of its cluster and reaches the database (a readiness probe).</li>
 * </ul>
 */
final class HealthHandler {

  private static final long DB_CHECK_MS = 2000;

  private final NodeContext node;

  HealthHandler(NodeContext node) {
    this.node = node;
  }

  void health(RoutingContext ctx) {
    database().onComplete(ar -> {
      boolean dbUp = ar.result();
      boolean clusterUp = clusterUp();
      int clusterSize = clusterSize();
      int expected = node.config().cluster().expectedMembers();
      String status = !(dbUp && clusterUp) ? "DOWN" : expected > 0 && clusterSize < expected ? "DEGRADED" : "UP";
      JsonObject body = new JsonObject()
        .put("status", status)
        .put("node", node.nodeId())
        .put("clusterSize", clusterSize)
        .put("cluster", clusterUp ? "UP" : "DOWN")
        .put("db", dbUp ? "UP" : "DOWN")
        .put("connections", node.connections().snapshot());
      if (expected > 0) {
        body.put("expectedMembers", expected);
      }
      send(ctx, "DOWN".equals(status) ? 503 : 200, body);
    });
  }

  void live(RoutingContext ctx) {
    send(ctx, 200, new JsonObject().put("status", "UP").put("node", node.nodeId()));
  }

  void ready(RoutingContext ctx) {
    Lifecycle.Phase phase = node.lifecycle().phase();
    if (phase != Lifecycle.Phase.SERVING) {
      notReady(ctx, phase == Lifecycle.Phase.STARTING ? "starting" : "draining");
      return;
    }
    if (!clusterUp()) {
      notReady(ctx, "cluster");
      return;
    }
    database().onComplete(ar -> {
      if (ar.result()) {
        send(ctx, 200, new JsonObject().put("status", "UP").put("node", node.nodeId()));
      } else {
        notReady(ctx, "db");
      }
    });
  }

  private void notReady(RoutingContext ctx, String reason) {
    send(ctx, 503, new JsonObject().put("status", "DOWN").put("node", node.nodeId()).put("reason", reason));
  }

  private Future<Boolean> database() {
    return node.pool().query("SELECT 1").execute()
      .timeout(DB_CHECK_MS, TimeUnit.MILLISECONDS)
      .map(rows -> true)
      .otherwise(false);
  }

  /** Joined: the cluster manager is active and lists this node among the members. */
  private boolean clusterUp() {
    ClusterManager cm = node.clusterManager();
    if (cm == null) {
      return true;
    }
    try {
      return cm.isActive() && cm.getNodes().contains(node.nodeId());
    } catch (RuntimeException e) {
      // Hazelcast refuses calls while its member shuts down.
      return false;
    }
  }

  private int clusterSize() {
    ClusterManager cm = node.clusterManager();
    if (cm == null) {
      return 1;
    }
    try {
      return cm.getNodes().size();
    } catch (RuntimeException e) {
      return 0;
    }
  }

  private static void send(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status)
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .putHeader("Cache-Control", "no-store")
      .end(body.encode());
  }
}
