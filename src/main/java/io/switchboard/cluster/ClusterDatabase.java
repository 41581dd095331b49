package io.switchboard.cluster;

import io.switchboard.config.ConfigException;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.store.Database;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.Lock;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which PostgreSQL a node uses, agreed through the cluster (SPEC §9). With {@code db.url} set,
 * that one. With it empty, the embedded database another node of the cluster announces, or —
 * for the first node — a new embedded PostgreSQL in {@code data.dir}, announced to the others.
 * Either way the database's identity must match the one the cluster already uses.
 */
public final class ClusterDatabase {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterDatabase.class);
  static final String MAP = "sb.cluster";
  static final String EMBEDDED_URL = "embeddedDbUrl";
  static final String DATABASE_ID = "databaseId";
  static final String BOOTSTRAP_LOCK = "sb.db.bootstrap";
  private static final long LOCK_TIMEOUT_MS = 60_000;

  /** The database URL to use, and the embedded server if this node started it. */
  public record Resolved(String url, EmbeddedPostgres embedded) {
  }

  private ClusterDatabase() {
  }

  public static Future<Resolved> resolve(Vertx vertx, SwitchboardConfig config) {
    if (!config.db().embedded()) {
      return Future.succeededFuture(new Resolved(config.db().url(), null));
    }
    return vertx.sharedData().getLockWithTimeout(BOOTSTRAP_LOCK, LOCK_TIMEOUT_MS)
      .compose(lock -> vertx.sharedData().<String, String>getAsyncMap(MAP)
        .compose(map -> map.get(EMBEDDED_URL).compose(announced -> {
          if (announced != null) {
            LOG.info("using the embedded PostgreSQL announced by the cluster");
            return Future.succeededFuture(new Resolved(announced, null));
          }
          return vertx.<EmbeddedPostgres>executeBlocking(() -> Database.startEmbedded(config.dataDir(), config.db().embeddedDurable()))
            .compose(pg -> map.put(EMBEDDED_URL, Database.url(pg)).map(new Resolved(Database.url(pg), pg)));
        }))
        .eventually(() -> release(lock)));
  }

  /**
   * Records the cluster's database identity, or checks this node's against it: a node whose
   * database is not the cluster's would split every conversation in two, so it must not start.
   */
  public static Future<Void> checkIdentity(Vertx vertx, String databaseId) {
    return vertx.sharedData().<String, String>getAsyncMap(MAP)
      .compose(map -> map.putIfAbsent(DATABASE_ID, databaseId))
      .compose(previous -> {
        if (previous != null && !previous.equals(databaseId)) {
          return Future.failedFuture(new ConfigException(
            "this node's database (db.url) is not the cluster's database: every node of a cluster must use the same PostgreSQL"));
        }
        return Future.succeededFuture();
      });
  }

  /** Withdraws the announcement of an embedded database this node is about to stop. */
  public static Future<Void> withdraw(Vertx vertx) {
    return vertx.sharedData().<String, String>getAsyncMap(MAP)
      .compose(map -> map.remove(EMBEDDED_URL).compose(v -> map.remove(DATABASE_ID)))
      .mapEmpty();
  }

  /**
   * Takes back what a node that started an embedded database announced, when that node fails to
   * start after all: its URL and, if it was the first to record it, its database identity. Entries
   * that are not its own stay. Without this, the next node would use the stopped database (or be
   * refused for not matching it) until the whole cluster restarts.
   */
  public static Future<Void> abandon(Vertx vertx, String url, String databaseId) {
    return vertx.sharedData().<String, String>getAsyncMap(MAP)
      .compose(map -> map.removeIfPresent(EMBEDDED_URL, url)
        .compose(v -> databaseId == null ? Future.succeededFuture() : map.removeIfPresent(DATABASE_ID, databaseId)))
      .mapEmpty();
  }

  private static Future<Void> release(Lock lock) {
    lock.release();
    return Future.succeededFuture();
  }

}
