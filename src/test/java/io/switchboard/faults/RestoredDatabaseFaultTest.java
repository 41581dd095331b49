package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.History;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Scenario 6 (issue 13; DESIGN §7 "Epochs"): the database goes back in time under clients that
 * hold newer cursors.
 *
 * <p>A restored backup: a file-level backup is taken under traffic, traffic goes on (every client
 * then holds a cursor past the backup), and the backup is restored. The nodes notice (the clock
 * they remember is ahead of the database's) and start a new epoch; every client — SSE and
 * WebSocket, on every node — gets {@code resync_required} before any item committed after the
 * restore, reloads its history over REST, and ends with exactly the restored history plus the new
 * sends: no silent skip, no duplicate, no item of another message at a seq it held.
 *
 * <p>Truncated history: timeline rows are deleted past a cursor's position; that cursor, resumed
 * on any node over SSE or WebSocket, gets {@code resync_required} rather than a replay that jumps
 * over the hole; a cursor beyond the conversation's last seq too; a cursor after the hole resumes.
 */
class RestoredDatabaseFaultTest extends FaultScenario {

  @Test
  @Timeout(value = 400, unit = TimeUnit.SECONDS)
  @DisplayName("a database restored from an older backup: every client resyncs and holds exactly the restored history plus new sends")
  void restoredBackup() {
    scenario("6-restored-database", "Scenario 6: database restored from an older backup", () -> {
      stage(3, Map.of(), Population.Plan.spread(3), false, Duration.ofSeconds(60));
      startTraffic();

      checker.mark("backup");
      long backupAt = checker.now();
      Path backup = harness.postgres().backup();
      note("file-level backup taken under traffic (PostgreSQL stopped, files copied, started) in %s",
        RunReport.seconds(checker.now() - backupAt));
      steady("after the backup");
      population.stopSending();
      checker.mark("senders stopped for the restore");

      // Every client holds what was sent after the backup: its cursor is past what the backup has.
      Map<String, TreeMap<Long, History>> before = committedNow();
      boolean caughtUp = within(Duration.ofSeconds(60), () -> checker.converged(before, population.live()::contains));
      check(caughtUp, "every client holds all %d committed items before the restore", count(before));

      checker.restoring();
      checker.mark("restore");
      long restoring = checker.now();
      harness.postgres().restore(backup);
      long restoredAt = checker.now();
      note("backup restored in %s (PostgreSQL stopped, files replaced, started)",
        RunReport.seconds(restoredAt - restoring));

      Map<String, TreeMap<Long, History>> restored = committedNow();
      Map<String, Long> last = new LinkedHashMap<>();
      long gone = 0;
      for (String conv : population.groups) {
        long was = before.get(conv).isEmpty() ? 0 : before.get(conv).lastKey();
        long now = restored.get(conv).isEmpty() ? 0 : restored.get(conv).lastKey();
        last.put(conv, now);
        gone += was - now;
      }
      int forgiven = checker.restored(backupAt, last);
      check(gone > 0, "the restore took %d items away from the %d groups (%d items before, %d after; %d"
        + " acknowledged sends from after the backup are not judged)", gone, last.size(), count(before),
        count(restored), forgiven);

      boolean all = within(Duration.ofSeconds(60),
        () -> checker.resyncedAfterRestore().size() == population.clients.size());
      long latest = checker.resyncedAfterRestore().values().stream().mapToLong(Long::longValue).max().orElse(restoredAt);
      check(all, "every client (SSE and WebSocket, on every node) got resync_required after the restore: %d of %d%s",
        checker.resyncedAfterRestore().size(), population.clients.size(),
        all ? ", the last " + RunReport.seconds(latest - restoredAt) + " after PostgreSQL was back" : "");
      List<String> noticed = new ArrayList<>();
      List<String> told = new ArrayList<>();
      for (int i = 0; i < harness.size(); i++) {
        String log = log(harness.node(i).log());
        if (log.contains("a new epoch starts")) {
          noticed.add("node-" + i);
        }
        if (log.contains("new database epoch")) {
          told.add("node-" + i);
        }
      }
      check(!noticed.isEmpty() && told.size() == harness.size(),
        "a node noticed the restore and started a new epoch (%s); every node's streams were told to resume (%s)",
        noticed, told);

      population.unpinAll();
      population.resumeSending("-after");
      steady("after the restore");
    });
  }

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  @DisplayName("history truncated past a cursor: resuming it on any node over SSE or WebSocket gets resync_required, never a skip")
  void truncatedHistory() {
    if (Knobs.shareCluster()) {
      harness = SharedCluster.acquire();
      sharedHarness = true;
    } else {
      harness = Harness.start(3, Map.of());
    }
    String run = UUID.randomUUID().toString().substring(0, 6);
    String owner = "t-owner-" + run;
    String reader = "t-reader-" + run;
    Harness.Reply created = Harness.await(harness.call(0, HttpMethod.POST, "/api/groups", Harness.token(owner),
      new JsonObject().put("name", "truncated " + run).put("participantIds", new JsonArray().add(reader)), 30_000),
      Duration.ofSeconds(60));
    String conv = created.json().getString("id");
    send(owner, conv, 10);

    // The reader's cursor: a session whose snapshot is at the 10th item.
    List<JsonObject> first = open(0, "SSE", reader, null, envs -> has(envs, "connected"));
    String cursor = payload(first, "connected").getString("cursor");
    long lastBefore = send(owner, conv, 30);
    String prefix = conv.replace("-", "").substring(0, 8);

    // The operator deletes old history, past the reader's position.
    int deleted = harness.postgres().execute(
      "DELETE FROM messages WHERE conversation_id = ?::uuid AND seq <= ?", conv, lastBefore - 10);

    List<String> failures = new ArrayList<>();
    for (int node = 0; node < harness.size(); node++) {
      for (String transport : List.of("SSE", "WS")) {
        // At the snapshot (10): the replay would start at 31, not 11.
        expectResync(failures, node, transport, reader, cursor, "a cursor before deleted history");
        // Beyond the conversation's last seq.
        expectResync(failures, node, transport, reader, withEntry(cursor, prefix, lastBefore + 5),
          "a cursor beyond the last seq");
        // After the hole: resumes, and replays exactly the rest.
        String after = withEntry(cursor, prefix, lastBefore - 3);
        List<JsonObject> envs = open(node, transport, reader, after, e -> seqs(e).size() >= 3 || has(e, "resync_required"));
        if (has(envs, "resync_required") || !seqs(envs).equals(List.of(lastBefore - 2, lastBefore - 1, lastBefore))) {
          failures.add(transport + " on node-" + node + ", a cursor after the deleted history: " + types(envs));
        }
      }
    }
    String report = "== Scenario 6b: history truncated past a cursor ==\n"
      + deleted + " timeline items deleted (seq 1-" + (lastBefore - 10) + " of " + lastBefore + "); "
      + harness.size() * 2 * 3 + " resumes (3 nodes x SSE, WebSocket x 3 cursors)\n"
      + (failures.isEmpty() ? "all as expected" : String.join("\n", failures)) + "\n";
    RunReport.write("6b-truncated-history", report);
    System.out.println(report);
    org.assertj.core.api.Assertions.assertThat(deleted).isEqualTo((int) (lastBefore - 10));
    org.assertj.core.api.Assertions.assertThat(failures).as(report).isEmpty();
  }

  private void expectResync(List<String> failures, int node, String transport, String user, String cursor,
                            String what) {
    List<JsonObject> envs = open(node, transport, user, cursor, e -> has(e, "resync_required") || !seqs(e).isEmpty());
    int resync = indexOf(envs, "resync_required");
    if (resync < 0 || !seqs(envs).isEmpty() || !payload(envs, "resync_required").getBoolean("reset", false)) {
      failures.add(transport + " on node-" + node + ", " + what + ": " + types(envs));
    }
  }

  /** Sends {@code n} messages as {@code user}; answers the seq of the last. */
  private long send(String user, String conv, int n) {
    long seq = 0;
    for (int i = 0; i < n; i++) {
      Harness.Reply r = Harness.await(harness.call(i % harness.size(), HttpMethod.POST, "/api/conversations/" + conv
          + "/messages", Harness.token(user), new JsonObject().put("content", "t " + i)
          .put("clientMessageId", UUID.randomUUID().toString()), 30_000), Duration.ofSeconds(60));
      if (r.status() != 201) {
        throw new AssertionError("send answered " + r.status() + " " + r.body());
      }
      seq = r.json().getLong("seq");
    }
    return seq;
  }

  /**
   * Opens one stream on {@code node} ({@code SSE} or {@code WS}) resuming {@code cursor}; answers
   * its envelopes once {@code enough} holds, or what came within 10 s (a stream that says nothing
   * more is what some checks expect).
   */
  private List<JsonObject> open(int node, String transport, String user, String cursor,
                                Predicate<List<JsonObject>> enough) {
    List<JsonObject> envs = java.util.Collections.synchronizedList(new ArrayList<>());
    Promise<Void> done = Promise.promise();
    Runnable closer;
    if (transport.equals("SSE")) {
      RequestOptions o = new RequestOptions().setMethod(HttpMethod.GET).setHost(harness.node(node).host())
        .setPort(harness.node(node).httpPort()).setURI("/api/events").putHeader("Accept", "text/event-stream")
        .putHeader("Authorization", "Bearer " + Harness.token(user));
      if (cursor != null) {
        o.putHeader("Last-Event-ID", cursor);
      }
      Future<HttpClientResponse> resp = harness.sseClient().request(o).compose(req -> req.send());
      StringBuilder pending = new StringBuilder();
      resp.onSuccess(r -> r.handler(buf -> {
        pending.append(buf.toString(StandardCharsets.UTF_8));
        int end;
        while ((end = pending.indexOf("\n\n")) >= 0) {
          String event = pending.substring(0, end);
          pending.delete(0, end + 2);
          for (String line : event.split("\n")) {
            if (line.startsWith("data:")) {
              envs.add(new JsonObject(line.substring(5).trim()));
            }
          }
        }
        if (enough.test(List.copyOf(envs))) {
          done.tryComplete();
        }
      }));
      closer = () -> resp.onSuccess(r -> r.request().connection().close());
    } else {
      String uri = "/api/ws?token=" + Harness.token(user)
        + (cursor == null ? "" : "&lastEventId=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
      ClientWebSocket ws = harness.wsClient().webSocket();
      ws.textMessageHandler(text -> {
        envs.add(new JsonObject(text));
        if (enough.test(List.copyOf(envs))) {
          done.tryComplete();
        }
      });
      ws.connect(new WebSocketConnectOptions().setHost(harness.node(node).host()).setPort(harness.node(node).httpPort())
        .setURI(uri).setAllowOriginHeader(false));
      closer = () -> ws.close();
    }
    try {
      done.future().await(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      // what came is judged by the caller
    }
    closer.run();
    return List.copyOf(envs);
  }

  private static String withEntry(String cursor, String prefix, long seq) {
    return cursor + (cursor.endsWith(".") ? "" : ",") + prefix + ":" + seq;
  }

  private static boolean has(List<JsonObject> envs, String type) {
    return indexOf(envs, type) >= 0;
  }

  private static int indexOf(List<JsonObject> envs, String type) {
    for (int i = 0; i < envs.size(); i++) {
      if (type.equals(envs.get(i).getString("type"))) {
        return i;
      }
    }
    return -1;
  }

  private static JsonObject payload(List<JsonObject> envs, String type) {
    return envs.get(indexOf(envs, type)).getJsonObject("payload", new JsonObject());
  }

  private static List<Long> seqs(List<JsonObject> envs) {
    List<Long> out = new ArrayList<>();
    for (JsonObject e : envs) {
      if ("message_received".equals(e.getString("type"))) {
        out.add(e.getJsonObject("payload").getLong("seq"));
      }
    }
    return out;
  }

  private static List<String> types(List<JsonObject> envs) {
    return envs.stream().map(e -> e.getString("type") + ("message_received".equals(e.getString("type"))
      ? "#" + e.getJsonObject("payload").getLong("seq") : "")).toList();
  }

  private static long count(Map<String, TreeMap<Long, History>> history) {
    return history.values().stream().mapToLong(TreeMap::size).sum();
  }

  private static String log(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
