package io.switchboard.faults;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 5 (SPEC §7 "Opening under load", DESIGN §2 "opening a stream is cheap"): thousands of
 * clients of distinct users (several groups each) open their streams on one node all at once,
 * with no client-side throttling; then that node is killed and every one of them resumes on the
 * two others. A node that cannot open a stream must say so in the transport's "try again" form —
 * never answer 200 and then fall silent — and no message may be lost or repeated.
 */
class ReconnectStormFaultTest extends FaultScenario {

  @Test
  @Timeout(value = 900, unit = TimeUnit.SECONDS)
  @DisplayName("a storm of clients on one node, then that node killed: all connect, all resume on the others")
  void stormThenKill() {
    String title = "Scenario 5: " + Knobs.stormClients() + " clients storm one node, then it is killed";
    scenario("5-reconnect-storm", title, () -> {
      int clients = Knobs.stormClients();
      int perClient = Knobs.conversationsPerClient();
      int groups = Math.max(1, clients * perClient / Knobs.stormGroupSize());
      int target = 0;
      Duration bound = Duration.ofSeconds(Knobs.stormSeconds());
      prepare(3, Map.of(), new Population.Plan(clients, groups, perClient, Knobs.stormSendersPerNode(), i -> target));

      checker.mark("storm");
      long stormAt = checker.now();
      population.connectAll(true);
      long[] peak = {0};
      boolean allIn = within(bound, () -> {
        peak[0] = Math.max(peak[0], population.liveCount());
        return peak[0] == clients;
      });
      check(allIn, "all %d clients opened their streams on node-%d %s", clients, target,
        allIn ? "within " + RunReport.seconds(checker.now() - stormAt)
          : "NOT within " + bound + " (at most " + peak[0] + " connected at once, " + population.liveCount()
            + " at the end)");
      JsonObject health = harness.node(target).health();
      note("node-%d after the storm: %s", target, health == null ? "no health answer" : health.getValue("connections"));
      population.unpinAll();
      startTraffic();

      checker.mark("fault");
      harness.node(target).kill();
      // Every client, connected in the storm or not, must end up on a survivor.
      awaitMovedOff(population.clients, target, bound, "kill -9 after the storm");
      checker.mark("recovered");
      steady("after the kill");
    });
  }
}
