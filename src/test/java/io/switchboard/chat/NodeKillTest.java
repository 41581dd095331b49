package io.switchboard.chat;

import io.switchboard.Main;
import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §4: a node killed with SIGKILL takes its users' presence with it, within the node timeout. */
@ExtendWith(VertxExtension.class)
class NodeKillTest {

  static TestNodes.TestCluster cluster;
  static Node survivor;
  static Process child;

  @BeforeAll
  static void start() {
    cluster = TestNodes.TestCluster.create();
    survivor = cluster.start(new JsonObject().put("presence", new JsonObject().put("nodeTimeoutSeconds", 6)),
      EnumSet.allOf(Node.Role.class));
  }

  @AfterAll
  static void stop() throws InterruptedException {
    if (child != null && child.isAlive()) {
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    await(survivor.stop());
  }

  /** Starts {@code java io.switchboard.Main} as its own process in this cluster; waits until it serves. */
  private static Api startChild(int port) throws Exception {
    Path log = Files.createTempFile("sb-child", ".log");
    ProcessBuilder pb = new ProcessBuilder(List.of(
      Path.of(System.getProperty("java.home"), "bin", "java").toString(),
      "-cp", System.getProperty("java.class.path"), Main.class.getName()))
      .redirectErrorStream(true)
      .redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(cluster.childEnv(port, new JsonObject().put("SWITCHBOARD_PRESENCE_NODETIMEOUTSECONDS", 6)));
    child = pb.start();
    Api api = new Api(port);
    long deadline = System.currentTimeMillis() + 60_000;
    while (true) {
      assertThat(child.isAlive()).as("child node running (log: %s)", log).isTrue();
      assertThat(System.currentTimeMillis()).as("child node up in time").isLessThan(deadline);
      try {
        if (api.get("/api/health", null).statusCode() == 200) {
          return api;
        }
      } catch (Exception notYet) {
        // connection refused while it starts
      }
      await(Api.clientVertx().timer(250));
    }
  }

  @Test
  @DisplayName("users of a node killed with SIGKILL go offline on the others, unless connected elsewhere")
  @Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
  void killedNode(VertxTestContext ctx) throws Exception {
    Api childApi = startChild(TestNodes.freePort());
    Api api = new Api(TestNodes.port(survivor));
    String x = Api.user("x");
    String z = Api.user("z");
    String y = Api.user("y");
    String xToken = api.token(x);
    String zToken = api.token(z);
    api.group(xToken, "killed", y, z);
    Socket observer = await(Socket.open(survivor, api.token(y)));
    Socket zHere = await(Socket.open(survivor, zToken));
    // x only on the child; z on both.
    io.vertx.core.http.WebSocketClient wsc = Api.clientVertx().createWebSocketClient();
    await(wsc.connect(new io.vertx.core.http.WebSocketConnectOptions().setHost("127.0.0.1")
      .setPort(portOf(childApi)).setURI("/api/ws?token=" + zToken)));
    long[] killedAt = new long[1];
    var offline = ctx.checkpoint();
    observer.onEvent(env -> {
      JsonObject p = env.getJsonObject("payload");
      if (Types.USER_ONLINE.equals(env.getString("type")) && x.equals(p.getString("userId")) && killedAt[0] == 0) {
        killedAt[0] = System.currentTimeMillis();
        child.destroyForcibly();
      } else if (Types.USER_OFFLINE.equals(env.getString("type"))) {
        ctx.verify(() -> {
          assertThat(p.getString("userId")).isEqualTo(x);
          assertThat(killedAt[0]).isPositive();
          assertThat(observer.received.stream().filter(e -> Types.USER_OFFLINE.equals(e.getString("type")))
            .map(e -> e.getJsonObject("payload").getString("userId"))).doesNotContain(z);
        });
        observer.close();
        zHere.close();
        offline.flag();
      }
    });
    await(wsc.connect(new io.vertx.core.http.WebSocketConnectOptions().setHost("127.0.0.1")
      .setPort(portOf(childApi)).setURI("/api/ws?token=" + xToken)));
  }

  private static int portOf(Api api) {
    return api.port();
  }
}
