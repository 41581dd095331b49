package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Issue 13 scenario 2 (DESIGN §5 "events on shard addresses"): two of three nodes die together
 * with SIGKILL and are started again. Their clients resume on the survivor, come home once the
 * nodes are back, and every address a client follows — each of its conversations, its user
 * address and the broadcast — reaches it on a restarted node from every node within seconds: a
 * round trip to each address, so a registration the dead nodes left in the cluster's
 * subscription map, or one the new nodes failed to make, shows as an address that stays silent.
 */
class TwoNodesKilledFaultTest extends FaultScenario {

  /** How soon a round trip must arrive on a restarted node: "within seconds" on a busy machine. */
  static final Duration ROUND_TRIP = Duration.ofSeconds(10);

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("two of three nodes killed together and restarted: every followed address reaches their clients again")
  void killTwoRestartTwo() {
    scenario("2-kill-two", "Scenario 2: two of three nodes killed together, then restarted", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();

      List<Integer> victims = List.of(1, 2);
      List<StreamClient> affected = population.clients.stream().filter(c -> victims.contains(c.liveNode())).toList();
      checker.mark("fault");
      victims.forEach(i -> harness.node(i).kill());
      long killedAt = checker.now();
      awaitOn(affected, 0, Duration.ofSeconds(30), "after the kill");
      steady("on the survivor alone");

      checker.mark("restarting");
      long restartAt = checker.now();
      harness.restartTogether(victims);
      harness.awaitCluster(3, Duration.ofSeconds(60));
      note("both nodes back in one cluster of three %s after their start (%s after the kill)",
        RunReport.seconds(checker.now() - restartAt), RunReport.seconds(checker.now() - killedAt));
      victims.forEach(i -> sendHome(i, Duration.ofSeconds(30)));
      steady("after the restart");
      checker.mark("recovered");

      roundTripConversations();
      roundTripPushes();
    });
  }

  /** Waits until every client of {@code clients} has an open stream on {@code node}. */
  private void awaitOn(List<StreamClient> clients, int node, Duration timeout, String when) {
    long start = checker.now();
    boolean moved = within(timeout, () -> clients.stream().allMatch(c -> c.isLive() && c.liveNode() == node));
    check(moved, "all %d clients of the killed nodes live on node-%d %s %s", clients.size(), node, when,
      moved ? "within " + RunReport.seconds(checker.now() - start) : "NOT within " + timeout);
  }

  /**
   * For every group and every node: one message sent through that node, and every member's
   * client (on whichever node it is) holds it, and everything before it, within
   * {@link #ROUND_TRIP}.
   */
  private void roundTripConversations() {
    long slowest = 0;
    List<String> silent = new ArrayList<>();
    for (int g = 0; g < population.groups.size(); g++) {
      String conv = population.groups.get(g);
      for (int n = 0; n < harness.size(); n++) {
        int node = n;
        Sender s = population.senders.get(0);
        String cmid = population.run + "-rt-" + g + "-" + node;
        long start = checker.now();
        Harness.Reply r = Harness.await(harness.call(node, HttpMethod.POST, "/api/conversations/" + conv + "/messages",
          s.token, new JsonObject().put("content", "round trip " + g + "/" + node).put("clientMessageId", cmid), 10_000),
          Duration.ofSeconds(15));
        if (r.status() != 201) {
          check(false, "a round-trip send to %s through node-%d answered 201 (got %d %s)", conv, node, r.status(), r.body());
          continue;
        }
        long seq = r.json().getLong("seq");
        checker.acked(new Ack(s.index, conv, cmid, seq, r.json().getString("id"), node, start, checker.now()));
        List<StreamClient> members = population.clients.stream().filter(c -> c.conversations.contains(conv)).toList();
        boolean arrived = within(ROUND_TRIP, () -> members.stream().allMatch(c -> checker.contiguous(c.index, conv) >= seq));
        slowest = Math.max(slowest, checker.now() - start);
        if (!arrived) {
          members.stream().filter(c -> checker.contiguous(c.index, conv) < seq)
            .forEach(c -> silent.add(conv + " seq " + seq + " sent through node-" + node + " to client " + c.index
              + " on node-" + c.liveNode()));
        }
      }
    }
    check(silent.isEmpty(), "every group's round trip through every node reached all its members within %s "
      + "(%d groups x %d nodes, slowest %s)%s", ROUND_TRIP, population.groups.size(), harness.size(),
      RunReport.seconds(slowest), silent.isEmpty() ? "" : "; silent: " + silent.stream().limit(8).toList());
  }

  /**
   * Through every node: a push to each client's user address and one broadcast; every client
   * receives each within {@link #ROUND_TRIP}.
   */
  private void roundTripPushes() {
    long start = checker.now();
    List<Future<Harness.Reply>> sent = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    for (int node = 0; node < harness.size(); node++) {
      String broadcast = population.run + "-b-" + node;
      ids.add(broadcast);
      sent.add(harness.publish(node, new JsonObject().put("broadcast", true).put("event", StreamClient.PROBE)
        .put("data", new JsonObject().put("id", broadcast)), 10_000));
      for (StreamClient c : population.clients) {
        String id = population.run + "-u-" + c.index + "-" + node;
        sent.add(harness.publish(node, new JsonObject().put("userId", c.userId).put("event", StreamClient.PROBE)
          .put("data", new JsonObject().put("id", id)), 10_000));
      }
    }
    List<Harness.Reply> replies = Harness.await(Future.all(sent).map(cf -> cf.<Harness.Reply>list()), Duration.ofSeconds(30));
    List<String> refused = replies.stream().filter(r -> r.status() / 100 != 2).map(r -> r.status() + " " + r.body())
      .distinct().limit(4).toList();
    check(refused.isEmpty(), "every push through every node accepted%s", refused.isEmpty() ? "" : ": " + refused);
    boolean all = within(ROUND_TRIP, () -> population.clients.stream().allMatch(c -> missing(c, ids).isEmpty()));
    List<String> silent = new ArrayList<>();
    population.clients.forEach(c -> missing(c, ids).forEach(id -> silent.add(id + " to client " + c.index + " on node-"
      + c.liveNode())));
    check(all, "every client received its user push and the broadcast from every node %s (%d clients x %d nodes)%s",
      all ? "within " + RunReport.seconds(checker.now() - start) : "NOT within " + ROUND_TRIP,
      population.clients.size(), harness.size(), silent.isEmpty() ? "" : "; missing: " + silent.stream().limit(8).toList());
  }

  /** The probes {@code c} should have and has not: the broadcasts {@code ids} and its own user pushes. */
  private List<String> missing(StreamClient c, List<String> broadcasts) {
    List<String> out = new ArrayList<>();
    for (int node = 0; node < harness.size(); node++) {
      String mine = population.run + "-u-" + c.index + "-" + node;
      if (!c.probes.contains(mine)) {
        out.add(mine);
      }
    }
    broadcasts.stream().filter(b -> !c.probes.contains(b)).forEach(out::add);
    return out;
  }
}
