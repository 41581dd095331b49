package io.switchboard.store;

import io.switchboard.config.SwitchboardConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** The PostgreSQL pool of a node, and the embedded PostgreSQL used when {@code db.url} is empty. */
public final class Database {

  private static final Logger LOG = LoggerFactory.getLogger(Database.class);
  private static final String DATABASE_ID = "SELECT value FROM switchboard_meta WHERE key = 'database_id'";

  private Database() {
  }

  /**
   * A pool with a bounded wait queue and a bounded wait for a connection, so that when
   * PostgreSQL is down requests fail fast with {@code unavailable} instead of piling up.
   */
  public static Pool pool(Vertx vertx, String url, SwitchboardConfig.Db db) {
    return pool(vertx, url, db, db.poolSize(), false);
  }

  /**
   * A small pool whose transactions commit asynchronously ({@code synchronous_commit = off}): for
   * rows that can be rebuilt, such as stream sessions (DESIGN §2), whose loss in a crash costs a
   * client a {@code resync_required} and never a message.
   */
  public static Pool relaxedPool(Vertx vertx, String url, SwitchboardConfig.Db db) {
    return pool(vertx, url, db, Math.max(1, Math.min(4, db.poolSize() / 2)), true);
  }

  private static Pool pool(Vertx vertx, String url, SwitchboardConfig.Db db, int size, boolean asyncCommit) {
    PgConnectOptions connect = PgConnectOptions.fromUri(url)
      .setReconnectAttempts(0)
      .setCachePreparedStatements(true)
      .setPipeliningLimit(256);
    if (asyncCommit) {
      connect.addProperty("synchronous_commit", "off");
    }
    PoolOptions pool = new PoolOptions()
      .setMaxSize(size)
      .setMaxWaitQueueSize(db.waitQueueSize())
      .setConnectionTimeout(db.connectTimeoutSeconds())
      .setConnectionTimeoutUnit(TimeUnit.SECONDS)
      .setIdleTimeout(60)
      .setIdleTimeoutUnit(TimeUnit.SECONDS)
      .setPoolCleanerPeriod(5000);
    NetClientOptions net = new NetClientOptions().setConnectTimeout(db.connectTimeoutSeconds() * 1000);
    return PgBuilder.pool().with(pool).with(net).connectingTo(connect).using(vertx).build();
  }

  /** The identity of the database (written once by the first migration). */
  public static Future<String> databaseId(Pool pool) {
    return pool.query(DATABASE_ID).execute().map(rows -> rows.iterator().next().getString(0));
  }

  /**
   * Starts (blocking: call it off the event loop) an embedded PostgreSQL keeping its files in
   * {@code <dataDir>/postgres}, so a restarted node finds its data again.
   */
  public static EmbeddedPostgres startEmbedded(String dataDir) throws IOException {
    Path dir = Path.of(dataDir, "postgres").toAbsolutePath();
    Files.createDirectories(dir);
    EmbeddedPostgres pg = EmbeddedPostgres.builder()
      .setDataDirectory(dir)
      .setCleanDataDirectory(false)
      .setServerConfig("max_connections", "300")
      .start();
    LOG.info("embedded PostgreSQL started on 127.0.0.1:{} with data in {}", pg.getPort(), dir);
    return pg;
  }

  /** The pg-client URL of an embedded PostgreSQL. */
  public static String url(EmbeddedPostgres pg) {
    return "postgresql://postgres@127.0.0.1:" + pg.getPort() + "/postgres";
  }
}
