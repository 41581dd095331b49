package io.switchboard.cluster;

import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.store.EpochStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Notices a database that went back in time or was replaced (DESIGN §7), and starts a new epoch
 * then, so that no stream resumes on a cursor the database no longer backs.
 *
 * <p>The database keeps a clock (migration V7) that every check raises by one. The highest value
 * seen is remembered outside the database: by each node in memory and in {@code data.dir}, and by
 * the cluster while any node runs. A check that raises the clock to a value not above what was
 * seen means the database lost writes that were committed once: it was restored from an older
 * backup. A server whose system identifier changed is another PostgreSQL (a dump restored into a
 * new server). Either way the node starts a new epoch: every stream session recorded before is of
 * an older epoch, so every older cursor resyncs; and every node's streams are told to resume.
 *
 * <p>The check runs when the node starts (before it serves), on every new connection of the
 * pool before the pool hands it out — a restore means a restart of PostgreSQL, so no statement
 * runs on a restored database before the check — and every {@link #PERIOD_MS}.
 */
public final class EpochWatch {

  private static final Logger LOG = LoggerFactory.getLogger(EpochWatch.class);
  /** How often the clock is raised and remembered even when no connection is new. */
  static final long PERIOD_MS = 5000;
  static final String FILE = "epoch.json";
  static final String CLOCK_KEY = "dbClock.";
  /**
   * How far a new epoch lifts the clock above the mark seen: other nodes may remember a little
   * more than this one (the cluster's mark is shared every period), and must not take the lifted
   * clock for another trip back in time.
   */
  static final long JUMP = 1_000_000;

  private final Vertx vertx;
  private final Path file;
  /** The highest clock seen by this node (and the cluster, as of the last period). */
  private final AtomicLong highWater = new AtomicLong(0);
  private volatile String databaseId;
  private volatile String epoch;
  private volatile String systemId;
  private volatile Gateway gateway;
  private Pool pool;
  private long timer = -1;
  private MessageConsumer<JsonObject> consumer;
  private boolean failing;

  public EpochWatch(Vertx vertx, String dataDir) {
    this.vertx = vertx;
    this.file = Path.of(dataDir, FILE).toAbsolutePath().normalize();
  }

  /**
   * The pool's connect handler: before the pool hands out a new connection, the clock is checked
   * on it. Until {@link #start} (migrations not run yet) connections pass unchecked.
   */
  public void onConnect(SqlConnection conn) {
    if (databaseId == null) {
      conn.close();
      return;
    }
    // The clock only (one statement): a new connection should not wait for more; the server's
    // identity is compared at the start and every period.
    check(conn, "a new connection to PostgreSQL", false).onComplete(ar -> {
      if (ar.failed()) {
        // The connection is used all the same (the periodic check runs again within 5 s), but an
        // operator must see that a check was skipped: it is what notices a restored database.
        LOG.warn("epoch check on a new connection failed; the periodic check will try again: {}", ar.cause().toString());
      }
      conn.close();
    });
  }

  /**
   * Arms the watch for the database {@code id}: reads what this node's data dir and the cluster
   * remember, runs the first check, and checks every period from then on. Fails only when the
   * database cannot be read.
   */
  public Future<Void> start(Pool pool, String id) {
    this.pool = pool;
    return remembered(id)
      .compose(v -> clusterClock(id))
      .compose(v -> {
        databaseId = id;
        consumer = vertx.eventBus().consumer(Addresses.EPOCH, msg -> announced(msg.body()));
        return consumer.completion();
      })
      .compose(v -> pool.withConnection(conn -> check(conn, "the node's start", true)))
      .compose(v -> persist())
      .onSuccess(v -> timer = vertx.setPeriodic(PERIOD_MS, t -> periodic()));
  }

  /** The node's streams, told to resume when the epoch changes (null on a node without HTTP). */
  public void gateway(Gateway gateway) {
    this.gateway = gateway;
  }

  /** The epoch this node knows. */
  public String epoch() {
    return epoch;
  }

  public Future<Void> stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }

  private void periodic() {
    String id = databaseId;
    clusterClock(id)
      .compose(v -> pool.withConnection(conn -> check(conn, "a periodic check", true)))
      .compose(v -> persist())
      .onSuccess(v -> {
        if (failing) {
          failing = false;
          LOG.info("the database's epoch can be checked again");
        }
      })
      .onFailure(t -> {
        if (!failing) {
          failing = true;
          LOG.warn("cannot check the database's epoch ({}); retrying every {} s", t.toString(), PERIOD_MS / 1000);
        }
      });
  }

  /** One check on {@code conn}: raises the clock and compares it, and the server, with what was seen. */
  private Future<Void> check(SqlConnection conn, String when, boolean withServer) {
    // Read before the tick: any value recorded so far was returned by a tick that ended before
    // this one began, so on the same database this tick's value is above it.
    long seen = highWater.get();
    return EpochStore.tick(conn).compose(tick -> (withServer ? EpochStore.systemId(conn)
      : Future.<String>succeededFuture(null)).compose(server -> {
      String cause = null;
      if (tick.clock() <= seen) {
        cause = "the database went back in time: its clock is at " + (tick.clock() - 1) + " but this cluster has seen "
          + seen + " (restored from an older backup?)";
      } else if (server != null && systemId != null && !server.equals(systemId)) {
        cause = "the database is on another PostgreSQL server (system identifier " + systemId + ", now " + server
          + "; a backup restored into a new server?)";
      }
      if (server != null) {
        systemId = server;
      }
      raise(tick.clock());
      if (cause != null) {
        return renew(conn, tick.epoch(), seen + JUMP, cause + ", noticed on " + when);
      }
      adopt(tick.epoch(), "the database's epoch changed (an operator's command or another node's check)");
      return Future.succeededFuture();
    }));
  }

  private Future<Void> renew(SqlConnection conn, String from, long clock, String cause) {
    String to = UUID.randomUUID().toString();
    return EpochStore.renew(conn, from, clock, to).map(current -> {
      raise(clock);
      if (current.equals(to)) {
        LOG.warn("{}: a new epoch starts ({}); every older cursor resyncs", cause, current);
        // Every node, this one's consumer included (it finds the epoch known by then).
        vertx.eventBus().publish(Addresses.EPOCH, new JsonObject().put("epoch", current).put("cause", cause));
      }
      adopt(current, cause);
      return null;
    });
  }

  /** Another node or the operator started an epoch. */
  private void announced(JsonObject body) {
    String announced = body.getString("epoch");
    if (announced != null) {
      adopt(announced, body.getString("cause", "a new epoch"));
    }
  }

  /** Takes {@code current} as the epoch; when it is a change, this node's streams resume. */
  private synchronized boolean adopt(String current, String cause) {
    String before = epoch;
    epoch = current;
    if (before == null || before.equals(current)) {
      return false;
    }
    Gateway g = gateway;
    int streams = g == null ? 0 : g.epochChanged();
    LOG.warn("new database epoch {} ({}): {} stream(s) on this node told to resume", current, cause, streams);
    return true;
  }

  private void raise(long clock) {
    highWater.accumulateAndGet(clock, Math::max);
  }

  /** What this node's data dir remembers of database {@code id}. */
  private Future<Void> remembered(String id) {
    return vertx.fileSystem().exists(file.toString()).compose(exists -> !exists ? Future.succeededFuture()
      : vertx.fileSystem().readFile(file.toString()).map(buffer -> {
        try {
          JsonObject saved = buffer.toJsonObject();
          if (id.equals(saved.getString("databaseId"))) {
            raise(saved.getLong("clock", 0L));
            systemId = saved.getString("systemId");
          }
        } catch (RuntimeException e) {
          LOG.warn("ignoring {}, which is not what this node writes there: {}", file, e.toString());
        }
        return (Void) null;
      }));
  }

  /** Takes the cluster's high-water mark and gives it this node's. */
  private Future<Void> clusterClock(String id) {
    return vertx.sharedData().<String, String>getAsyncMap(ClusterDatabase.MAP)
      .compose(map -> map.get(CLOCK_KEY + id).compose(value -> {
        if (value != null) {
          raise(Long.parseLong(value));
        }
        return lift(map, CLOCK_KEY + id, value, 3);
      }));
  }

  /** Sets the cluster's mark to this node's when it is higher (compare and set, a few tries). */
  private Future<Void> lift(AsyncMap<String, String> map, String key, String value, int tries) {
    long mine = highWater.get();
    if (mine == 0 || (value != null && Long.parseLong(value) >= mine) || tries == 0) {
      return Future.succeededFuture();
    }
    Future<Boolean> set = value == null
      ? map.putIfAbsent(key, Long.toString(mine)).map(previous -> previous == null)
      : map.replaceIfPresent(key, value, Long.toString(mine));
    return set.compose(done -> done ? Future.succeededFuture()
      : map.get(key).compose(now -> {
        if (now != null) {
          raise(Long.parseLong(now));
        }
        return lift(map, key, now, tries - 1);
      }));
  }

  /** Whether an unwritable data dir was reported already (once per node, not once per check). */
  private final java.util.concurrent.atomic.AtomicBoolean persistWarned = new java.util.concurrent.atomic.AtomicBoolean();

  /** Writes this node's mark to its data dir (a restart of the whole cluster keeps it). */
  private Future<Void> persist() {
    JsonObject saved = new JsonObject()
      .put("databaseId", databaseId)
      .put("clock", highWater.get())
      .put("epoch", epoch);
    if (systemId != null) {
      saved.put("systemId", systemId);
    }
    return vertx.fileSystem().mkdirs(file.getParent().toString())
      .compose(v -> vertx.fileSystem().writeFile(file.toString(), Buffer.buffer(saved.encodePrettily())))
      .recover(t -> {
        if (persistWarned.compareAndSet(false, true)) {
          LOG.warn("cannot write {} ({}): a restore made while every node is down will not be noticed;"
            + " give data.dir a writable directory", file, t.toString());
        } else {
          LOG.debug("cannot write {}: {}", file, t.toString());
        }
        return Future.succeededFuture();
      });
  }
}
