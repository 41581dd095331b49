package io.switchboard.faults;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 2 (SPEC §4 node timeout, §7 resume): a node is frozen with SIGSTOP for longer than the
 * cluster's failure detection, then continued with SIGCONT. Its clients notice the silence and
 * resume elsewhere; once back, the node serves correctly again — its own clients and senders go
 * back to it and the checker sees every message everywhere — or, if it cannot, it exits and is
 * started again as a supervisor would.
 */
class FreezeNodeFaultTest extends FaultScenario {

  /** presence.nodeTimeoutSeconds of the harness's nodes (Hazelcast drops a silent member after 7 s). */
  static final int NODE_TIMEOUT = Integer.parseInt(Harness.BASE_ENV.get("SWITCHBOARD_PRESENCE_NODETIMEOUTSECONDS"));

  @Test
  @Timeout(value = 400, unit = TimeUnit.SECONDS)
  @DisplayName("SIGSTOP past failure detection, then SIGCONT: clients recover elsewhere and the node serves again")
  void freezeAndThaw() {
    scenario("2-freeze-node", "Scenario 2: SIGSTOP past failure detection, then SIGCONT", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();

      int victim = 2;
      List<StreamClient> affected = population.liveOn(victim);
      List<Integer> survivors = List.of(0, 1);
      checker.mark("fault");
      long frozenAt = checker.now();
      harness.node(victim).freeze();
      boolean detected = within(Duration.ofSeconds(30), () -> survivors.stream().allMatch(i -> {
        JsonObject h = harness.node(i).health();
        return h != null && h.getInteger("clusterSize", 0) == 2;
      }));
      check(detected, "the survivors dropped the frozen node from the cluster %s",
        detected ? "within " + RunReport.seconds(checker.now() - frozenAt) : "NOT within 30 s");
      awaitMovedOff(affected, victim, Duration.ofSeconds(30), "SIGSTOP");
      // Frozen past presence's node timeout as well, so the survivors have really given it up.
      holdUntil(frozenAt + (NODE_TIMEOUT + 2) * 1_000_000_000L);
      steady("while the node is frozen");

      boolean intact = survivors.stream().allMatch(i -> {
        JsonObject h = harness.node(i).health();
        return h != null && h.getInteger("clusterSize", 0) == 2;
      });
      check(intact, "the survivors still form one cluster of two before SIGCONT (%s)", healths());
      harness.node(victim).thaw();
      checker.mark("thawed");
      long thawedAt = checker.now();
      boolean rejoined = within(Duration.ofSeconds(60), () -> !harness.node(victim).isAlive() || clusterOfThree());
      if (!harness.node(victim).isAlive()) {
        note("node-%d exited after SIGCONT; started again as a supervisor would", victim);
        harness.restart(victim);
        rejoined = within(Duration.ofSeconds(60), this::clusterOfThree);
      }
      check(rejoined, "after SIGCONT node-%d is in one cluster of three with the others %s", victim,
        rejoined ? "within " + RunReport.seconds(checker.now() - thawedAt) : "NOT within 60 s: " + healths());

      sendHome(victim, Duration.ofSeconds(30));
      steady("after the node came back");
      long viaVictim = checker.acks().stream().filter(a -> a.node() == victim && a.acked() > thawedAt).count();
      check(viaVictim > 0, "sends through node-%d are acknowledged again after SIGCONT (%d)", victim, viaVictim);
      checker.mark("recovered");
    });
  }

  private boolean clusterOfThree() {
    for (int i = 0; i < harness.size(); i++) {
      JsonObject h = harness.node(i).health();
      if (h == null || h.getInteger("httpStatus") != 200 || h.getInteger("clusterSize", 0) != 3) {
        return false;
      }
    }
    return true;
  }
}
