package io.switchboard.faults;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 3 (SPEC §9 graceful shutdown): every node in turn gets SIGTERM, drains (its clients
 * get {@code reconnect} and close 1012 and resume elsewhere), exits, and is started again; its
 * clients then go back to it. Traffic never stops.
 */
class RollingRestartFaultTest extends FaultScenario {

  /** shutdown.drainSeconds of the run, plus the time to undeploy and leave the cluster. */
  static final Duration EXIT = Duration.ofSeconds(5 + 25);

  @Test
  @Timeout(value = 600, unit = TimeUnit.SECONDS)
  @DisplayName("a rolling restart (SIGTERM, start again) of all three nodes loses and repeats nothing")
  void rollingRestart() {
    scenario("3-rolling-restart", "Scenario 3: rolling restart of all three nodes", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();
      checker.mark("fault");
      for (int node = 0; node < harness.size(); node++) {
        List<StreamClient> affected = population.liveOn(node);
        checker.mark("SIGTERM node-" + node);
        long termAt = checker.now();
        boolean exited = harness.node(node).terminate(EXIT);
        check(exited, "node-%d exited after SIGTERM %s", node,
          exited ? "within " + RunReport.seconds(checker.now() - termAt) : "NOT within " + EXIT);
        if (!exited) {
          harness.node(node).kill();
        }
        awaitMovedOff(affected, node, Duration.ofSeconds(30), "drain");
        harness.restart(node);
        harness.awaitCluster(3, Duration.ofSeconds(60));
        checker.mark("node-" + node + " back");
        sendHome(node, Duration.ofSeconds(30));
        steady("after restarting node-" + node);
      }
      checker.mark("recovered");
    });
  }
}
