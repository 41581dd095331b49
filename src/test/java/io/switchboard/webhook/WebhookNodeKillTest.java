package io.switchboard.webhook;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.NodeProcess;
import io.switchboard.testing.Receiver;
import io.switchboard.testing.Receiver.Answer;
import io.switchboard.testing.Receiver.Hit;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §10, "any node may deliver": a node process is killed (SIGKILL) while it holds a webhook
 * delivery in flight and more are pending; another node, started after, delivers all of them, in
 * order, each id accepted once.
 */
class WebhookNodeKillTest {

  static final String SECRET = "whsec-kill-test";

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  @DisplayName("a node killed with deliveries leased and pending: another node delivers them all, in order, once each")
  void killedWhilePending() throws Exception {
    AtomicBoolean hang = new AtomicBoolean(true);
    try (Receiver receiver = new Receiver().on("/hooks", (n, body) -> hang.get() ? null : Answer.ok())) {
      JsonArray endpoints = new JsonArray().add(new JsonObject().put("url", receiver.url("/hooks")).put("secret", SECRET)
        .put("events", new JsonArray().add("message_created")));
      int port = TestNodes.freePort();
      JsonObject extra = new JsonObject()
        .put("SWITCHBOARD_WEBHOOKS_ENDPOINTS", endpoints.encode())
        .put("SWITCHBOARD_WEBHOOKS_TIMEOUTSECONDS", 2)
        .put("SWITCHBOARD_WEBHOOKS_RETRYBASEMILLIS", 100);
      Map<String, String> env = new HashMap<>(TestNodes.TestCluster.create().childEnv(port, extra));
      String conv;
      List<Long> seqs = new ArrayList<>();
      try (NodeProcess doomed = new NodeProcess("webhooks-doomed", "127.0.0.1", port, env, List.of("-Xmx384m"), List.of())) {
        doomed.start();
        doomed.awaitHealthy(Duration.ofSeconds(180), 1);
        Api api = new Api(port);
        String alice = Api.user("alice");
        String token = api.token(alice);
        conv = api.group(token, "doomed", Api.user("bob")).getString("id");
        for (int i = 1; i <= 5; i++) {
          seqs.add(api.send(token, conv, "k" + i).getLong("seq"));
        }
        // The doomed node has the first one in flight (the receiver does not answer): kill it now.
        receiver.await(h -> !h.isEmpty(), "the doomed node's first delivery", 60);
        doomed.kill();
      }
      String inFlight = receiver.hits().get(0).json().getString("id");
      hang.set(false);

      JsonObject webhooks = new JsonObject().put("endpoints", endpoints).put("timeoutSeconds", 2).put("retryBaseMillis", 100);
      Node survivor = TestNodes.TestCluster.create().start(new JsonObject().put("webhooks", webhooks),
        EnumSet.allOf(Node.Role.class));
      try {
        // The lease of the dead node (2 × 2 s + 5 s) runs out, and the survivor takes over.
        List<Hit> hits = receiver.await(h -> h.stream().filter(x -> x.status() == 200).count() >= 5,
          "all five messages delivered", 90);
        List<JsonObject> accepted = hits.stream().filter(x -> x.status() == 200).map(Hit::json)
          .filter(e -> conv.equals(e.getJsonObject("data").getString("conversationId"))).toList();
        assertThat(accepted.stream().map(e -> e.getJsonObject("data").getLong("seq")).toList()).isEqualTo(seqs);
        assertThat(accepted.stream().map(e -> e.getString("id")).distinct().count()).isEqualTo(5);
        assertThat(accepted.get(0).getString("id")).as("the delivery in flight at the kill, same id").isEqualTo(inFlight);
        long now = System.currentTimeMillis() / 1000;
        for (Hit h : hits) {
          assertThat(WebhookTest.verify(SECRET, h.header("Switchboard-Signature"), h.body(), now)).isTrue();
        }
      } finally {
        await(survivor.stop());
      }
    }
  }
}
