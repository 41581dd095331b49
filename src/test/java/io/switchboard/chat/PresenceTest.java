package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §4 presence: first and last connection cluster-wide, and nodes that die. */
@ExtendWith(VertxExtension.class)
class PresenceTest {

  static TestNodes.TestCluster cluster;
  static Node node1;
  static Node node2;
  static Api api;
  static final JsonObject CONFIG = new JsonObject().put("presence", new JsonObject().put("nodeTimeoutSeconds", 6));

  @BeforeAll
  static void start() {
    cluster = TestNodes.TestCluster.create();
    node1 = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    node2 = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node1));
  }

  @AfterAll
  static void stop() {
    await(node2.stop());
    await(node1.stop());
  }

  /** The presence events about {@code userId} a socket received, as "online"/"offline". */
  private static List<String> presenceOf(Socket s, String userId) {
    return s.received.stream()
      .filter(e -> Types.USER_ONLINE.equals(e.getString("type")) || Types.USER_OFFLINE.equals(e.getString("type")))
      .filter(e -> userId.equals(e.getJsonObject("payload").getString("userId")))
      .map(e -> Types.USER_ONLINE.equals(e.getString("type")) ? "online" : "offline")
      .toList();
  }

  @Test
  @DisplayName("a user connected on two nodes stays online when one closes, and goes offline once with the last")
  @Timeout(value = 40, timeUnit = TimeUnit.SECONDS)
  void twoNodes(VertxTestContext ctx) {
    String x = Api.user("x");
    String y = Api.user("y");
    String xToken = api.token(x);
    String conv = api.group(xToken, "presence", y).getString("id");
    Socket observer = await(Socket.open(node1, api.token(y)));
    var online = ctx.checkpoint();
    var offline = ctx.checkpoint();
    Socket[] xs = new Socket[2];
    // user_online can arrive before x's own socket has seen connected: go on once both happened.
    Promise<Socket> firstOpen = Promise.promise();
    observer.onEvent(env -> {
      List<String> seen = presenceOf(observer, x);
      if (Types.USER_ONLINE.equals(env.getString("type")) && seen.equals(List.of("online"))) {
        online.flag();
        // Second device on the other node, then close the first: still online.
        firstOpen.future().compose(first -> Socket.open(node2, xToken)).onSuccess(second -> {
          xs[1] = second;
          xs[0].close().onSuccess(v -> Api.clientVertx().setTimer(2500, t -> {
            ctx.verify(() -> assertThat(presenceOf(observer, x)).containsExactly("online"));
            xs[1].close();
          }));
        });
      } else if (Types.USER_OFFLINE.equals(env.getString("type"))) {
        ctx.verify(() -> {
          assertThat(seen).containsExactly("online", "offline");
          assertThat(env.getJsonObject("payload").getString("lastSeenAt")).isNotBlank();
        });
        api.client().get("/api/conversations/" + conv).bearerTokenAuthentication(xToken).send()
          .onComplete(ctx.succeeding(c -> {
            ctx.verify(() -> assertThat(c.bodyAsJsonObject().getJsonArray("members").stream()
              .map(m -> (JsonObject) m).filter(m -> x.equals(m.getString("userId"))).findFirst().orElseThrow()
              .getString("lastSeenAt")).isNotBlank());
            observer.close();
            offline.flag();
          }));
      }
    });
    Socket.open(node1, xToken).onSuccess(first -> {
      xs[0] = first;
      firstOpen.complete(first);
    }).onFailure(ctx::failNow);
  }

  @Test
  @DisplayName("when a node's Vert.x instance dies, its users go offline everywhere unless connected elsewhere")
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void nodeDies(VertxTestContext ctx) {
    Node doomed = cluster.start(CONFIG, EnumSet.allOf(Node.Role.class));
    String x = Api.user("x");
    String z = Api.user("z");
    String y = Api.user("y");
    String xToken = api.token(x);
    String zToken = api.token(z);
    api.group(xToken, "doomed", y, z);
    Socket observer = await(Socket.open(node1, api.token(y)));
    Socket zElsewhere = await(Socket.open(node2, zToken));
    await(Socket.open(doomed, zToken));
    var offline = ctx.checkpoint();
    observer.onEvent(env -> {
      if (Types.USER_ONLINE.equals(env.getString("type")) && presenceOf(observer, x).equals(List.of("online"))) {
        // Kill the node's Vert.x instance outright: no drain, no goodbye from its gateway.
        doomed.vertx().close();
      } else if (Types.USER_OFFLINE.equals(env.getString("type"))) {
        ctx.verify(() -> {
          assertThat(env.getJsonObject("payload").getString("userId")).isEqualTo(x);
          // z also had a connection on the dead node, but is still connected on node 2.
          assertThat(presenceOf(observer, z)).doesNotContain("offline");
        });
        observer.close();
        zElsewhere.close();
        offline.flag();
      }
    });
    Socket.open(doomed, xToken).onFailure(ctx::failNow);
  }
}
