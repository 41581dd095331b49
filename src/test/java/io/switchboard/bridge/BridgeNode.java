package io.switchboard.bridge;

import io.switchboard.Node;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.EnumSet;

/**
 * The one node of the bridge suites: browser origins restricted to {@link #ALLOWED_ORIGIN}, the
 * TCP bridge on, and a 1 MiB outbound queue per connection.
 */
final class BridgeNode {

  static final String ALLOWED_ORIGIN = "http://app.example";
  static final int QUEUE_BYTES = 1 << 20;

  private static Node node;

  private BridgeNode() {
  }

  static synchronized Node get() {
    if (node == null) {
      node = TestNodes.TestCluster.create().start(new JsonObject()
          .put("http", new JsonObject().put("allowedOrigins", new JsonArray().add(ALLOWED_ORIGIN)))
          .put("bridge", new JsonObject().put("tcpPort", TestNodes.freePort()))
          // A small outbound queue, so that a client that stops reading is cut after a few MB.
          .put("limits", new JsonObject().put("queueBytes", QUEUE_BYTES)),
        EnumSet.allOf(Node.Role.class));
    }
    return node;
  }

  static int httpPort() {
    return TestNodes.port(get());
  }

  static int tcpPort() {
    return get().context().config().bridge().tcpPort();
  }
}
