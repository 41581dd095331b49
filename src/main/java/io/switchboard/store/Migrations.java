package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Versioned SQL migrations over the async pg client: {@code db/migration/V<n>__<name>.sql},
 * listed in order in {@code db/migration/index.txt}, each applied once in its own transaction and
 * recorded in {@code schema_migrations}. A PostgreSQL advisory lock makes nodes starting together
 * apply them once. (Flyway would need JDBC on the event loop; this keeps start-up non-blocking.)
 */
public final class Migrations {

  private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);
  private static final long LOCK_KEY = 0x5b_1d_b0_a2_dL;
  private static final String EXISTS = "SELECT to_regclass('schema_migrations')::text";
  private static final String CREATE_TABLE = """
    CREATE TABLE schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())""";
  private static final String APPLIED = "SELECT version FROM schema_migrations";
  private static final String RECORD = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";

  private Migrations() {
  }

  /** One migration file. */
  record Migration(int version, String name, String sql) {
  }

  public static Future<Void> run(Pool pool) {
    List<Migration> migrations = load();
    return pool.withConnection(conn -> conn.query("SELECT pg_advisory_lock(" + LOCK_KEY + ")").execute()
      .compose(v -> conn.query(EXISTS).execute())
      .compose(rows -> rows.iterator().next().getValue(0) != null
        ? Future.succeededFuture() : conn.query(CREATE_TABLE).execute().mapEmpty())
      .compose(v -> conn.query(APPLIED).execute())
      .compose(rows -> {
        List<Integer> applied = new ArrayList<>();
        rows.forEach(r -> applied.add(r.getInteger(0)));
        Future<Void> chain = Future.succeededFuture();
        for (Migration m : migrations) {
          if (!applied.contains(m.version())) {
            chain = chain.compose(v -> apply(conn, m));
          }
        }
        return chain;
      })
      .eventually(() -> conn.query("SELECT pg_advisory_unlock(" + LOCK_KEY + ")").execute()));
  }

  private static Future<Void> apply(SqlConnection conn, Migration m) {
    LOG.info("applying migration V{} {}", m.version(), m.name());
    return conn.begin().compose(tx -> conn.query(m.sql()).execute()
      .compose(v -> conn.preparedQuery(RECORD).execute(Tuple.of(m.version(), m.name())))
      .compose(v -> tx.commit())
      .recover(t -> tx.rollback().transform(ignored -> Future.failedFuture(t))));
  }

  static List<Migration> load() {
    List<Migration> out = new ArrayList<>();
    for (String file : resource("db/migration/index.txt").split("\\R")) {
      String name = file.trim();
      if (name.isEmpty()) {
        continue;
      }
      int sep = name.indexOf("__");
      int version = Integer.parseInt(name.substring(1, sep));
      out.add(new Migration(version, name.substring(sep + 2, name.length() - 4), resource("db/migration/" + name)));
    }
    return out;
  }

  private static String resource(String path) {
    try (InputStream in = Migrations.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + path, e);
    }
  }
}
