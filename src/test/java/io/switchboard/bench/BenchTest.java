package io.switchboard.bench;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestDb;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A tiny run of every bench scenario against real nodes (and Nchan for the template target):
 * the counting must be exact (every delivery, no loss, no duplicate) and every JSON field the
 * docs name must be there. Speed is never checked here.
 */
class BenchTest {

  private static final String PID = String.valueOf(ProcessHandle.current().pid());
  private static NchanServer nchan;

  @AfterAll
  static void stopNchan() throws Exception {
    if (nchan != null) {
      nchan.close();
    }
  }

  private static String shared() {
    return "http://127.0.0.1:" + TestNodes.port(TestNodes.shared());
  }

  /** Runs {@code bench <args>} in this JVM and returns its JSON lines. */
  private static List<JsonObject> bench(String... args) {
    List<JsonObject> lines = new CopyOnWriteArrayList<>();
    try {
      Bench.run(Api.clientVertx(), List.of(args), lines::add).await(10, TimeUnit.MINUTES);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("the bench run did not end", e);
    }
    return lines;
  }

  private static void assertFanout(JsonObject j, long expected) {
    assertThat(j.fieldNames()).contains("scenario", "target", "transport", "runId", "subscribers", "subscribersOpen",
      "messages", "seconds", "deliveriesPerSecond", "serverCpuSeconds", "cpuSecondsPer1M", "clientCpuSeconds",
      "clientCpuCores", "clientBound", "latencyMs", "opens", "lost", "duplicates");
    assertThat(j.getLong("deliveriesExpected")).isEqualTo(expected);
    assertThat(j.getLong("deliveries")).as(j.encode()).isEqualTo(expected);
    assertThat(j.getLong("lost")).isZero();
    assertThat(j.getLong("duplicates")).isZero();
    assertThat(j.getLong("publishErrors")).isZero();
    assertThat(j.getJsonObject("latencyMs").getLong("samples")).isEqualTo(expected);
    assertThat(j.getJsonObject("latencyMs").getDouble("max"))
      .isGreaterThanOrEqualTo(j.getJsonObject("latencyMs").getDouble("p99"));
    assertThat(j.getBoolean("warmup")).isFalse();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"sse", "ws", "sockjs", "poll"})
  @DisplayName("fanout over each transport counts every delivery of every message to every subscriber once")
  void fanout(String transport) {
    List<JsonObject> lines = bench("fanout", "--url", shared(), "--transport", transport, "--subscribers", "6",
      "--messages", "12", "--window", "4", "--warmup", "0", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(1);
    JsonObject j = lines.get(0);
    assertFanout(j, 6 * 12);
    assertThat(j.getString("transport")).isEqualTo(transport);
    assertThat(j.getString("channel")).isEqualTo("poll".equals(transport) ? "conversation" : "topic");
    assertThat(j.getJsonObject("opens").getInteger("connected")).isEqualTo(6);
  }

  @Test
  @DisplayName("a warm-up phase is discarded and each measured run of the same subscribers counts afresh")
  void fanoutConversation() {
    List<JsonObject> lines = bench("fanout", "--url", shared(), "--transport", "ws", "--channel", "conversation",
      "--subscribers", "5", "--messages", "10", "--warmup", "1", "--runs", "2", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(2);
    for (JsonObject j : lines) {
      assertFanout(j, 50);
      assertThat(j.getString("channel")).isEqualTo("conversation");
    }
    assertThat(lines).extracting(j -> j.getInteger("run")).containsExactly(1, 2);
  }

  @Test
  @DisplayName("latency publishes at the fixed rate and still counts every delivery")
  void latency() {
    List<JsonObject> lines = bench("latency", "--url", shared(), "--subscribers", "4", "--messages", "10",
      "--rate", "40", "--warmup", "0", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(1);
    assertFanout(lines.get(0), 40);
    assertThat(lines.get(0).getInteger("rate")).isEqualTo(40);
    // 10 messages at 40/s cannot all be delivered in much less than the 225 ms the schedule takes.
    assertThat(lines.get(0).getDouble("seconds")).isGreaterThan(0.2);
  }

  @Test
  @DisplayName("idle reports RSS and live heap per connection with every connection open")
  void idle() {
    List<JsonObject> lines = bench("idle", "--url", shared(), "--transport", "ws", "--connections", "8",
      "--hold", "0", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(1);
    JsonObject j = lines.get(0);
    assertThat(j.getInteger("connectionsOpen")).isEqualTo(8);
    assertThat(j.fieldNames()).contains("rssBytesBefore", "rssBytesAfter", "rssPerConnectionKiB", "heapBytesBefore",
      "heapBytesAfter", "heapPerConnectionKiB", "openSeconds", "opens");
    assertThat(j.getLong("rssBytesAfter")).isPositive();
    assertThat(j.getLong("heapBytesAfter")).isPositive();
  }

  @Test
  @DisplayName("send counts acknowledged sends, finds each in its conversation's seq, and retries are idempotent")
  void send() {
    List<JsonObject> lines = bench("send", "--url", shared(), "--senders", "4", "--conversations", "3",
      "--duration", "1", "--warmup", "0", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(1);
    JsonObject j = lines.get(0);
    assertThat(j.getLong("sends")).isPositive();
    assertThat(j.getLong("seqsAllocated")).isEqualTo(j.getLong("sends"));
    assertThat(j.getLong("lost")).isZero();
    assertThat(j.getLong("conversationsMismatched")).isZero();
    assertThat(j.getLong("errors")).isZero();
    assertThat(j.getBoolean("idempotentRetriesOk")).isTrue();
    assertThat(j.fieldNames()).contains("sendsPerSecond", "cpuMsPerSend", "latencyMs", "serverCpuSeconds", "clientBound");
  }

  @Test
  @DisplayName("cluster spreads subscribers over the nodes, publishes on the first, and counts every delivery")
  void cluster() {
    TestNodes.TestCluster cluster = TestNodes.TestCluster.create();
    JsonObject generous = new JsonObject().put("limits", NodeProcesses.generousLimits());
    List<Node> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < 2; i++) {
        nodes.add(cluster.start(generous, EnumSet.allOf(Node.Role.class)));
      }
      String urls = "http://127.0.0.1:" + TestNodes.port(nodes.get(0)) + ",http://127.0.0.1:" + TestNodes.port(nodes.get(1));
      List<JsonObject> lines = bench("cluster", "--url", urls, "--subscribers", "6", "--messages", "10",
        "--warmup", "0", "--pid", PID, "--timeout", "60");
      assertThat(lines).hasSize(1);
      assertFanout(lines.get(0), 60);
      assertThat(lines.get(0).getInteger("nodes")).isEqualTo(2);
    } finally {
      nodes.forEach(n -> TestNodes.await(n.stop()));
    }
  }

  @Test
  @DisplayName("storm opens every client at once and each receives one message per conversation it is in")
  void storm() {
    List<JsonObject> lines = bench("storm", "--url", shared(), "--clients", "24", "--per-client", "3",
      "--group-size", "8", "--pid", PID, "--timeout", "60");
    assertThat(lines).hasSize(1);
    JsonObject j = lines.get(0);
    assertThat(j.getInteger("open")).isEqualTo(24);
    assertThat(j.getLong("deliveriesExpected")).isEqualTo(24 * 3);
    assertThat(j.getLong("deliveries")).isEqualTo(24 * 3);
    assertThat(j.getLong("clientsReceivingAll")).isEqualTo(24);
    assertThat(j.getLong("duplicates")).isZero();
    assertThat(j.fieldNames()).contains("secondsToLastConnected", "opens", "serverCpuSeconds", "clientBound");
    assertThat(j.getJsonObject("opens").fieldNames()).contains("refusals", "failures", "retries", "gaveUp");
  }

  @Test
  @DisplayName("failover kills the node process holding half the clients; they resume elsewhere and lose nothing")
  void failover() {
    List<JsonObject> lines = bench("failover", "--clients", "12", "--nodes", "2", "--per-client", "2",
      "--conversations", "4", "--rate", "20", "--db-url", TestDb.url(), "--node-heap", "384m", "--timeout", "240");
    assertThat(lines).hasSize(1);
    JsonObject j = lines.get(0);
    assertThat(j.getInteger("open")).isEqualTo(12);
    assertThat(j.getInteger("victims")).isEqualTo(6);
    assertThat(j.getInteger("resumed")).isEqualTo(6);
    assertThat(j.getDouble("secondsToAllResumed")).isNotNull();
    assertThat(j.getLong("acknowledged")).isPositive();
    assertThat(j.getLong("lost")).isZero();
    assertThat(j.getLong("duplicates")).isZero();
    assertThat(j.getLong("reordered")).isZero();
  }

  @Test
  @DisplayName("soak: mixed traffic on two node processes, one kill -9 and restart; samples every few seconds, the checker clean")
  void soak() {
    List<JsonObject> lines = bench("soak", "--nodes", "2", "--clients", "8", "--senders", "2", "--rate", "6",
      "--conversations", "3", "--duration", "20", "--nemesis-every", "10", "--sample-every", "5",
      "--db-url", TestDb.url(), "--node-heap", "384m", "--timeout", "120");
    JsonObject summary = lines.get(lines.size() - 1);
    assertThat(summary.getString("record")).as(summary.encode()).isNull();
    assertThat(summary.getString("checker")).as(summary.encode()).isEqualTo("clean");
    assertThat(summary.getLong("acknowledged")).isPositive();
    assertThat(summary.getLong("deliveriesExpected")).isPositive();
    assertThat(summary.getLong("lost")).isZero();
    assertThat(summary.getLong("duplicates")).isZero();
    assertThat(summary.getLong("reordered")).isZero();
    assertThat(summary.getLong("typing")).isPositive();
    assertThat(summary.getLong("churns")).isPositive();
    // The rotation starts with kill -9; the second fault would fall after the end. With --db-url
    // the PostgreSQL restart is skipped, saying so.
    List<JsonObject> faults = lines.stream().filter(j -> "nemesis".equals(j.getString("record"))).toList();
    assertThat(faults).hasSize(1);
    assertThat(faults.get(0).getString("kind")).isEqualTo("kill");
    assertThat(faults.get(0).getBoolean("healed")).as(faults.get(0).encode()).isTrue();
    assertThat(faults.get(0).getLong("clientsResumed")).isEqualTo(8);
    List<JsonObject> samples = lines.stream().filter(j -> "sample".equals(j.getString("record"))).toList();
    assertThat(samples).extracting(j -> j.getInteger("node")).contains(0, 1);
    assertThat(samples).allSatisfy(j -> assertThat(j.fieldNames()).contains("t", "pid", "fds", "threads", "rssBytes"));
    assertThat(samples).anySatisfy(j -> {
      assertThat(j.getLong("heapAfterGcBytes")).isPositive();
      assertThat(j.getLong("poolWaitQueue")).isNotNull();
      assertThat(j.getLong("eventBusPending")).isNotNull();
    });
    assertThat(summary.getJsonObject("series").fieldNames()).contains("heapAfterGcBytes", "fds", "threads", "allFlat");
  }

  @Test
  @DisplayName("soak series: a series growing past its bound is not flat, one that only wobbles is; Prometheus samples are summed by label")
  void soakFlatness() {
    List<JsonObject> samples = new ArrayList<>();
    for (int t = 0; t < 40; t++) {
      samples.add(new JsonObject().put("t", (double) t * 10).put("node", 0).put("fds", 200 + t % 3)
        .put("threads", 90 + 2 * t).put("heapAfterGcBytes", (30L << 20) + (t % 2) * (1L << 20)));
    }
    JsonObject series = SoakScenario.Flatness.judge(samples, 1);
    assertThat(series.getJsonObject("fds").getBoolean("flat")).isTrue();
    assertThat(series.getJsonObject("heapAfterGcBytes").getBoolean("flat")).isTrue();
    assertThat(series.getJsonObject("threads").getBoolean("flat")).isFalse();
    assertThat(series.getBoolean("allFlat")).isFalse();
    // Descriptors are judged on the nodes' sum: clients moving from node 0 to node 1 is no leak,
    // the sum growing is.
    List<JsonObject> moving = new ArrayList<>();
    List<JsonObject> leaking = new ArrayList<>();
    for (int t = 0; t < 40; t++) {
      moving.add(new JsonObject().put("t", (double) t * 10).put("node", 0).put("fds", 300 - 3 * t));
      moving.add(new JsonObject().put("t", (double) t * 10).put("node", 1).put("fds", 180 + 3 * t));
      leaking.add(new JsonObject().put("t", (double) t * 10).put("node", 0).put("fds", 200));
      leaking.add(new JsonObject().put("t", (double) t * 10).put("node", 1).put("fds", 200 + 5 * t));
    }
    assertThat(SoakScenario.Flatness.judge(moving, 2).getJsonObject("fds").getBoolean("flat")).isTrue();
    assertThat(SoakScenario.Flatness.judge(leaking, 2).getJsonObject("fds").getBoolean("flat")).isFalse();
    String metrics = """
      # HELP vertx_pool_queue_pending Number of pending elements in the waiting queue
      vertx_pool_queue_pending{pool_name="pg",pool_type="sql"} 3.0
      vertx_pool_queue_pending{pool_name="vert.x-worker-thread",pool_type="worker"} 7.0
      vertx_eventbus_pending{side="local"} 2.0
      vertx_eventbus_pending{side="remote"} 5.0
      vertx_eventbus_pending_total 99.0
      """;
    assertThat(SoakScenario.Prom.sum(metrics, "vertx_pool_queue_pending", "pool_type=\"sql\"")).isEqualTo(3.0);
    assertThat(SoakScenario.Prom.sum(metrics, "vertx_eventbus_pending", null)).isEqualTo(7.0);
    JsonObject line = new JsonObject().put("scenario", "soak").put("target", "switchboard").put("clients", 200)
      .put("nodes", 3).put("durationSeconds", 300).put("checker", "clean").put("acknowledged", 6000)
      .put("deliveriesExpected", 120000).put("lost", 0).put("duplicates", 0).put("reordered", 0).put("resyncs", 0)
      .put("nemeses", 4).put("nemesesHealed", 4).put("allFlat", true);
    List<String> out = Report.render(List.of(line, samples.get(0).copy().put("scenario", "soak").put("record", "sample")));
    assertThat(out).containsExactly("soak 200 clients on 3 nodes, 300 s: switchboard checker clean: 6000 acknowledged sends, "
      + "120000 deliveries: lost 0, duplicates 0, reordered 0, resync_required 0; 4/4 nemeses healed; series flat");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"sse", "ws", "poll"})
  @DisplayName("a template target (Nchan) is measured by the same client with the same counting")
  void nchan(String transport) throws Exception {
    synchronized (BenchTest.class) {
      if (nchan == null) {
        nchan = NchanServer.start();
      }
    }
    List<JsonObject> lines = bench("fanout", "--target", "nchan", "--pub", nchan.url() + "/pub?id={channel}",
      "--sub", nchan.url() + "/sub?id={channel}", "--transport", transport, "--subscribers", "5", "--messages", "10",
      "--window", "2", "--warmup", "0", "--pid-tree", String.valueOf(nchan.masterPid), "--timeout", "60");
    assertThat(lines).hasSize(1);
    assertFanout(lines.get(0), 50);
    assertThat(lines.get(0).getString("target")).isEqualTo("nchan");
    assertThat(lines.get(0).getDouble("serverCpuSeconds")).isNotNull();
  }

  @Test
  @DisplayName("report prints one comparison line per scenario with the cost ratio")
  void report() {
    JsonObject sb = new JsonObject().put("scenario", "fanout").put("target", "switchboard").put("transport", "sse")
      .put("subscribers", 1000).put("messages", 500).put("deliveriesPerSecond", 50000).put("cpuSecondsPer1M", 10.0)
      .put("latencyMs", new JsonObject().put("p99", 200.0)).put("lost", 0).put("duplicates", 0);
    JsonObject nc = sb.copy().put("target", "nchan").put("cpuSecondsPer1M", 2.0).put("deliveriesPerSecond", 60000)
      .put("latencyMs", new JsonObject().put("p99", 75.0));
    JsonObject send = new JsonObject().put("scenario", "send").put("target", "switchboard").put("senders", 64)
      .put("conversations", 64).put("sendsPerSecond", 1500).put("cpuMsPerSend", 0.5).put("lost", 0).put("errors", 0)
      .put("latencyMs", new JsonObject().put("p50", 30.0).put("p99", 80.0));
    JsonObject pg = new JsonObject().put("scenario", "pgbench").put("tps", 12000.0).put("clients", 64);
    List<String> out = Report.render(List.of(sb, nc, send, pg));
    assertThat(out).containsExactly(
      "fanout-sse 1000x500: switchboard 50000/s 10.0 CPU-s/1M p99 200 ms | nchan 60000/s 2.00 CPU-s/1M p99 75.0 ms | cost ratio 5.00",
      "send 64x64: switchboard 1500 sends/s p50 30.0 p99 80.0 ms, 0.50 ms CPU/send, lost 0, errors 0 | pgbench 12000 tps (64 clients) | ratio 0.13");
  }

  @Test
  @DisplayName("bench options are checked: scenarios, unknown flags, out-of-range values and missing templates are refused")
  void options() {
    assertThat(BenchOptions.parse(List.of("fanout", "--subscribers", "7")).count).isEqualTo(7);
    assertThat(BenchOptions.parse(List.of("latency")).rate).isEqualTo(20);
    assertThatThrownBy(() -> BenchOptions.parse(List.of())).hasMessageContaining("scenario");
    assertThatThrownBy(() -> BenchOptions.parse(List.of("fanout", "--nope", "1"))).hasMessageContaining("--nope");
    assertThatThrownBy(() -> BenchOptions.parse(List.of("fanout", "--subscribers", "0"))).hasMessageContaining("--subscribers");
    assertThatThrownBy(() -> BenchOptions.parse(List.of("fanout", "--target", "nchan"))).hasMessageContaining("--pub");
    assertThatThrownBy(() -> BenchOptions.parse(List.of("failover"))).hasMessageContaining("--db-url");
    assertThatThrownBy(() -> BenchOptions.parse(List.of("fanout", "--target", "nchan", "--transport", "sockjs",
      "--pub", "http://h/p?id={channel}", "--sub", "http://h/s?id={channel}"))).hasMessageContaining("sockjs");
  }

  @Test
  @DisplayName("marks are found in any framing: SSE data, an envelope, a SockJS frame, several in one chunk")
  void marks() {
    String text = Marker.text(Marker.BENCH, 42, 123456789L, 40);
    assertThat(text).hasSize(40).startsWith("@b:42:123456789;");
    String sockjs = "a[\"{\\\"type\\\":\\\"rec\\\",\\\"body\\\":{\\\"data\\\":\\\"" + text + "\\\"}}\",\"{\\\"x\\\":\\\""
      + Marker.text(Marker.PROBE, 7, -5, 20) + "\\\"}\"]";
    List<String> found = new ArrayList<>();
    assertThat(Marker.scan(sockjs, (kind, n, nanos) -> found.add(kind + ":" + n + ":" + nanos))).isEqualTo(2);
    assertThat(found).containsExactly("b:42:123456789", "p:7:-5");
    assertThat(Marker.scan("@b:12:34 @b: @x:1:2; user@b:1", (k, n, t) -> { })).isZero();
  }

  @Test
  @DisplayName("the SSE parser reassembles events split anywhere, with LF or CRLF, and keeps the last id")
  void sseParser() {
    List<String> events = new ArrayList<>();
    String[] lastId = new String[1];
    long[] retry = {0};
    SseParser p = new SseParser(new SseParser.Handler() {
      @Override
      public void event(String id, String type, String data) {
        lastId[0] = id;
        events.add(type + "=" + data);
      }

      @Override
      public void retry(long millis) {
        retry[0] = millis;
      }
    });
    String stream = "retry: 3000\n\n: comment\nid: c1\nevent: connected\ndata: {\"a\":1}\n\r\ndata: x\r\ndata: é\r\n\r\n";
    byte[] bytes = stream.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    for (byte b : bytes) {
      p.feed(io.vertx.core.buffer.Buffer.buffer(new byte[] {b}));
    }
    assertThat(events).containsExactly("connected={\"a\":1}", "message=x\né");
    assertThat(lastId[0]).isEqualTo("c1");
    assertThat(retry[0]).isEqualTo(3000);
  }

  @Test
  @DisplayName("server delays are read from close reasons and Retry-After in seconds or milliseconds")
  void delays() {
    assertThat(Subscriber.delayMillis("try again in 2500 ms", -1)).isEqualTo(2500);
    assertThat(Subscriber.delayMillis("retry after 1.5 s", -1)).isEqualTo(1500);
    assertThat(Subscriber.delayMillis("1200", -1)).isEqualTo(1200);
    assertThat(Subscriber.delayMillis("overloaded", -1)).isEqualTo(-1);
    assertThat(Subscriber.retryAfter("3", -1)).isEqualTo(3000);
    assertThat(Subscriber.retryAfter(null, -1)).isEqualTo(-1);
  }

  @Test
  @DisplayName("storm groups put every user in exactly one group per round, never twice in one group")
  void groups() {
    List<List<Integer>> groups = StormScenario.groups(50, 4, 10);
    int[] per = new int[50];
    for (List<Integer> g : groups) {
      assertThat(g).doesNotHaveDuplicates().hasSizeLessThanOrEqualTo(10);
      g.forEach(u -> per[u]++);
    }
    assertThat(per).containsOnly(4);
  }
}
