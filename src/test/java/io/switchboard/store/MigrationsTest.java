package io.switchboard.store;

import io.switchboard.StartException;
import io.switchboard.config.ConfigLoader;
import io.switchboard.testing.TestDb;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Migrations are checksummed, and a database they cannot vouch for stops the start: one changed
 * since it was applied, or one migrated by a newer build. Each test has a database of its own in
 * the shared test server.
 */
class MigrationsTest {

  static Vertx vertx;
  final List<Pool> pools = new ArrayList<>();

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() {
    await(vertx.close());
  }

  @AfterEach
  void closePools() {
    pools.forEach(p -> await(p.close()));
  }

  Pool freshDatabase() {
    // Patient: a loaded test machine can take seconds to fork a backend.
    JsonObject patient = new JsonObject().put("db", new JsonObject().put("connectTimeoutSeconds", 30));
    Pool pool = Database.pool(vertx, TestDb.newDatabase(), ConfigLoader.fromOverrides(patient).db());
    pools.add(pool);
    return pool;
  }

  static Map<Integer, String> checksums(Pool pool) {
    Map<Integer, String> out = new HashMap<>();
    for (Row r : await(pool.query("SELECT version, checksum FROM schema_migrations").execute())) {
      out.put(r.getInteger(0), r.getString(1));
    }
    return out;
  }

  static Throwable failure(Pool pool, List<Migrations.Migration> migrations) {
    Throwable[] failure = new Throwable[1];
    await(Migrations.run(pool, migrations).recover(t -> {
      failure[0] = t;
      return io.vertx.core.Future.succeededFuture();
    }));
    assertThat(failure[0]).as("the start is refused").isNotNull();
    return failure[0];
  }

  @Test
  @DisplayName("every applied migration is recorded with the checksum of its file")
  void checksumsRecorded() {
    Pool pool = freshDatabase();

    await(Migrations.run(pool));

    Map<Integer, String> expected = new HashMap<>();
    Migrations.load().forEach(m -> expected.put(m.version(), m.checksum()));
    assertThat(checksums(pool)).isEqualTo(expected);
    assertThat(expected.values()).allSatisfy(c -> assertThat(c).hasSize(64));
  }

  @Test
  @DisplayName("a migration file changed after it was applied stops the start, naming it")
  void changedMigrationRefused() {
    Pool pool = freshDatabase();
    await(Migrations.run(pool));
    List<Migrations.Migration> edited = new ArrayList<>(Migrations.load());
    Migrations.Migration second = edited.get(1);
    edited.set(1, new Migrations.Migration(second.version(), second.name(), second.sql() + "\n-- edited later\n"));

    Throwable refused = failure(pool, edited);

    assertThat(refused).isInstanceOf(StartException.class)
      .hasMessageContaining("migration " + second.label())
      .hasMessageContaining("changed since it was applied");
  }

  @Test
  @DisplayName("a database migrated by a newer version stops the start, naming the unknown migration")
  void newerDatabaseRefused() {
    Pool pool = freshDatabase();
    await(Migrations.run(pool));
    await(pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')")
      .execute());

    Throwable refused = failure(pool, Migrations.load());

    assertThat(refused).isInstanceOf(StartException.class)
      .hasMessageContaining("migrated by a newer Switchboard")
      .hasMessageContaining("V9999__from_the_future");
  }

  @Test
  @DisplayName("a newer database is refused before anything is applied to it")
  void newerDatabaseUntouched() {
    Pool pool = freshDatabase();
    List<Migrations.Migration> all = Migrations.load();
    // Only the first migration so far, plus one from a newer build.
    await(Migrations.run(pool, all.subList(0, 1)));
    await(pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')")
      .execute());

    failure(pool, all);

    assertThat(checksums(pool).keySet()).containsExactlyInAnyOrder(all.get(0).version(), 9999);
  }

  @Test
  @DisplayName("a database migrated before checksums were kept starts, and its checksums are recorded")
  void legacyTableUpgraded() {
    Pool pool = freshDatabase();
    await(Migrations.run(pool));
    // The table as the runner created it before checksums were kept.
    await(pool.query("ALTER TABLE schema_migrations DROP COLUMN checksum").execute());

    await(Migrations.run(pool));

    Map<Integer, String> expected = new HashMap<>();
    Migrations.load().forEach(m -> expected.put(m.version(), m.checksum()));
    assertThat(checksums(pool)).isEqualTo(expected);
  }
}
