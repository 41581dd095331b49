package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

/**
 * SQL of the database's epoch and clock (DESIGN §7, migration V7): the epoch stream sessions are
 * recorded in, and a counter the nodes raise and remember outside the database, so that a
 * database that went back in time (restored from an older backup) is noticed.
 */
public final class EpochStore {

  /** Raises the clock by one; answers the new value and the current epoch. */
  static final String TICK = """
    /* epoch.tick */ UPDATE switchboard_meta SET value = (value::bigint + 1)::text WHERE key = 'clock'
    RETURNING value::bigint, (SELECT value FROM switchboard_meta WHERE key = 'epoch')""";
  /** The server's identity: a new one means another PostgreSQL (a dump restored into a new server). */
  static final String SYSTEM_ID = "/* epoch.system */ SELECT system_identifier::text FROM pg_control_system()";
  /**
   * Starts a new epoch if the current one is still {@code $1}, and lifts the clock to at least
   * {@code $2}, in one statement: two nodes noticing the same restore start one epoch.
   */
  static final String RENEW = """
    /* epoch.renew */ WITH c AS (
      UPDATE switchboard_meta SET value = GREATEST(value::bigint, $2)::text WHERE key = 'clock' RETURNING value)
    UPDATE switchboard_meta SET value = $3 WHERE key = 'epoch' AND value = $1 AND EXISTS (SELECT 1 FROM c)
    RETURNING value""";
  static final String CURRENT = "/* epoch.current */ SELECT value FROM switchboard_meta WHERE key = 'epoch'";
  /** An operator's new epoch, whatever the current one is. */
  static final String FORCE = "/* epoch.force */ UPDATE switchboard_meta SET value = $1 WHERE key = 'epoch'";

  private EpochStore() {
  }

  /** The clock after one tick, and the epoch. */
  public record Tick(long clock, String epoch) {
  }

  public static Future<Tick> tick(SqlClient db) {
    return db.query(TICK).execute().map(rows -> {
      if (rows.size() == 0) {
        throw new IllegalStateException("switchboard_meta has no clock (migration V7 not applied)");
      }
      Row r = rows.iterator().next();
      return new Tick(r.getLong(0), r.getString(1));
    });
  }

  /** The server's system identifier, or null when this role may not read it. */
  public static Future<String> systemId(SqlClient db) {
    return db.query(SYSTEM_ID).execute()
      .map(rows -> rows.iterator().next().getString(0))
      .otherwise((String) null);
  }

  /**
   * Replaces epoch {@code from} by {@code to} and lifts the clock to {@code clock}; answers the
   * epoch now current ({@code to}, or the one another node started first).
   */
  public static Future<String> renew(SqlClient db, String from, long clock, String to) {
    return db.preparedQuery(RENEW).execute(Tuple.of(from, clock, to)).compose(rows -> rows.size() > 0
      ? Future.succeededFuture(to)
      : db.query(CURRENT).execute().map(current -> current.iterator().next().getString(0)));
  }

  /** Starts epoch {@code to} now (the operator's command). */
  public static Future<Void> force(SqlClient db, String to) {
    return db.preparedQuery(FORCE).execute(Tuple.of(to)).mapEmpty();
  }
}
