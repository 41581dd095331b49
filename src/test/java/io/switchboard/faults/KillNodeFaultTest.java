package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Attempt;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 1 (DESIGN §2 "commands stay on their node", README "Resume and cursors"): a node dies
 * with SIGKILL under steady traffic. Its clients resume on the survivors by cursor with nothing
 * lost or repeated, and no send on a survivor fails or waits for the dead node.
 */
class KillNodeFaultTest extends FaultScenario {

  /** What "does not wait for the dead node" allows on a busy machine. */
  static final long SURVIVOR_SEND_MS = 2000;

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("kill -9 of one node: its clients resume on the survivors and sends on the survivors never wait for it")
  void killOneNode() {
    scenario("1-kill-node", "Scenario 1: kill -9 of one node", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();

      int victim = 2;
      List<StreamClient> affected = population.liveOn(victim);
      checker.mark("fault");
      long killedAt = checker.now();
      harness.node(victim).kill();
      awaitMovedOff(affected, victim, Duration.ofSeconds(30), "kill -9");
      steady("after the kill");
      checker.mark("recovered");

      List<Attempt> onSurvivors = checker.attempts().stream()
        .filter(a -> a.node() != victim && a.end() >= killedAt)
        .toList();
      List<Attempt> bad = onSurvivors.stream()
        .filter(a -> !a.outcome().equals("201") || a.millis() > SURVIVOR_SEND_MS)
        .toList();
      long worst = onSurvivors.stream().mapToLong(Attempt::millis).max().orElse(0);
      check(bad.isEmpty(),
        "every send on a survivor after the kill answered 201 within %d ms (%d attempts, slowest %d ms%s)",
        SURVIVOR_SEND_MS, onSurvivors.size(), worst,
        bad.isEmpty() ? "" : "; failing: " + bad.stream().limit(6).map(checker::describe).toList());
    });
  }
}
