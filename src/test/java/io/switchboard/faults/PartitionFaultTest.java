package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.switchboard.faults.DeliveryChecker.Attempt;
import io.switchboard.faults.DeliveryChecker.History;
import io.switchboard.testing.Netns;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Issue 13, scenario 1: a network partition. Each node runs in a network namespace of its own on
 * one bridge ({@link Netns}); PostgreSQL listens on the bridge, so every node reaches it
 * throughout, and the test's clients reach every node. Under steady traffic the nodes are cut
 * {A,B} | {C} for {@link Knobs#partitionSeconds()}, while users come and go on both sides, then
 * healed. Sends on both sides commit or fail clearly (the checker); after the heal the three nodes
 * are one cluster again within seconds, every client holds every committed item with no gap
 * although no new message arrives after the heal (the gateway's sweep), events cross between all
 * nodes again, and every node's presence agrees with who is connected: no ghosts of users who
 * left on the other side, nobody missing, a user connected on both sides online once.
 */
class PartitionFaultTest extends FaultScenario {

  private static final List<Integer> MAJORITY = List.of(0, 1);
  private static final int MINORITY = 2;
  /** How soon a send after the heal must reach every member's client, on a loaded machine. */
  private static final int ROUND_TRIP_SECONDS = 10;

  private final Map<String, List<ClientWebSocket>> probes = new HashMap<>();

  @Test
  @Timeout(value = 420, unit = TimeUnit.SECONDS)
  @DisplayName("partition {A,B} | {C}, then heal: sends commit on both sides, one cluster again, every client converges, presence agrees")
  void partitionAndHeal() {
    Netns netns;
    try {
      netns = Netns.create(3);
    } catch (Netns.Unavailable e) {
      Assumptions.abort("network partition scenario skipped: " + e.getMessage());
      return;
    }
    scenario("13-1-partition", "Issue 13 scenario 1: network partition {A,B} | {C}", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60), netns);
      checker.onDelivery(d -> deliveries.add(new Seen(d, population.clients.get(d.client()).liveNode())));
      note("nodes in namespaces of %s; PostgreSQL on %s", netns, netns.hostAddress());
      // 'ip netns exec' execs: the PID the harness signals is the node's JVM, not a wrapper.
      List<String> commands = new ArrayList<>();
      for (int i = 0; i < harness.size(); i++) {
        commands.add(ProcessHandle.of(harness.node(i).pid()).flatMap(h -> h.info().command()).orElse("?"));
      }
      check(commands.stream().allMatch(c -> c.endsWith("/java")), "each node's PID is its JVM's own (%s)", commands);
      String run = population.run;
      String goneA = "pga-" + run;
      String goneC = "pgc-" + run;
      String newA = "pna-" + run;
      String newC = "pnc-" + run;
      String both = "pboth-" + run;
      List<String> probeUsers = List.of(goneA, goneC, newA, newC, both);
      String presenceGroup = createGroup(probeUsers);
      startTraffic();

      connect(goneA, 0);
      connect(goneC, MINORITY);
      Set<String> probeOnline = Set.of(goneA, goneC);
      boolean before = within(Duration.ofSeconds(30), () -> presenceAgrees(probeUsers, probeOnline).isEmpty());
      check(before, "before the partition every node shows the connected users online (%s)",
        before ? "agreed" : presenceAgrees(probeUsers, probeOnline));

      // ---- the partition ----
      checker.mark("fault");
      long cutAt = checker.now();
      netns.partition(MAJORITY, List.of(MINORITY));
      boolean split = within(Duration.ofSeconds(30), () -> clusterSizes().equals(List.of(2, 2, 1)));
      check(split, "the partition splits the cluster into {A,B} and {C} %s",
        split ? "within " + RunReport.seconds(checker.now() - cutAt) : "NOT within 30 s (" + healths() + ")");
      checker.mark("split");

      // Users come and go on both sides while they cannot hear each other.
      disconnect(goneA);
      disconnect(goneC);
      connect(newA, 0);
      connect(newC, MINORITY);
      connect(both, 0);
      connect(both, MINORITY);
      List<StreamClient> toMajority = population.liveOn(MINORITY).stream().filter(c -> c.index % 2 == 0).toList();
      List<StreamClient> toMinority = population.liveOn(0).stream().filter(c -> c.index % 2 == 0).toList();
      toMajority.forEach(c -> c.moveTo(0));
      toMinority.forEach(c -> c.moveTo(MINORITY));
      note("during the partition %d clients moved from C to A and %d from A to C; 2 users left, 3 came (one on both sides)",
        toMajority.size(), toMinority.size());
      holdUntil(cutAt + Knobs.partitionSeconds() * 1_000_000_000L);

      long splitAt = checker.markAt("split");
      long onMinority = checker.acks().stream().filter(a -> a.node() == MINORITY && a.acked() > splitAt).count();
      long onMajority = checker.acks().stream().filter(a -> a.node() != MINORITY && a.acked() > splitAt).count();
      check(onMinority > 0 && onMajority > 0,
        "sends commit on both sides of the partition (%d acknowledged through C, %d through A or B)", onMinority,
        onMajority);
      Map<String, Long> outcomes = checker.attempts().stream().filter(a -> a.start() >= cutAt)
        .collect(Collectors.groupingBy(Attempt::outcome, TreeMap::new, Collectors.counting()));
      note("send attempts during the partition by outcome: %s", outcomes);

      // ---- the heal, with no new message after it ----
      population.stopSending();
      checker.mark("senders stopped");
      netns.heal();
      checker.mark("healed");
      long healedAt = checker.now();
      // What PostgreSQL holds is final now; what the clients lack of it, at the heal, is for the sweep.
      Map<String, TreeMap<Long, History>> committed = readHistory();
      long missing = missingItems(committed);
      // Watched side by side: the clients' catching up does not wait for the cluster (the sweep reads PostgreSQL).
      CompletableFuture<Long> convergedAt = CompletableFuture.supplyAsync(() -> within(Duration.ofSeconds(60),
        () -> checker.converged(committed, population.live()::contains)) ? checker.now() : -1L);
      boolean one = within(Duration.ofSeconds(60), () -> clusterSizes().equals(List.of(3, 3, 3)));
      check(one, "after the heal the three nodes form one cluster %s", one
        ? "within " + RunReport.seconds(checker.now() - healedAt) : "NOT within 60 s (" + healths() + ")");
      checker.mark("one cluster");

      long caughtUp = convergedAt.join();
      check(caughtUp >= 0, "every client holds every committed item %s after the heal, with no new message (%d"
          + " client-items missing at the heal)",
        caughtUp >= 0 ? "within " + RunReport.seconds(caughtUp - healedAt) : "NOT within 60 s", missing);

      crossingFigures(splitAt, healedAt);

      Set<String> expected = new HashSet<>(Set.of(newA, newC, both));
      population.clients.forEach(c -> expected.add(c.userId));
      List<String> everyone = new ArrayList<>(probeUsers);
      population.clients.forEach(c -> everyone.add(c.userId));
      boolean agrees = within(Duration.ofSeconds(30),
        () -> presenceAgrees(everyone, expected).isEmpty() && roomAgrees(presenceGroup, Set.of(newA, newC, both)).isEmpty());
      check(agrees, "after the heal every node shows exactly the connected users online, each once (no ghost of the "
          + "users who left, the user on both sides once) %s",
        agrees ? "within " + RunReport.seconds(checker.now() - healedAt)
          : "NOT within 30 s: " + presenceAgrees(everyone, expected) + " " + roomAgrees(presenceGroup,
            Set.of(newA, newC, both)));

      long leftAt = checker.now();
      disconnect(both);
      disconnect(newC);
      Set<String> after = Set.of(newA);
      boolean gone = within(Duration.ofSeconds(30), () -> presenceAgrees(probeUsers, after).isEmpty());
      check(gone, "users who leave after the heal are offline on every node %s",
        gone ? "within " + RunReport.seconds(checker.now() - leftAt) : "NOT within 30 s: "
          + presenceAgrees(probeUsers, after));

      roundTrip(0);
      roundTrip(MINORITY);
      checker.mark("recovered");
    });
  }

  /** An item on a client's stream, and the node the client was live on then. */
  private record Seen(DeliveryChecker.Delivery delivery, int node) {
  }

  private final Queue<Seen> deliveries = new ConcurrentLinkedQueue<>();

  /**
   * How items sent during the partition reached clients on the same side and on the other side:
   * the bus carries only the first; the other side's clients get them from the gateway's
   * PostgreSQL sweep (DESIGN §8). Notes counts and delays (acknowledgement to delivery).
   */
  private void crossingFigures(long from, long to) {
    Map<String, Ack> acks = new HashMap<>();
    checker.acks().stream().filter(a -> a.acked() >= from && a.acked() <= to)
      .forEach(a -> acks.put(a.conversationId() + "#" + a.seq(), a));
    List<Long> same = new ArrayList<>();
    List<Long> across = new ArrayList<>();
    long afterHeal = 0;
    for (Seen s : deliveries) {
      Ack a = acks.get(s.delivery().conversationId() + "#" + s.delivery().seq());
      if (a == null || s.node() < 0) {
        continue;
      }
      long lag = Math.max(0, s.delivery().at() - a.acked());
      if ((a.node() == MINORITY) == (s.node() == MINORITY)) {
        same.add(lag);
      } else {
        across.add(lag);
        if (s.delivery().at() > to) {
          afterHeal++;
        }
      }
    }
    note("items sent during the partition, acknowledgement to delivery: on the same side %s; to the other side's"
      + " clients %s (%d of them after the heal)", quantiles(same), quantiles(across), afterHeal);
  }

  private static String quantiles(List<Long> nanos) {
    if (nanos.isEmpty()) {
      return "none";
    }
    List<Long> sorted = nanos.stream().sorted().toList();
    return String.format(java.util.Locale.ROOT, "%d deliveries, p50 %.2f s, p99 %.2f s, max %.2f s", sorted.size(),
      sorted.get(sorted.size() / 2) / 1e9, sorted.get((int) Math.min(sorted.size() - 1, sorted.size() * 0.99)) / 1e9,
      sorted.get(sorted.size() - 1) / 1e9);
  }

  // ---- the cluster ----

  /** Each node's cluster size (-1 when it does not answer 200). */
  private List<Integer> clusterSizes() {
    List<Integer> sizes = new ArrayList<>();
    for (int i = 0; i < harness.size(); i++) {
      JsonObject h = harness.node(i).health();
      sizes.add(h == null || h.getInteger("httpStatus") != 200 ? -1 : h.getInteger("clusterSize", 0));
    }
    return sizes;
  }

  /** Client-items (a client, an item of one of its conversations) that the client does not hold yet. */
  private long missingItems(Map<String, TreeMap<Long, History>> committed) {
    long missing = 0;
    for (StreamClient c : population.clients) {
      for (String conv : c.conversations) {
        TreeMap<Long, History> items = committed.getOrDefault(conv, new TreeMap<>());
        long have = checker.contiguous(c.index, conv);
        missing += items.tailMap(have, false).size();
      }
    }
    return missing;
  }

  /**
   * One send through {@code node} to every group; every member's client must get it within
   * {@link #ROUND_TRIP_SECONDS}: events cross between all nodes again (the bus takes a fraction of a
   * second; the report gives the time).
   */
  private void roundTrip(int node) {
    Sender s = population.senders.get(0);
    long start = checker.now();
    Map<String, Long> seqs = new LinkedHashMap<>();
    for (String conv : population.groups) {
      String cmid = population.run + "-rt" + node + "-" + conv;
      Harness.Reply r = Harness.await(harness.call(node, HttpMethod.POST, "/api/conversations/" + conv + "/messages",
        s.token, new JsonObject().put("content", "round trip").put("clientMessageId", cmid), 10_000),
        Duration.ofSeconds(20));
      if (r.status() != 201) {
        check(false, "a send through node-%d after the heal answered %d %s", node, r.status(), r.body());
        return;
      }
      JsonObject m = r.json();
      checker.acked(new Ack(s.index, conv, cmid, m.getLong("seq"), m.getString("id"), node, start, checker.now()));
      seqs.put(conv, m.getLong("seq"));
    }
    boolean all = within(Duration.ofSeconds(30), () -> population.clients.stream().allMatch(c -> c.conversations.stream()
      .allMatch(conv -> checker.contiguous(c.index, conv) >= seqs.get(conv))));
    double took = (checker.now() - start) / 1e9;
    check(all && took < ROUND_TRIP_SECONDS, "a send through node-%d after the heal reaches every member's client on"
        + " every node %s", node, all ? "within " + String.format(java.util.Locale.ROOT, "%.1f s", took)
        + (took < ROUND_TRIP_SECONDS ? "" : ", more than " + ROUND_TRIP_SECONDS + " s") : "NOT within 30 s");
  }

  // ---- presence ----

  /** A group of the probe users and the groups' owner, who asks for presence. */
  private String createGroup(List<String> users) {
    JsonObject body = new JsonObject().put("name", "presence " + population.run).put("participantIds", new JsonArray(users));
    Harness.Reply r = Harness.await(harness.call(0, HttpMethod.POST, "/api/groups", population.senders.get(0).token,
      body, 30_000), Duration.ofSeconds(40));
    if (r.status() != 201) {
      throw new AssertionError("creating the presence group answered " + r.status() + " " + r.body());
    }
    return r.json().getString("id");
  }

  /** Opens one more WebSocket of {@code user} on {@code node} and waits for its {@code connected}. */
  private void connect(String user, int node) {
    Promise<Void> connected = Promise.promise();
    ClientWebSocket ws = harness.wsClient().webSocket();
    ws.textMessageHandler(text -> {
      if ("connected".equals(new JsonObject(text).getString("type"))) {
        connected.tryComplete();
      }
    });
    ws.closeHandler(v -> connected.tryFail(user + "'s WebSocket on node-" + node + " closed before 'connected'"));
    Future<?> open = ws.connect(new WebSocketConnectOptions()
      .setHost(harness.node(node).host())
      .setPort(harness.node(node).httpPort())
      .setURI("/api/ws?token=" + Harness.token(user))
      .setTimeout(10_000)
      .setAllowOriginHeader(false));
    open.onFailure(connected::tryFail);
    Harness.await(connected.future(), Duration.ofSeconds(20));
    probes.computeIfAbsent(user, u -> new ArrayList<>()).add(ws);
  }

  /** Closes every WebSocket of {@code user}. */
  private void disconnect(String user) {
    List<ClientWebSocket> open = probes.remove(user);
    if (open != null) {
      Harness.await(Future.join(open.stream().map(ClientWebSocket::close).toList()), Duration.ofSeconds(20));
    }
  }

  /**
   * What every node's {@code GET /api/presence} says about {@code users} that differs from
   * {@code online} (each user once, online exactly when expected); empty when all agree.
   */
  private List<String> presenceAgrees(List<String> users, Set<String> online) {
    return askEveryNode("/api/presence?userIds=" + String.join(",", users), (i, json, wrong) -> {
      Map<String, Integer> seen = new HashMap<>();
      for (Object o : json.getJsonArray("users", new JsonArray())) {
        JsonObject u = (JsonObject) o;
        String id = u.getString("userId");
        seen.merge(id, 1, Integer::sum);
        boolean expected = online.contains(id);
        if (u.getBoolean("online", false) != expected) {
          wrong.add("node-" + i + " shows " + id + (expected ? " offline" : " online (ghost)"));
        }
      }
      for (String id : users) {
        int n = seen.getOrDefault(id, 0);
        if (n != 1) {
          wrong.add("node-" + i + " lists " + id + " " + n + " times");
        }
      }
    });
  }

  /** What every node's conversation presence of {@code conv} says that differs from {@code online}, each once. */
  private List<String> roomAgrees(String conv, Set<String> online) {
    return askEveryNode("/api/conversations/" + conv + "/presence", (i, json, wrong) -> {
      List<String> ids = new ArrayList<>();
      json.getJsonArray("onlineUsers", new JsonArray()).forEach(o -> ids.add(((JsonObject) o).getString("userId")));
      if (ids.size() != new HashSet<>(ids).size() || !new HashSet<>(ids).equals(online)) {
        wrong.add("node-" + i + " has " + ids + " online in the presence group");
      }
    });
  }

  /** Judges one node's answer, adding what is wrong with it to the list. */
  private interface Judge {
    void judge(int node, JsonObject answer, List<String> wrong);
  }

  /**
   * {@code GET uri} on every node as the groups' owner: a node that does not answer 200 is one
   * line of the result, every answer is handed to {@code judge}. Empty when all agree.
   */
  private List<String> askEveryNode(String uri, Judge judge) {
    List<String> wrong = new ArrayList<>();
    String token = population.senders.get(0).token;
    for (int i = 0; i < harness.size(); i++) {
      Harness.Reply r;
      try {
        r = Harness.await(harness.call(i, HttpMethod.GET, uri, token, null, 5_000), Duration.ofSeconds(10));
      } catch (RuntimeException | AssertionError e) {
        wrong.add("node-" + i + ": " + e.getMessage());
        continue;
      }
      if (r.status() != 200) {
        wrong.add("node-" + i + ": " + r.status());
        continue;
      }
      judge.judge(i, r.json(), wrong);
    }
    return wrong;
  }
}
