package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.History;
import io.switchboard.testing.Netns;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The life of one fault scenario: stage a cluster and its users, let traffic run, inject the
 * fault (the subclass), then stop the senders, read what PostgreSQL committed, wait for the
 * clients to converge, judge, report, and fail on any violation or failed scenario check.
 */
abstract class FaultScenario {

  protected Harness harness;
  protected DeliveryChecker checker;
  protected Population population;
  private final List<String> checks = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  /**
   * Set by a class whose tests share one harness (PER_CLASS, started once): each test peoples it
   * with {@link #populate} and {@link #tearDown} leaves it running for the next.
   */
  protected boolean sharedHarness;

  /**
   * Starts {@code nodes} node processes with {@code env}, peoples them with {@code plan}, opens
   * every stream (pinned clients stay on their home node) and waits for all of them.
   */
  protected void stage(int nodes, Map<String, String> env, Population.Plan plan, boolean pinned, Duration connect) {
    stage(nodes, env, plan, pinned, connect, null);
  }

  /** {@link #stage(int, Map, Population.Plan, boolean, Duration)} with each node in a namespace of {@code netns}. */
  protected void stage(int nodes, Map<String, String> env, Population.Plan plan, boolean pinned, Duration connect,
                       Netns netns) {
    prepare(nodes, env, plan, netns);
    checker.mark("connecting");
    population.connectAll(pinned);
    population.awaitAllLive(connect);
    note("every client connected %s after the first open",
      RunReport.seconds(checker.now() - checker.markAt("connecting")));
  }

  /** Starts the cluster and creates the users and groups; nobody connected yet. */
  protected void prepare(int nodes, Map<String, String> env, Population.Plan plan) {
    prepare(nodes, env, plan, null);
  }

  /** {@link #prepare(int, Map, Population.Plan)} with each node in a namespace of {@code netns} (owned by the harness). */
  protected void prepare(int nodes, Map<String, String> env, Population.Plan plan, Netns netns) {
    if (nodes == SharedCluster.NODES && env.isEmpty() && netns == null && Knobs.shareCluster()) {
      harness = SharedCluster.acquire();
      sharedHarness = true;
    } else {
      SharedCluster.close();
      harness = Harness.start(nodes, env, netns);
    }
    checker = new DeliveryChecker();
    population = Population.create(harness, checker, plan);
  }

  /**
   * On a harness already running (shared by the class's tests): a fresh checker, report and
   * population of {@code plan} (users and groups of their own), every stream opened and live.
   */
  protected void populate(Population.Plan plan, boolean pinned, Duration connect) {
    checks.clear();
    notes.clear();
    checker = new DeliveryChecker();
    population = Population.create(harness, checker, plan);
    checker.mark("connecting");
    population.connectAll(pinned);
    population.awaitAllLive(connect);
    note("every client connected %s after the first open",
      RunReport.seconds(checker.now() - checker.markAt("connecting")));
  }

  /** Starts the senders and waits for steady traffic. */
  protected void startTraffic() {
    population.startSending();
    steady("before the fault");
  }

  /**
   * Waits until {@link Knobs#steadyMessages()} more sends have been acknowledged (at most 60 s);
   * traffic that does not flow is a failed check, and the scenario goes on.
   */
  protected boolean steady(String when) {
    int before = checker.ackCount();
    int target = before + Knobs.steadyMessages();
    long start = checker.now();
    boolean flowing = within(Duration.ofSeconds(60), () -> checker.ackCount() >= target);
    if (!flowing) {
      check(false, "traffic flows %s: only %d acknowledged sends in 60 s", when, checker.ackCount() - before);
    } else {
      note("%d sends acknowledged in %s %s", Knobs.steadyMessages(), RunReport.seconds(checker.now() - start), when);
    }
    return flowing;
  }

  /** Records a scenario check; all are asserted in {@link #finish}. */
  protected void check(boolean ok, String what, Object... args) {
    checks.add((ok ? "PASS: " : "FAIL: ") + String.format(Locale.ROOT, what, args));
  }

  /** Records a figure line of the report. */
  protected void note(String what, Object... args) {
    notes.add(String.format(Locale.ROOT, what, args));
  }

  /** Polls until {@code condition} holds or {@code timeout} passes; answers whether it held. */
  protected static boolean within(Duration timeout, BooleanSupplier condition) {
    try {
      Harness.awaitCondition("condition", timeout, condition);
      return true;
    } catch (AssertionError e) {
      return false;
    }
  }

  /**
   * Waits until every client of {@code affected} has an open stream on another node than
   * {@code left}; records the check and answers whether they all did.
   */
  protected boolean awaitMovedOff(List<StreamClient> affected, int left, Duration timeout, String why) {
    long start = checker.now();
    boolean moved = within(timeout, () -> affected.stream().allMatch(c -> c.isLive() && c.liveNode() != left));
    long stillOff = affected.stream().filter(c -> !c.isLive() || c.liveNode() == left).count();
    check(moved, "all %d clients of node-%d live on another node %s (%s)", affected.size(), left,
      moved ? "within " + RunReport.seconds(checker.now() - start) : stillOff + " not within " + timeout, why);
    return moved;
  }

  /** Sends the clients homed on {@code node} back to it and waits until they are live there. */
  protected boolean sendHome(int node, Duration timeout) {
    population.sendHome(c -> c.home == node);
    long start = checker.now();
    List<StreamClient> mine = population.clients.stream().filter(c -> c.home == node).toList();
    boolean home = within(timeout, () -> mine.stream().allMatch(c -> c.liveNode() == node));
    check(home, "the %d clients homed on node-%d are live on it again %s", mine.size(), node,
      home ? "within " + RunReport.seconds(checker.now() - start) : "NOT within " + timeout);
    return home;
  }

