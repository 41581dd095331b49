package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Attempt;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * Scenario 4 (SPEC §2 {@code unavailable}, DESIGN §13 pool fail-fast): PostgreSQL is stopped under
 * traffic and started again on the same port and data. Meanwhile sends answer 503 fast — well
 * under the 15 s command timeout — and nothing is acknowledged that was not committed; streams
 * stay open or resume, and the nodes recover by themselves.
 */
class DatabaseOutageFaultTest extends FaultScenario {

  /** "Fast": far below the 15 s command timeout, with room for a busy machine. */
  static final long FAIL_FAST_MS = 5000;

  @Test
  @Timeout(value = 400, unit = TimeUnit.SECONDS)
  @DisplayName("PostgreSQL down for a while: sends answer 503 fast, nothing unacknowledged is lost, all recover alone")
  void databaseOutage() {
    scenario("4-database-outage", "Scenario 4: PostgreSQL stopped for " + Knobs.outageSeconds() + " s", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();

      checker.mark("fault");
      long stopping = checker.now();
      harness.postgres().stop();
      long stopped = checker.now();
      note("PostgreSQL stopped in %s; down for %d s", RunReport.seconds(stopped - stopping), Knobs.outageSeconds());
      holdUntil(stopped + Knobs.outageSeconds() * 1_000_000_000L);
      long restarting = checker.now();
      harness.postgres().restart();
      long back = checker.now();
      checker.mark("database back");
      note("PostgreSQL started again in %s", RunReport.seconds(back - restarting));

      List<Attempt> during = checker.attempts().stream()
        .filter(a -> a.start() >= stopped && a.start() < restarting)
        .toList();
      List<Attempt> slowOrWrong = during.stream()
        .filter(a -> !a.outcome().equals("503") || a.millis() > FAIL_FAST_MS)
        .toList();
      long slowest = during.stream().mapToLong(Attempt::millis).max().orElse(0);
      check(!during.isEmpty() && slowOrWrong.isEmpty(),
        "every send during the outage answered 503 within %d ms (%d attempts, slowest %d ms%s)", FAIL_FAST_MS,
        during.size(), slowest, slowOrWrong.isEmpty() ? "" : "; not so: "
          + slowOrWrong.stream().limit(6).map(checker::describe).toList());

      boolean recovered = within(Duration.ofSeconds(60), () -> IntStream.range(0, harness.size()).allMatch(i ->
        checker.acks().stream().anyMatch(a -> a.node() == i && a.acked() >= back)));
      check(recovered, "every node acknowledges sends again by itself %s",
        recovered ? "within " + RunReport.seconds(checker.now() - back) + " of the restart" : "NOT within 60 s");
      harness.awaitCluster(3, Duration.ofSeconds(60));
      checker.mark("recovered");
      steady("after the outage");
    });
  }
}
