package io.switchboard.http.bridge;

import io.switchboard.Node;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.EnumSet;

/**
 * The one node of the bridge suites: browser origins restricted to {@link #ALLOWED_ORIGIN} and
 * the TCP bridge on.
 */
final class BridgeNode {

  static final String ALLOWED_ORIGIN = "http://app.example";

  private static Node node;

  private BridgeNode() {
  }

  static synchronized Node get() {
    if (node == null) {
      node = TestNodes.TestCluster.create().start(new JsonObject()
          .put("http", new JsonObject().put("allowedOrigins", new JsonArray().add(ALLOWED_ORIGIN)))
          .put("bridge", new JsonObject().put("tcpPort", TestNodes.freePort())),
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
