package io.switchboard.store;

import io.switchboard.StartException;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Versioned SQL migrations over the async pg client: {@code db/migration/V<n>__<name>.sql},
 * listed in order in {@code db/migration/index.txt}, each applied once in its own transaction and
 * recorded in {@code schema_migrations} with the SHA-256 of its text. A PostgreSQL advisory lock
 * makes nodes starting together apply them once.
 *
 * <p>Before applying anything, the start is refused when the database holds a version this build
 * does not know (a newer Switchboard migrated it: running older code on a newer schema could
 * corrupt it) or when an applied migration's file has changed since (the schema is not what the
 * file now says). Rows written before checksums were kept get the current file's checksum on the
 * first start that sees them. Why not Flyway: docs/DECISIONS.md.
 */
public final class Migrations {

  private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);
  private static final long LOCK_KEY = 0x5b_1d_b0_a2_dL;
  /** Whether the table exists, and whether it has its checksum column yet. */
  private static final String TABLE_STATE = """
    SELECT to_regclass('schema_migrations') IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = to_regclass('schema_migrations') AND attname = 'checksum' AND NOT attisdropped)""";
  private static final String CREATE_TABLE = """
    CREATE TABLE schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      checksum   text)""";
  /** Tables created before checksums were kept. */
  private static final String ADD_CHECKSUM = "ALTER TABLE schema_migrations ADD COLUMN checksum text";
  private static final String APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
  private static final String RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";
  private static final String BACKFILL =
    "UPDATE schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL";

  private Migrations() {
  }

  /** One migration file. */
  record Migration(int version, String name, String sql) {

    /** SHA-256 of the text with line ends normalised, so a checkout with CRLF is the same file. */
    String checksum() {
      try {
        byte[] text = sql.replace("\r\n", "\n").getBytes(StandardCharsets.UTF_8);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("no SHA-256", e);
      }
    }

    String label() {
      return "V" + version + "__" + name;
    }
  }

  /** One row of {@code schema_migrations}. */
  private record Applied(int version, String name, String checksum) {
  }

  /** Checks what the database has applied, then applies what it lacks, in order. */
  public static Future<Void> run(Pool pool) {
    return run(pool, load());
  }

  static Future<Void> run(Pool pool, List<Migration> migrations) {
    return pool.withConnection(conn -> conn.query("SELECT pg_advisory_lock(" + LOCK_KEY + ")").execute()
      .compose(v -> conn.query(TABLE_STATE).execute())
      .compose(rows -> {
        Row state = rows.iterator().next();
        if (!state.getBoolean(0)) {
          return conn.query(CREATE_TABLE).execute().mapEmpty();
        }
        return state.getBoolean(1) ? Future.succeededFuture() : conn.query(ADD_CHECKSUM).execute().mapEmpty();
      })
      .compose(v -> conn.query(APPLIED).execute())
      .compose(rows -> verify(conn, migrations, applied(rows)))
      .compose(applied -> {
        Future<Void> chain = Future.succeededFuture();
        for (Migration m : migrations) {
          if (!applied.containsKey(m.version())) {
            chain = chain.compose(v -> apply(conn, m));
          }
        }
        return chain;
      })
      .eventually(() -> conn.query("SELECT pg_advisory_unlock(" + LOCK_KEY + ")").execute()));
  }

  private static Map<Integer, Applied> applied(RowSet<Row> rows) {
    Map<Integer, Applied> out = new LinkedHashMap<>();
    for (Row r : rows) {
      out.put(r.getInteger(0), new Applied(r.getInteger(0), r.getString(1), r.getString(2)));
    }
    return out;
  }

  /**
   * Refuses a database migrated by a newer build or an applied migration that changed; records
   * the checksums of migrations applied before they were kept.
   */
  private static Future<Map<Integer, Applied>> verify(SqlConnection conn, List<Migration> known,
                                                      Map<Integer, Applied> applied) {
    Map<Integer, Migration> byVersion = new LinkedHashMap<>();
    known.forEach(m -> byVersion.put(m.version(), m));
    int newest = known.stream().mapToInt(Migration::version).max().orElse(0);
    Future<Void> backfills = Future.succeededFuture();
    for (Applied a : applied.values()) {
      Migration m = byVersion.get(a.version());
      if (m == null) {
        return Future.failedFuture(new StartException("the database was migrated by a newer Switchboard: it has"
          + " migration V" + a.version() + "__" + a.name() + ", which this build does not know (it knows up to V"
          + newest + "); run that newer build, or restore a backup taken before it"));
      }
      String checksum = m.checksum();
      if (a.checksum() == null) {
        LOG.info("recording the checksum of {}, applied before checksums were kept", m.label());
        backfills = backfills.compose(v -> conn.preparedQuery(BACKFILL).execute(Tuple.of(m.version(), checksum))
          .mapEmpty());
      } else if (!a.checksum().equals(checksum)) {
        return Future.failedFuture(new StartException("migration " + m.label() + " has changed since it was applied"
          + " to this database (its checksum differs): restore the file as it was applied; a schema change goes"
          + " in a new migration"));
      }
    }
    return backfills.map(applied);
  }

  private static Future<Void> apply(SqlConnection conn, Migration m) {
    LOG.info("applying migration {}", m.label());
    return conn.begin().compose(tx -> conn.query(m.sql()).execute()
      .compose(v -> conn.preparedQuery(RECORD).execute(Tuple.of(m.version(), m.name(), m.checksum())))
      .compose(v -> tx.commit())
      .recover(t -> tx.rollback().transform(ignored -> Future.failedFuture(
        new StartException("migration " + m.label() + " failed: " + StartException.describe(t), t)))));
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
