package io.switchboard.stream;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * DESIGN §2, "opening a stream is cheap": a fresh connect costs two SQL statements and a resume
 * three, each backed by an index. Counted by PostgreSQL itself ({@code pg_stat_statements}) and
 * shown with {@code EXPLAIN} on the test database.
 */
class StreamOpenCostTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
    await(node.context().pool().query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute());
  }

  /** Every SQL constant of the stream store, by name. */
  static Map<String, String> statements() throws IllegalAccessException {
    Map<String, String> out = new HashMap<>();
    for (Field f : io.switchboard.store.StreamStore.class.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        f.setAccessible(true);
        out.put(f.getName(), (String) f.get(null));
      }
    }
    return out;
  }

  /**
   * Calls of each stream-store statement so far, found by the comment each starts with (PostgreSQL
   * keeps it, and replaces the literals of the text, so the text itself would not match).
   */
  static Map<String, Long> calls() throws IllegalAccessException {
    Map<String, Long> out = new HashMap<>();
    for (Map.Entry<String, String> e : statements().entrySet()) {
      String tag = e.getValue().substring(0, e.getValue().indexOf("*/") + 2);
      var rows = await(node.context().pool()
        .preparedQuery("SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE starts_with(query, $1)")
        .execute(Tuple.of(tag)));
      out.put(e.getKey(), rows.iterator().next().getLong(0));
    }
    return out;
  }

  static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> out = new HashMap<>();
    after.forEach((k, v) -> {
      long d = v - before.getOrDefault(k, 0L);
      if (d != 0) {
        out.put(k, d);
      }
    });
    return out;
  }

  @Test
  @DisplayName("a fresh connect runs two statements and a resume three, none of them more than once")
  void statementsPerOpen() throws Exception {
    String alice = Api.user("alice");
    String token = api.token(alice);
    for (int i = 0; i < 3; i++) {
      api.group(token, "cost " + i, Api.user("bob"));
    }
    Map<String, Long> before = calls();
    WsClient fresh = await(WsClient.connect(new WebSocketClientOptions(), new WebSocketConnectOptions()
      .setHost("127.0.0.1").setPort(api.port()).setURI("/api/ws?token=" + token)));
    JsonObject connected = await(fresh.next("connected")).getJsonObject("payload");
    fresh.close();
    assertThat(delta(before, calls())).isEqualTo(Map.of("ACTIVE", 1L, "SNAPSHOT", 1L));

    // The cursor of the fresh stream, resumed over SSE: memberships and session, then the replay.
    before = calls();
    SseClient sse = await(SseClient.open(api.port(), "/api/events", token, "Last-Event-ID", connected.getString("cursor")));
    await(sse.next("connected"));
    sse.close();
    assertThat(delta(before, calls())).isEqualTo(Map.of("MEMBERSHIPS", 1L, "SESSION", 1L, "REPLAY", 1L));
  }

  @Test
  @DisplayName("every statement a stream open or the delivery sweep runs is backed by an index")
  void indexed() throws Exception {
    List<String> plans = new ArrayList<>();
    Map<String, String> all = statements();
    Map<String, Tuple> args = Map.of(
      "ACTIVE", Tuple.of("someone"),
      "MEMBERSHIPS", Tuple.of("someone"),
      "SESSION", Tuple.of("no-such-session", 86400),
      "REPLAY", Tuple.of("someone", "{\"00000000-0000-0000-0000-000000000001\": 3}", 100),
      "LAST_SEQS", Tuple.of((Object) new java.util.UUID[] {java.util.UUID.randomUUID()}));
    String explained = await(node.context().pool().withConnection(conn -> conn.query("SET enable_seqscan = off").execute()
      .compose(v -> {
        io.vertx.core.Future<Void> chain = io.vertx.core.Future.succeededFuture();
        for (Map.Entry<String, Tuple> e : args.entrySet()) {
          chain = chain.compose(x -> conn.preparedQuery("EXPLAIN " + all.get(e.getKey())).execute(e.getValue()).map(rows -> {
            StringBuilder plan = new StringBuilder(e.getKey()).append(":\n");
            for (Row r : rows) {
              plan.append(r.getString(0)).append('\n');
            }
            plans.add(plan.toString());
            return null;
          }));
        }
        return chain;
      })
      .eventually(() -> conn.query("RESET enable_seqscan").execute())
      .map(v -> String.join("\n", plans))));
    assertThat(plans).hasSize(args.size());
    for (String table : List.of("members", "messages", "conversations", "stream_sessions")) {
      assertThat(explained).as("a sequential scan in:%n%s", explained).doesNotContain("Seq Scan on " + table);
    }
  }
}
