package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.switchboard.faults.DeliveryChecker.Attempt;
import io.switchboard.testing.PgProxy;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

/**
 * Issue 13, scenarios 3–5: races around a send's commit, on one cluster of three node processes
 * whose PostgreSQL is reached through a proxy ({@link PgProxy}) that can cut a connection after
 * PostgreSQL committed a send and before the node hears of it. Each test peoples the shared
 * cluster with users and groups of its own and is judged by the one {@link DeliveryChecker}.
 *
 * <ul>
 *   <li>Scenario 4 — many identical sends at once: 50 sends of one user with one
 *       {@code clientMessageId} spread over the three nodes commit one message, and all 50
 *       answers are it (SPEC §3 "a retried send returns the original message"; DECISIONS: 201,
 *       also when the retry's content differs).</li>
 *   <li>Scenario 5 — many publishers on one conversation across nodes: every SSE and WebSocket
 *       subscriber on every node gets the same items in the same order, history's.</li>
 *   <li>Scenario 3 — the database connection cut around COMMIT: the node answers 504
 *       {@code outcome_unknown} (never "nothing was committed"), every retry with the same
 *       {@code clientMessageId} returns the one message, and every subscriber gets it once
 *       although its node never published it. Then cuts of steady sends, and
 *       {@code pg_terminate_backend} in a loop under traffic.</li>
 * </ul>
 * Scenario 3 runs last: its faults then cannot leave anything behind for the others.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CommitRaceFaultTest extends FaultScenario {

  /** The statement of a send (MessageStore.SEND): the one that inserts a message with its clientMessageId. */
  static final Predicate<String> SEND = sql -> sql.contains("INSERT INTO messages") && sql.contains("client_message_id")
    && sql.contains("WITH c AS");

  private Vertx side;
  private PgProxy proxy;

  @BeforeAll
  void startCluster() {
    SharedCluster.close();
    side = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
    harness = Harness.start(3, Map.of(), pg -> {
      proxy = PgProxy.start(side, pg.port());
      return proxy.url();
    });
    sharedHarness = true;
  }

  @AfterAll
  void stopCluster() {
    if (harness != null) {
      harness.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (side != null) {
      try {
        side.close().await(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException | RuntimeException e) {
        // going away with the JVM
      }
    }
  }

  // ---- scenario 4 ----

  @Test
  @Order(1)
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  @DisplayName("50 identical sends at once across three nodes: one message, 50 identical answers, one delivery each")
  void identicalSendsAtOnce() {
    int burst = Knobs.racesBurst();
    scenario("13-4-identical-sends", "Issue 13 scenario 4: " + burst + " identical sends at once across 3 nodes", () -> {
      // Every client is in both groups; one sender (the groups' owner) sends, nothing else does.
      populate(new Population.Plan(Knobs.clients(), 2, 2, 1, i -> i % 3), false, Duration.ofSeconds(60));
      Sender who = population.senders.get(0);
      String same = population.run + "-burst-same";
      String differing = population.run + "-burst-differing";
      checker.mark("fault");
      burst(who, population.groups.get(0), same, burst, n -> "the same body");
      burst(who, population.groups.get(1), differing, burst, n -> "body #" + n);
      checker.mark("recovered");
    });
  }

  /**
   * Fires {@code count} sends of {@code who} with one {@code clientMessageId} at once, spread
   * over the nodes, and checks: all answer 201 with one message, history holds exactly it (with
   * the content of one of the sends, the one every answer carries), and every member's stream
   * delivers it once.
   */
  private void burst(Sender who, String conv, String cmid, int count, java.util.function.IntFunction<String> body) {
    String uri = "/api/conversations/" + conv + "/messages";
    List<Future<Harness.Reply>> replies = new ArrayList<>();
    long[] starts = new long[count];
    long first = checker.now();
    for (int n = 0; n < count; n++) {
      starts[n] = checker.now();
      replies.add(harness.call(n % harness.size(), HttpMethod.POST, uri, who.token,
        new JsonObject().put("content", body.apply(n)).put("clientMessageId", cmid), 30_000));
    }
    Harness.await(Future.join(replies), Duration.ofSeconds(60));
    long done = checker.now();
    Map<String, Integer> statuses = new TreeMap<>();
    Set<String> answers = new HashSet<>();
    Set<String> contents = new HashSet<>();
    long seq = -1;
    String id = null;
    for (int n = 0; n < count; n++) {
      Future<Harness.Reply> f = replies.get(n);
      String outcome = f.succeeded() ? String.valueOf(f.result().status()) : "failed: " + f.cause();
      statuses.merge(outcome, 1, Integer::sum);
      checker.attempt(who.index, n % harness.size(), starts[n], done, outcome);
      if (f.succeeded() && f.result().status() == 201) {
        JsonObject m = f.result().json();
        seq = m.getLong("seq");
        id = m.getString("id");
        answers.add(m.getString("id") + "@" + m.getLong("seq"));
        contents.add(String.valueOf(m.getValue("content")));
        checker.acked(new Ack(who.index, conv, cmid, seq, id, n % harness.size(), first, done));
      }
    }
    check(statuses.equals(Map.of("201", count)), "all %d sends of %s answered 201 (%s) within %s", count, cmid,
      statuses, RunReport.seconds(done - first));
    check(answers.size() == 1 && contents.size() == 1, "every answer is the same message, content included "
      + "(%s; contents %s)", answers, contents.size() <= 3 ? contents : contents.size() + " different");
    JsonArray history = historyOf(conv, who.token);
    boolean oneInHistory = history.size() == 1 && history.getJsonObject(0).getString("id").equals(id)
      && String.valueOf(history.getJsonObject(0).getValue("content")).equals(contents.stream().findFirst().orElse(null));
    check(oneInHistory, "history of the conversation holds exactly that message (%d items: %s)", history.size(),
      history.stream().map(o -> ((JsonObject) o).getLong("seq") + " " + ((JsonObject) o).getString("clientMessageId"))
        .toList());
    if (id == null) {
      return;
    }
    long at = seq;
    List<StreamClient> members = population.clients.stream().filter(c -> c.conversations.contains(conv)).toList();
    boolean delivered = within(Duration.ofSeconds(30), () -> members.stream()
      .allMatch(c -> checker.streamed(c.index, conv, at)));
    check(delivered, "the %d members' streams (SSE and WebSocket, on all nodes) delivered it %s", members.size(),
      delivered ? "within " + RunReport.seconds(checker.now() - done) + " of the last answer"
        : "NOT within 30 s: " + members.stream().filter(c -> !checker.streamed(c.index, conv, at)).count() + " lack it");
    note("%s: %d sends over %d nodes answered within %s; the answers' message %s", cmid, count, harness.size(),
      RunReport.seconds(done - first), answers);
  }

  // ---- scenario 5 ----

  @Test
  @Order(2)
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("many publishers on one conversation across nodes: every subscriber sees history's order, no gap, no duplicate")
  void manyPublishersOneConversation() {
    int publishers = Knobs.racesPublishers();
    int perNode = Math.max(1, publishers / harness.size());
    int target = Knobs.racesMessages();
    scenario("13-5-many-publishers", "Issue 13 scenario 5: " + perNode * harness.size()
      + " publishers on one conversation across 3 nodes", () -> {
      populate(new Population.Plan(Knobs.clients(), 1, 1, perNode, i -> i % 3), false, Duration.ofSeconds(60));
      String conv = population.groups.get(0);
      population.senders.forEach(s -> s.pace(1));
      checker.mark("fault");
      long start = checker.now();
      population.startSending();
      boolean sent = within(Duration.ofSeconds(90), () -> checker.ackCount() >= target);
      population.stopSending();
      long stopped = checker.now();
      checker.mark("recovered");
      int acked = checker.ackCount();
      check(sent, "%d messages acknowledged at full speed (%d in %s, %.0f/s)", target, acked,
        RunReport.seconds(stopped - start), acked / ((stopped - start) / 1e9));

      JsonArray history = historyAll(conv, population.senders.get(0).token);
      List<Long> seqs = history.stream().map(o -> ((JsonObject) o).getLong("seq")).toList();
      List<Long> expected = LongStream.rangeClosed(1, seqs.size()).boxed().toList();
      check(seqs.equals(expected), "history is seq 1..%d without a hole", seqs.size());
      boolean all = within(Duration.ofSeconds(Knobs.convergeSeconds()), () -> population.clients.stream()
        .allMatch(c -> checker.contiguous(c.index, conv) >= seqs.size()));
      long converged = checker.now();
      List<String> differing = new ArrayList<>();
      for (StreamClient c : population.clients) {
        List<Long> order = checker.streamOrder(c.index, conv);
        if (!order.equals(expected)) {
          differing.add(c.transport() + " client " + c.index + ": " + describeOrder(order, expected));
        }
      }
      check(all && differing.isEmpty(), "all %d subscribers (%d SSE, %d WebSocket, on 3 nodes) got the %d items on their "
          + "streams in history's order %s%s", population.clients.size(),
        population.clients.stream().filter(c -> c instanceof SseStreamClient).count(),
        population.clients.stream().filter(c -> c instanceof WsStreamClient).count(), seqs.size(),
        all ? "within " + RunReport.seconds(converged - stopped) + " of the last acknowledgement" : "(NOT all converged)",
        differing.isEmpty() ? "" : "; differing: " + differing.stream().limit(5).toList());

      // One sender sends one at a time, so its own messages must stand in history in its order.
      Map<Integer, TreeMap<Long, Long>> bySender = new HashMap<>();
      for (Ack a : checker.acks()) {
        long n = Long.parseLong(a.clientMessageId().substring(a.clientMessageId().lastIndexOf('-') + 1));
        bySender.computeIfAbsent(a.sender(), k -> new TreeMap<>()).put(n, a.seq());
      }
      List<String> outOfOrder = new ArrayList<>();
      bySender.forEach((s, sends) -> {
        long last = 0;
        for (Map.Entry<Long, Long> e : sends.entrySet()) {
          if (e.getValue() <= last) {
            outOfOrder.add("sender " + s + " send " + e.getKey() + " at #" + e.getValue() + " after #" + last);
          }
          last = e.getValue();
        }
      });
      check(outOfOrder.isEmpty(), "each of the %d publishers' messages are in history in the order it sent them%s",
        bySender.size(), outOfOrder.isEmpty() ? "" : ": " + outOfOrder.stream().limit(5).toList());
      note("%d publishers (%d per node) sent %d messages to one conversation in %s; %d subscribers each got all of "
          + "them in one order", bySender.size(), perNode, acked, RunReport.seconds(stopped - start),
        population.clients.size());
    });
  }

  private static String describeOrder(List<Long> order, List<Long> expected) {
    for (int i = 0; i < Math.min(order.size(), expected.size()); i++) {
      if (!order.get(i).equals(expected.get(i))) {
        return "at position " + i + " #" + order.get(i) + " where history has #" + expected.get(i);
      }
    }
    return order.size() + " items where history has " + expected.size();
  }

  // ---- scenario 3 ----

  @Test
  @Order(3)
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("the database connection cut around COMMIT: 504, every retry the same message, one delivery each")
  void connectionCutAroundCommit() {
    scenario("13-3-commit-cut", "Issue 13 scenario 3: the database connection cut around COMMIT", () -> {
      populate(Population.Plan.spread(3), false, Duration.ofSeconds(60));
      // Quiet: nobody else sends, so no later item reveals the gap; only the sweep can.
      probe(0, "while the conversation is quiet");
      startTraffic();
      checker.mark("fault");
      long faultAt = checker.now();
      probe(1, "under steady traffic");
      probe(2, "under steady traffic");

      int cuts = Knobs.racesCuts();
      int committed = 0;
      long cutsFrom = checker.now();
      for (int i = 0; i < cuts; i++) {
        PgProxy.Cut cut = Harness.await(proxy.armCut(SEND, null), Duration.ofSeconds(30));
        if (cut.committed()) {
          committed++;
        }
      }
      note("%d steady sends cut after PostgreSQL answered their Sync (%d of them committed) in %s", cuts, committed,
        RunReport.seconds(checker.now() - cutsFrom));
      steady("after the cuts");

      terminateLoop(Duration.ofSeconds(Knobs.racesTerminateSeconds()), 250);
      checker.mark("recovered");
      steady("after pg_terminate_backend");

      List<Attempt> during = checker.attempts().stream().filter(a -> a.end() >= faultAt).toList();
      List<Attempt> unclear = during.stream()
        .filter(a -> !Set.of("201", "503", "504").contains(a.outcome()))
        .toList();
      check(unclear.isEmpty(), "every send attempt under the faults answered 201, 503 or 504 (%d attempts: %s%s)",
        during.size(), during.stream().collect(Collectors.groupingBy(Attempt::outcome, TreeMap::new,
          Collectors.counting())), unclear.isEmpty() ? "" : "; not so: "
          + unclear.stream().limit(6).map(checker::describe).toList());
    });
  }

  /**
   * One send of a population sender whose connection is cut after PostgreSQL committed it: the
   * node answers 504 {@code outcome_unknown}; a retry with the same clientMessageId on every node
   * answers 201 with the one message; every member's stream delivers it.
   */
  private void probe(int k, String when) {
    Sender who = population.senders.get(k % population.senders.size());
    int node = k % harness.size();
    String conv = population.groups.get(k % population.groups.size());
    String cmid = population.run + "-probe-" + k;
    String uri = "/api/conversations/" + conv + "/messages";
    JsonObject body = new JsonObject().put("content", "probe " + k).put("clientMessageId", cmid);
    Future<PgProxy.Cut> cutting = proxy.armCut(SEND, cmid);
    long first = checker.now();
    Harness.Reply r = Harness.await(harness.call(node, HttpMethod.POST, uri, who.token, body, 30_000),
      Duration.ofSeconds(40));
    long answered = checker.now();
    checker.attempt(who.index, node, first, answered, String.valueOf(r.status()));
    PgProxy.Cut cut;
    try {
      cut = Harness.await(cutting, Duration.ofSeconds(5));
    } catch (AssertionError | RuntimeException e) {
      proxy.disarm();
      check(false, "probe %d (%s): the proxy cut its send (%s; the answer was %d %s)", k, when, e, r.status(), r.body());
      return;
    }
    String code = r.json().getJsonObject("error", new JsonObject()).getString("code");
    check(cut.committed() && r.status() == 504 && "outcome_unknown".equals(code),
      "probe %d (%s): PostgreSQL committed it (%s) and the node answered 504 outcome_unknown, not \"nothing was "
        + "committed\": %d %s in %s", k, when, cut.committed(), r.status(), code, RunReport.seconds(answered - first));

    Set<String> answers = new HashSet<>();
    long seq = -1;
    List<String> statuses = new ArrayList<>();
    for (int n = 0; n < harness.size(); n++) {
      int at = (node + n) % harness.size();
      long start = checker.now();
      Harness.Reply retry = Harness.await(harness.call(at, HttpMethod.POST, uri, who.token, body, 30_000),
        Duration.ofSeconds(40));
      long end = checker.now();
      checker.attempt(who.index, at, start, end, String.valueOf(retry.status()));
      statuses.add(at + ":" + retry.status());
      if (retry.status() == 201) {
        JsonObject m = retry.json();
        seq = m.getLong("seq");
        answers.add(m.getString("id") + "@" + seq);
        checker.acked(new Ack(who.index, conv, cmid, seq, m.getString("id"), at, first, end));
      }
    }
    check(answers.size() == 1 && statuses.stream().allMatch(s -> s.endsWith(":201")),
      "probe %d: a retry on each node answered 201 with the same message (%s; %s)", k, statuses, answers);
    if (seq < 0) {
      return;
    }
    long at = seq;
    List<StreamClient> members = population.clients.stream().filter(c -> c.conversations.contains(conv)).toList();
    long cutAt = checker.now() - (System.nanoTime() - cut.atNanos());
    boolean delivered = within(Duration.ofSeconds(40), () -> members.stream().allMatch(c -> checker.has(c.index, conv, at)));
    long all = checker.now();
    boolean streamed = members.stream().allMatch(c -> checker.streamed(c.index, conv, at));
    String spread = members.stream().map(c -> c.transport() + "@" + c.liveNode()).sorted()
      .collect(Collectors.groupingBy(x -> x, TreeMap::new, Collectors.counting())).toString();
    check(delivered && streamed, "probe %d: the %d members' streams %s delivered the committed-but-unanswered #%d %s",
      k, members.size(), spread, at, delivered ? "within " + RunReport.seconds(all - cutAt) + " of the cut"
        + (streamed ? "" : " (some only from history)") : "NOT within 40 s");
    note("probe %d (%s): cut after commit, answered %d in %s, retries %s, on every member's stream %s after the cut",
      k, when, r.status(), RunReport.seconds(answered - first), statuses, RunReport.seconds(all - cutAt));
  }

  /**
   * {@code pg_terminate_backend} of every other client backend, every {@code everyMs} for
   * {@code how} (a connection of the test's own, straight to PostgreSQL), under steady traffic.
   */
  private void terminateLoop(Duration how, long everyMs) {
    Pool admin = PgBuilder.pool()
      .with(new PoolOptions().setMaxSize(1))
      .connectingTo(PgConnectOptions.fromUri(harness.postgres().url()))
      .using(side)
      .build();
    long start = checker.now();
    long end = start + how.toNanos();
    long terminated = 0;
    int rounds = 0;
    try {
      while (checker.now() < end) {
        long t0 = System.nanoTime();
        terminated += Harness.await(admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            + "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()")
          .execute().map(rows -> rows.iterator().next().getLong(0)), Duration.ofSeconds(10));
        rounds++;
        long left = everyMs - (System.nanoTime() - t0) / 1_000_000;
        if (left > 0) {
          Harness.awaitCondition("the next round", Duration.ofMillis(left + 1000),
            () -> System.nanoTime() - t0 >= everyMs * 1_000_000);
        }
      }
    } finally {
      admin.close();
    }
    note("pg_terminate_backend of every node connection every %d ms for %s: %d rounds, %d backends terminated", everyMs,
      RunReport.seconds(checker.now() - start), rounds, terminated);
  }

  // ---- history ----

  private JsonArray historyOf(String conv, String token) {
    Harness.Reply r = Harness.await(harness.call(0, HttpMethod.GET, "/api/conversations/" + conv
      + "/messages?limit=200&after=0", token, null, 20_000), Duration.ofSeconds(30));
    if (r.status() != 200) {
      throw new AssertionError("history of " + conv + ": " + r.status() + " " + r.body());
    }
    return r.json().getJsonArray("messages", new JsonArray());
  }

  private JsonArray historyAll(String conv, String token) {
    JsonArray all = new JsonArray();
    long after = 0;
    while (true) {
      Harness.Reply r = Harness.await(harness.call(0, HttpMethod.GET, "/api/conversations/" + conv
        + "/messages?limit=200&after=" + after, token, null, 20_000), Duration.ofSeconds(30));
      if (r.status() != 200) {
        throw new AssertionError("history of " + conv + ": " + r.status() + " " + r.body());
      }
      JsonArray page = r.json().getJsonArray("messages", new JsonArray());
      page.forEach(all::add);
      if (page.size() < 200) {
        return all;
      }
      after = page.getJsonObject(page.size() - 1).getLong("seq");
    }
  }
}
