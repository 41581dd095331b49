package io.switchboard.chat;

import io.switchboard.Node;
import io.switchboard.protocol.Types;
import io.switchboard.store.Database;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.switchboard.chat.PresenceGossipTest.awaitTrue;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What presence costs PostgreSQL when many users leave at once, counted by
 * {@code pg_stat_statements} on a database of this suite's own: a handful of statements for the
 * whole crowd, and a call statement only for the one user who is in a call.
 */
class PresenceCostTest {

  static final int CROWD = 200;
  static final String SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  /** The test's own reads carry this mark, so they are not counted. */
  static final String SEEN_PROBE = """
    SELECT /* probe */ count(*) FROM users WHERE id = ANY($1) AND last_seen_at >= $2""";
  static final String STATEMENTS = """
    SELECT /* probe */ query, calls, rows FROM pg_stat_statements WHERE query NOT LIKE '%probe%'""";

  static EmbeddedPostgres pg;
  static Node node;
  static Api api;

  @BeforeAll
  static void start() throws IOException {
    pg = EmbeddedPostgres.builder()
      .setDataDirectory(Files.createTempDirectory("sb-test-pg"))
      .setCleanDataDirectory(true)
      .setServerConfig("max_connections", "100")
      .setServerConfig("shared_preload_libraries", "pg_stat_statements")
      .start();
    JsonObject config = new JsonObject()
      .put("db", new JsonObject().put("url", Database.url(pg)))
      .put("calls", new JsonObject().put("dropSeconds", 1))
      .put("limits", new JsonObject().put("commandsPerSecond", 100_000).put("commandBurst", 100_000));
    node = TestNodes.TestCluster.create().start(config, EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
    await(node.context().pool().query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute());
  }

  @AfterAll
  static void stop() throws IOException {
    if (node != null) {
      await(node.stop());
    }
    pg.close();
  }

  static long count(List<Socket> sockets, String type) {
    return sockets.stream().mapToLong(s -> s.received.stream().filter(e -> type.equals(e.getString("type"))).count()).sum();
  }

  static long seenSince(List<String> users, OffsetDateTime since) {
    return await(node.context().pool().preparedQuery(SEEN_PROBE)
      .execute(Tuple.of(users.toArray(new String[0]), since))).iterator().next().getLong(0);
  }

  /** calls and rows per kind of statement since the last reset. */
  record Count(long calls, long rows) {
  }

  static Map<String, Count> statements() {
    // pg_stat_statements shows queries with their constants replaced by $n.
    Map<String, List<String>> kinds = Map.of(
      "conversations of users", List.of("FROM members WHERE user_id = ANY"),
      "last_seen_at", List.of("INSERT INTO users (id, last_seen_at)"),
      "live call parties", List.of("SELECT caller_id, callee_id FROM calls"),
      "call drop", List.of("UPDATE calls", "callee_id = ANY"));
    Map<String, Count> out = new HashMap<>();
    kinds.keySet().forEach(k -> out.put(k, new Count(0, 0)));
    for (Row r : await(node.context().pool().query(STATEMENTS).execute())) {
      kinds.forEach((kind, texts) -> {
        if (texts.stream().allMatch(r.getString("query")::contains)) {
          Count c = out.get(kind);
          out.put(kind, new Count(c.calls() + r.getLong("calls"), c.rows() + r.getLong("rows")));
        }
      });
    }
    return out;
  }

  @Test
  @DisplayName("200 users leaving at once cost a handful of statements, and a call statement only for the one in a call")
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void crowdLeaves() {
    String o = Api.user("o");
    String oToken = api.token(o);
    List<String> crowd = new ArrayList<>();
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < CROWD; i++) {
      crowd.add(Api.user("c" + i));
      tokens.add(api.token(crowd.get(i)));
    }
    api.group(oToken, "crowd", crowd.toArray(new String[0]));
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    var direct = api.post("/api/conversations", aliceToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob)));
    assertThat(direct.statusCode()).as(direct.bodyAsString()).isEqualTo(201);
    String conv = direct.bodyAsJsonObject().getString("id");

    Socket observer = await(Socket.open(node, oToken));
    List<Socket> sockets = new ArrayList<>();
    for (int i = 0; i < CROWD; i += 25) {
      List<Future<Socket>> opening = tokens.subList(i, Math.min(CROWD, i + 25)).stream()
        .map(t -> Socket.open(node, t)).toList();
      await(Future.all(opening));
      opening.forEach(f -> sockets.add(f.result()));
    }
    Socket aliceSocket = await(Socket.open(node, aliceToken));
    Socket bobSocket = await(Socket.open(node, bobToken));
    awaitTrue(() -> count(List.of(observer), Types.USER_ONLINE) == CROWD, "the crowd online at the observer");
    JsonObject offer = api.post("/api/calls/offer", aliceToken,
      new JsonObject().put("conversationId", conv).put("sdp", SDP).put("media", "audio")).bodyAsJsonObject();
    String callId = offer.getString("callId");
    assertThat(api.post("/api/calls/answer", bobToken, new JsonObject().put("callId", callId).put("sdp", SDP))
      .statusCode()).isEqualTo(200);
    OffsetDateTime epoch = OffsetDateTime.of(2000, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
    List<String> everyone = new ArrayList<>(crowd);
    everyone.addAll(List.of(o, alice, bob));
    awaitTrue(() -> seenSince(everyone, epoch) == everyone.size(), "everyone's last_seen_at written");
    await(node.context().pool().query("SELECT /* probe */ pg_stat_statements_reset()").execute());

    OffsetDateTime closing = OffsetDateTime.now(ZoneOffset.UTC);
    await(Future.all(sockets.stream().map(Socket::close).toList()));
    awaitTrue(() -> count(List.of(observer), Types.USER_OFFLINE) == CROWD, "the crowd offline at the observer");
    // Alice, the one user in a call, leaves after them: once her call is dropped, the crowd's drop
    // time (earlier) has passed too.
    await(aliceSocket.close());
    awaitTrue(() -> bobSocket.received.stream().anyMatch(e -> Types.CALL_END.equals(e.getString("type"))
      && "dropped".equals(e.getJsonObject("payload").getString("reason"))), "alice's call dropped");
    awaitTrue(() -> seenSince(crowd, closing) == CROWD, "the crowd's new last_seen_at written");

    Map<String, Count> s = statements();
    assertThat(s.get("call drop")).as("one drop, for alice's call only").isEqualTo(new Count(1, 1));
    // Leaves are announced in batches every half second: one or two for the crowd (three on a
    // busy machine), then alice's.
    assertThat(s.get("conversations of users").calls()).as("conversation reads: %s", s).isBetween(2L, 4L);
    assertThat(s.get("conversations of users").rows()).as("one membership each, alice's included").isEqualTo(CROWD + 1);
    assertThat(s.get("live call parties").calls()).as("live call reads: %s", s).isBetween(2L, 4L);
    // At most one a second, while there is something to write.
    assertThat(s.get("last_seen_at").calls()).as("last_seen_at writes: %s", s).isBetween(1L, 5L);
    long total = s.values().stream().mapToLong(Count::calls).sum();
    assertThat(total).as("presence statements for %d users leaving: %s", CROWD + 1, s).isLessThanOrEqualTo(14);

    await(observer.close());
    await(bobSocket.close());
  }
}