  /** Lets a fault last until {@code nanos} of run time: the scenario's own duration, not a guess. */
  protected void holdUntil(long nanos) {
    Harness.awaitCondition("the fault's duration", Duration.ofNanos(Math.max(0, nanos - checker.now())).plusSeconds(5),
      () -> checker.now() >= nanos);
  }

  /** Each node's health status and cluster size, for a report. */
  protected String healths() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < harness.size(); i++) {
      JsonObject h = harness.node(i).isAlive() ? harness.node(i).health() : null;
      sb.append(i == 0 ? "" : "; ").append("node-").append(i).append(' ').append(!harness.node(i).isAlive() ? "down"
        : h == null ? "no answer" : h.getInteger("httpStatus") + " clusterSize " + h.getInteger("clusterSize"));
    }
    return sb.toString();
  }

  /** Nodes that run and are not frozen. */
  protected List<Integer> servingNodes() {
    return IntStream.range(0, harness.size())
      .filter(i -> harness.node(i).isAlive() && !harness.node(i).isFrozen())
      .boxed()
      .toList();
  }

  /**
   * Runs a scenario's {@code body} (staging and fault), then {@link #finish}es it. A scenario that
   * breaks off still writes a report with what it saw and why it stopped.
   */
  protected void scenario(String name, String title, Runnable body) {
    try {
      body.run();
    } catch (RuntimeException | AssertionError e) {
      String report = "== " + title + ": ABORTED ==\n" + e + "\n"
        + (population == null ? "" : RunReport.build(title, population, harness, checker, -1, -1, checks, notes));
      RunReport.write(name, report);
      System.out.println(report);
      throw e;
    }
    finish(name, title);
  }

  /**
   * Stops the senders, reads every group's history, waits for the clients to hold all of it,
   * judges, writes the report and fails on any violation or failed check.
   */
  private void finish(String name, String title) {
    List<Integer> serving = servingNodes();
    boolean whole = within(Duration.ofSeconds(10), () -> serving.stream().allMatch(i -> {
      JsonObject h = harness.node(i).health();
      return h != null && h.getInteger("httpStatus") == 200 && h.getInteger("clusterSize", 0) == serving.size();
    }));
    check(whole, "the %d serving nodes form one cluster at the end (%s)", serving.size(), healths());
    population.stopSending();
    checker.mark("senders stopped");
    Map<String, TreeMap<Long, History>> committed = readHistory();
    long start = System.nanoTime();
    boolean converged = within(Duration.ofSeconds(Knobs.convergeSeconds()),
      () -> checker.converged(committed, population.live()::contains));
    double took = converged ? (System.nanoTime() - start) / 1e9 : -1;
    long total = checker.judge(committed, population.live()::contains);
    String report = RunReport.build(title, population, harness, checker, total, took, checks, notes);
    RunReport.write(name, report);
    System.out.println(report);
    assertThat(checker.violations()).as(report).isEmpty();
    assertThat(checks).as(report).allMatch(c -> c.startsWith("PASS"));
  }

  /** Every group's committed items now (read over REST), for a scenario's own checks. */
  protected Map<String, TreeMap<Long, History>> committedNow() {
    return readHistory();
  }

  /** Every group's committed items, read over REST from a serving node as the groups' owner. */
  protected Map<String, TreeMap<Long, History>> readHistory() {
    String token = population.senders.get(0).token;
    Map<String, TreeMap<Long, History>> out = new LinkedHashMap<>();
    for (String conv : population.groups) {
      TreeMap<Long, History> items = new TreeMap<>();
      long after = 0;
      while (true) {
        Harness.Reply r = historyPage(conv, after, token);
        JsonArray page = r.json().getJsonArray("messages", new JsonArray());
        for (Object o : page) {
          JsonObject m = (JsonObject) o;
          items.put(m.getLong("seq"), new History(m.getLong("seq"), m.getString("id"), m.getString("clientMessageId")));
          after = Math.max(after, m.getLong("seq"));
        }
        if (page.size() < 200) {
          break;
        }
      }
      out.put(conv, items);
    }
    return out;
  }

  private Harness.Reply historyPage(String conv, long after, String token) {
    AssertionError last = null;
    for (int attempt = 0; attempt < 20; attempt++) {
      List<Integer> serving = servingNodes();
      int node = serving.get(attempt % serving.size());
      try {
        Harness.Reply r = Harness.await(harness.call(node, HttpMethod.GET, "/api/conversations/" + conv
          + "/messages?limit=200&after=" + after, token, null, 20_000), Duration.ofSeconds(30));
        if (r.status() == 200) {
          return r;
        }
        last = new AssertionError("history of " + conv + " on node " + node + ": " + r.status() + " " + r.body());
      } catch (RuntimeException | AssertionError e) {
        last = new AssertionError("history of " + conv + " on node " + node + ": " + e, e);
      }
      Harness.awaitCondition("a pause between history attempts", Duration.ofSeconds(2), pause(500));
    }
    throw last;
  }

  /** A condition that becomes true after {@code ms}: a bounded pause between retries of the test thread. */
  private static BooleanSupplier pause(long ms) {
    long until = System.nanoTime() + ms * 1_000_000;
    return () -> System.nanoTime() >= until;
  }

  @AfterEach
  void tearDown() {
    if (population != null) {
      population.close();
      population = null;
    }
    if (harness != null && !sharedHarness) {
      harness.close();
    }
  }
}
