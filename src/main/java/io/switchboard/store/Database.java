package io.switchboard.store;

import io.switchboard.StartException;
import io.switchboard.config.SwitchboardConfig;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.SqlConnection;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    return pool(vertx, url, db, db.poolSize(), false, null);
  }

  /**
   * The same, with {@code onConnect} run on each new connection before the pool hands it out (it
   * must close the connection to release it): the node checks the database's epoch there
   * ({@link io.switchboard.cluster.EpochWatch}).
   */
  public static Pool pool(Vertx vertx, String url, SwitchboardConfig.Db db, Handler<SqlConnection> onConnect) {
    return pool(vertx, url, db, db.poolSize(), false, onConnect);
  }

  /**
   * A small pool whose transactions commit asynchronously ({@code synchronous_commit = off}): for
   * rows that can be rebuilt, such as stream sessions (DESIGN §2), whose loss in a crash costs a
   * client a {@code resync_required} and never a message.
   */
  public static Pool relaxedPool(Vertx vertx, String url, SwitchboardConfig.Db db) {
    return pool(vertx, url, db, Math.max(1, Math.min(4, db.poolSize() / 2)), true, null);
  }

  private static Pool pool(Vertx vertx, String url, SwitchboardConfig.Db db, int size, boolean asyncCommit,
                           Handler<SqlConnection> onConnect) {
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
    var builder = PgBuilder.pool().with(pool).with(net).connectingTo(connect).using(vertx);
    if (onConnect != null) {
      builder.withConnectHandler(onConnect);
    }
    return builder.build();
  }

  /** The identity of the database (written once by the first migration). */
  public static Future<String> databaseId(Pool pool) {
    return pool.query(DATABASE_ID).execute().map(rows -> rows.iterator().next().getString(0));
  }

  /**
   * Starts (blocking: call it off the event loop) an embedded PostgreSQL keeping its files in
   * {@code <dataDir>/postgres}, so a restarted node finds its data again. A server left running
   * there by a node that was killed is stopped first; a directory another running node holds
   * stops the start, saying so.
   */
  public static EmbeddedPostgres startEmbedded(String dataDir, boolean durable) {
    Path dir = Path.of(dataDir, "postgres").toAbsolutePath().normalize();
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new StartException("cannot create " + dir + " (data.dir): " + StartException.describe(e), e);
    }
    EmbeddedDirectory.reclaim(dir);
    try {
      EmbeddedPostgres pg = embeddedBuilder(dir, durable)
        .setCleanDataDirectory(false)
        // A server recovering after a crash, on a loaded machine, can take longer than zonky's 10 s.
        .setPGStartupWait(Duration.ofSeconds(60))
        .start();
      LOG.info("embedded PostgreSQL started on 127.0.0.1:{} with data in {}{}", pg.getPort(), dir,
        durable ? "" : " (not durable: fsync and synchronous_commit off)");
      return pg;
    } catch (IOException | RuntimeException e) {
      throw new StartException("cannot start the embedded PostgreSQL in " + dir + " (data.dir): "
        + StartException.describe(e), e);
    }
  }

  /**
   * The one description of an embedded PostgreSQL server, for nodes and for the tests' database.
   * zonky's defaults suit throwaway test databases and nothing else: it starts PostgreSQL with
   * {@code -F} (no fsync) and {@code synchronous_commit=off}, so an OS crash could lose
   * acknowledged messages or corrupt the files. {@code durable} turns fsync, synchronous commit
   * and full-page writes on; PostgreSQL applies the {@code -c} settings after {@code -F}, so they
   * win. Only tests turn it off ({@code db.embeddedDurable}).
   */
  public static EmbeddedPostgres.Builder embeddedBuilder(Path dir, boolean durable) {
    EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
      .setDataDirectory(dir)
      .setServerConfig("max_connections", "300");
    if (durable) {
      builder.setServerConfig("fsync", "on")
        .setServerConfig("synchronous_commit", "on")
        .setServerConfig("full_page_writes", "on");
    }
    return builder;
  }

  /** Where a pg-client URL points, without its credentials: {@code host:port/database}. */
  public static String describe(String url) {
    try {
      PgConnectOptions options = PgConnectOptions.fromUri(url);
      return options.getHost() + ":" + options.getPort() + "/" + options.getDatabase();
    } catch (RuntimeException e) {
      return "an unreadable URL";
    }
  }

  /** The pg-client URL of an embedded PostgreSQL. */
  public static String url(EmbeddedPostgres pg) {
    return "postgresql://postgres@127.0.0.1:" + pg.getPort() + "/postgres";
  }
}
