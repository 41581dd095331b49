package io.switchboard.store;

import io.switchboard.config.ConfigLoader;
import io.switchboard.testing.TestDb;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * V5 (chat features, SPEC §3b) applied to a database of the previous schema that holds data:
 * nothing is lost, the new columns have their defaults, existing text is searchable, and the new
 * rules (admin role, tombstones, reactions, statuses) work on the old rows.
 */
class MigrationsV5Test {

  static Vertx vertx;
  static Pool pool;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    JsonObject patient = new JsonObject().put("db", new JsonObject().put("connectTimeoutSeconds", 30));
    pool = Database.pool(vertx, TestDb.newDatabase(), ConfigLoader.fromOverrides(patient).db());
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  static RowSet<Row> sql(String sql) {
    return await(pool.query(sql).execute());
  }

  static List<String> strings(String sql) {
    List<String> out = new ArrayList<>();
    sql(sql).forEach(r -> out.add(r.getValue(0) == null ? null : String.valueOf(r.getValue(0))));
    return out;
  }

  @Test
  @DisplayName("V5 applies cleanly to a database with conversations, members and messages in it, and they keep working")
  void appliesToExistingData() {
    List<Migrations.Migration> all = Migrations.load();
    List<Migrations.Migration> before = all.stream().filter(m -> m.version() < 5).toList();
    assertThat(all.stream().map(Migrations.Migration::version)).contains(5);
    await(Migrations.run(pool, before));
    String c = "11111111-1111-1111-1111-111111111111";
    sql("INSERT INTO users (id, name, last_seen_at) VALUES ('ann', 'Ann', now()), ('ben', 'Ben', NULL)");
    sql("INSERT INTO conversations (id, kind, name, invite_code, created_by, last_seq) VALUES ('" + c
      + "', 'group', 'Old group', 'OLDCODE1', 'ann', 4)");
    sql("INSERT INTO members (conversation_id, user_id, role, joined_seq, last_read_seq) VALUES ('" + c
      + "', 'ann', 'owner', 0, 4), ('" + c + "', 'ben', 'member', 1, 2)");
    sql("INSERT INTO messages (conversation_id, seq, id, sender_id, kind, content, reply_to) VALUES "
      + "('" + c + "', 1, 'aaaaaaaa-0000-0000-0000-000000000001', 'ann', 'text', '\"hello old world\"', NULL),"
      + "('" + c + "', 2, 'aaaaaaaa-0000-0000-0000-000000000002', 'ben', 'system', '{\"event\":\"member_joined\",\"userId\":\"ben\"}', NULL),"
      + "('" + c + "', 3, 'aaaaaaaa-0000-0000-0000-000000000003', 'ben', 'e2e.v1', '{\"ct\":\"world\"}', NULL),"
      + "('" + c + "', 4, 'aaaaaaaa-0000-0000-0000-000000000004', 'ben', 'text', '\"replying to the world\"', 1)");
    List<String> contentBefore = strings("SELECT content::text FROM messages ORDER BY seq");

    await(Migrations.run(pool, all));

    assertThat(strings("SELECT version FROM schema_migrations ORDER BY version"))
      .containsExactlyElementsOf(all.stream().map(m -> String.valueOf(m.version())).toList());
    assertThat(strings("SELECT content::text FROM messages ORDER BY seq")).isEqualTo(contentBefore);
    assertThat(strings("SELECT count(*) FROM messages WHERE edited_at IS NULL AND deleted_at IS NULL "
      + "AND thread_id IS NULL AND thread_replies = 0")).containsExactly("4");
    assertThat(strings("SELECT role || ':' || muted FROM members ORDER BY user_id"))
      .containsExactly("owner:false", "member:false");
    assertThat(strings("SELECT id || ':' || status || ':' || (status_at IS NULL) FROM users ORDER BY id"))
      .containsExactly("ann:online:true", "ben:online:true");
    // Old text is searchable at once (the generated column is filled for existing rows); system
    // items and other kinds are not.
    assertThat(strings("SELECT seq FROM messages WHERE search @@ websearch_to_tsquery('simple', 'world') ORDER BY seq"))
      .containsExactly("1", "4");
    // The new rules on old rows: an admin, a tombstone, a reaction.
    sql("UPDATE members SET role = 'admin' WHERE user_id = 'ben'");
    sql("UPDATE messages SET content = NULL, deleted_at = now() WHERE seq = 4");
    sql("INSERT INTO reactions (message_id, emoji, user_id) VALUES ('aaaaaaaa-0000-0000-0000-000000000001', '👍', 'ben')");
    assertThat(strings("SELECT count(*) FROM messages WHERE search @@ websearch_to_tsquery('simple', 'world')"))
      .containsExactly("1");
    assertThat(strings("SELECT emoji FROM reactions")).containsExactly("👍");
    // Running again changes nothing.
    await(Migrations.run(pool, all));
    assertThat(strings("SELECT count(*) FROM messages")).containsExactly("4");
  }
}
