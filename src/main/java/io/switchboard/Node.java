package io.switchboard;

import io.switchboard.admin.AdminVerticle;
import io.switchboard.admin.ControlVerticle;
import io.switchboard.auth.AuthProxy;
import io.switchboard.auth.Authenticator;
import io.switchboard.call.CallVerticle;
import io.switchboard.cluster.ClusterDatabase;
import io.switchboard.cluster.ClusterSetup;
import io.switchboard.cluster.EpochWatch;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.conversation.ConversationVerticle;
import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.metrics.NodeMetrics;
import io.switchboard.presence.PresenceVerticle;
import io.switchboard.service.CommandClient;
import io.switchboard.stream.StreamVerticle;
import io.switchboard.typing.TypingVerticle;
import io.switchboard.topic.TopicVerticle;
import io.switchboard.http.HttpVerticle;
import io.switchboard.bridge.TcpBridgeVerticle;
import io.switchboard.http.api.NodeStatsVerticle;
import io.switchboard.message.MessageVerticle;
import io.switchboard.store.Database;
import io.switchboard.store.Migrations;
import io.switchboard.webhook.Outbox;
import io.switchboard.webhook.WebhookVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.sqlclient.Pool;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One Switchboard node: a clustered Vert.x instance, its database, and the verticles of its
 * roles. {@link #start(SwitchboardConfig)} is what {@code java -jar switchboard.jar} runs; tests
 * use {@link #start(Vertx, SwitchboardConfig, Set)} to put roles on chosen cluster members.
 */
public final class Node {

  private static final Logger LOG = LoggerFactory.getLogger(Node.class);

  /** What a node runs. A production node runs both. */
  public enum Role {
    /** The HTTP port: REST and the real-time transports. */
    HTTP,
    /** The service verticles that own the rules. */
    SERVICES
  }

  private final Vertx vertx;
  private final NodeContext context;
  private final EmbeddedPostgres embedded;
  private final List<String> deployments;
  private final Gateway gateway;
  private final EpochWatch epochs;

  private Node(Vertx vertx, NodeContext context, EmbeddedPostgres embedded, List<String> deployments, Gateway gateway,
               EpochWatch epochs) {
    this.epochs = epochs;
    this.vertx = vertx;
    this.context = context;
    this.embedded = embedded;
    this.deployments = deployments;
    this.gateway = gateway;
  }

  /**
   * Builds a clustered Vert.x instance from {@code cluster.*}, with metrics
   * ({@link NodeMetrics#vertxOptions}), and starts every role on it.
   */
  public static Future<Node> start(SwitchboardConfig config) {
    ClusterManager clusterManager;
    try {
      Authenticator.check(config.auth());
      clusterManager = ClusterSetup.clusterManager(config.cluster(), config.presenceNodeTimeoutSeconds());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    SwitchboardConfig.Cluster cluster = config.cluster();
    // A promise of no context: the failure path closes Vert.x, and a future derived from one of
    // its contexts would try to complete on an event loop that is gone, and never complete.
    Promise<Node> result = Promise.promise();
    Vertx.builder()
      .with(ClusterSetup.withEventBus(NodeMetrics.vertxOptions(config), config.cluster()))
      .withClusterManager(clusterManager)
      .buildClustered()
      .onComplete(built -> {
        if (built.failed()) {
          // Vert.x has closed itself; all Hazelcast tells is why it could not start.
          result.fail(new StartException("cannot join the cluster '" + cluster.name() + "' at cluster.host "
            + cluster.host() + ", cluster.port " + cluster.port() + ": " + StartException.describe(built.cause()),
            built.cause()));
          return;
        }
        Vertx vertx = built.result();
        start(vertx, config, EnumSet.allOf(Role.class)).onComplete(started -> {
          if (started.succeeded()) {
            result.complete(started.result());
          } else {
            close(vertx).onComplete(ignored -> result.fail(started.cause()));
          }
        });
      });
    return result.future();
  }

  /** Starts the given roles on an existing (clustered) Vert.x instance. */
  public static Future<Node> start(Vertx vertx, SwitchboardConfig config, Set<Role> roles) {
    Authenticator authenticator;
    try {
      authenticator = new Authenticator(vertx, config.auth());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    ClusterManager clusterManager = ((VertxInternal) vertx).clusterManager();
    String nodeId = clusterManager == null ? "standalone" : clusterManager.getNodeId();
    return ClusterDatabase.resolve(vertx, config).compose(db -> {
      EpochWatch epochs = new EpochWatch(vertx, config.dataDir());
      Pool pool = Database.pool(vertx, db.url(), config.db(), epochs::onConnect);
      Pool relaxed = Database.relaxedPool(vertx, db.url(), config.db());
      ConnectionCounts connections = new ConnectionCounts();
      NodeMetrics metrics = NodeMetrics.create(vertx, config, connections);
      NodeContext context = new NodeContext(config, pool, relaxed, authenticator, clusterManager, nodeId, connections, metrics,
        new CommandClient(vertx, roles.contains(Role.SERVICES)), new Lifecycle());
      Future<String> databaseId = Migrations.run(pool)
        .recover(t -> Future.failedFuture(t instanceof StartException ? t : new StartException(
          "cannot use PostgreSQL at " + Database.describe(db.url())
            + (config.db().embedded() ? " (the embedded database)" : " (db.url)") + ": " + StartException.describe(t), t)))
        .compose(v -> Database.databaseId(pool));
      return databaseId
        .compose(id -> clusterManager == null ? Future.succeededFuture() : ClusterDatabase.checkIdentity(vertx, id))
        // Before anything serves: a database restored from an older backup starts a new epoch here.
        .compose(v -> epochs.start(pool, databaseId.result()))
        .compose(v -> {
          Gateway gateway = roles.contains(Role.HTTP) ? new Gateway(vertx, context) : null;
          epochs.gateway(gateway);
          return deploy(vertx, context, roles, gateway)
            .map(ids -> new Node(vertx, context, db.embedded(), ids, gateway, epochs))
            .onFailure(t -> {
              if (gateway != null) {
                gateway.drain(0);
              }
            });
        })
        .recover(t -> abandon(vertx, db, databaseId)
          .compose(v -> epochs.stop().otherwise((Void) null))
          .onComplete(v -> metrics.close())
          .compose(v -> pool.close())
          .compose(v -> relaxed.close())
          .eventually(() -> stopEmbedded(vertx, db.embedded()))
          .transform(ignored -> Future.failedFuture(t)));
    }).onSuccess(node -> {
      node.context.lifecycle().serving();
      LOG.info("Switchboard node {} started (cluster '{}', {} member(s)){}", nodeId, config.cluster().name(),
        clusterManager == null ? 1 : clusterManager.getNodes().size(),
        roles.contains(Role.HTTP)
          ? " on " + (config.tls().http().enabled() ? "https" : "http") + "://" + config.http().host() + ":" + config.http().port()
          + (config.bridge().tcpPort() > 0 ? ", TCP bridge on port " + config.bridge().tcpPort() : "") : "");
      if (config.auth().devTokens()) {
        LOG.warn("auth.devTokens is on: anyone can mint a token with POST /api/auth/dev-token; turn it off in production");
      }
      if (ConfigLoader.isDevSecret(config.auth().jwtSecret())) {
        LOG.warn("auth.jwtSecret is the built-in development secret; set your own in production");
      }
    });
  }

  private static Future<List<String>> deploy(Vertx vertx, NodeContext context, Set<Role> roles, Gateway gateway) {
    int cores = Math.max(1, Runtime.getRuntime().availableProcessors());
    List<Future<String>> all = new ArrayList<>();
    // Webhook delivery on every node (any node may deliver; each writes the presence changes it decides).
    all.add(vertx.deployVerticle(new WebhookVerticle(context)));
    if (roles.contains(Role.SERVICES)) {
      DeploymentOptions services = new DeploymentOptions().setInstances(cores);
      NodeMetrics metrics = context.metrics();
      Outbox outbox = Outbox.of(context.config().webhooks());
      AuthProxy proxy = new AuthProxy(vertx, context.config().auth().proxy());
      all.add(vertx.deployVerticle(() -> new ConversationVerticle(context.pool()).metered(metrics).webhooks(outbox),
        services));
      all.add(vertx.deployVerticle(() -> new MessageVerticle(context.pool(), context.config().limits(),
        context.config().editWindowSeconds()).metered(metrics).webhooks(outbox), services));
      all.add(vertx.deployVerticle(() -> new StreamVerticle(context.pool(), context.relaxedPool(),
        context.config().sse().resumeWindowSeconds(), proxy)
        .metered(metrics), services));
      all.add(vertx.deployVerticle(() -> new TopicVerticle(context.config().publicTopics(), proxy).metered(metrics),
        services));
      all.add(vertx.deployVerticle(() -> new AdminVerticle(context.pool()).metered(metrics), services));
      all.add(vertx.deployVerticle(() -> new TypingVerticle(context.pool(), context.config().typingTtlSeconds())
        .metered(metrics), services));
      // The first call instance of a node also watches presence and sweeps lost ring timers.
      AtomicBoolean callWatcher = new AtomicBoolean(true);
      all.add(vertx.deployVerticle(() -> new CallVerticle(context.pool(), context.config().calls(),
        context.config().limits(), callWatcher.getAndSet(false)).metered(metrics).webhooks(outbox), services));
    }
    // Presence on every node: with clients it tracks them; without, it hands announcements to
    // the node's services. It starts once it knows the cluster's presence. HTTP last: the port
    // opens once the node can answer.
    Future<List<String>> first = Future.all(all).map(cf -> {
      List<String> ids = new ArrayList<>();
      all.forEach(f -> ids.add(f.result()));
      return ids;
    }).compose(ids -> vertx.deployVerticle(new PresenceVerticle(context, gateway, roles.contains(Role.SERVICES)))
      .map(id -> {
        ids.add(id);
        return ids;
      }));
    if (!roles.contains(Role.HTTP)) {
      return first;
    }
    Future<List<String>> http = first
      // Revocations are read before the port opens: a restarted node refuses revoked tokens at once.
      .compose(ids -> vertx.deployVerticle(new ControlVerticle(context.pool(),
        context.authenticator().revocations(), gateway)).map(id -> {
        ids.add(id);
        return ids;
      }))
      .compose(ids -> vertx.deployVerticle(new NodeStatsVerticle(context, gateway)).map(id -> {
        ids.add(id);
        return ids;
      }))
      // The event shards reach this node before its port opens: a stream opened from then on
      // follows live.
      .compose(ids -> gateway.start().map(ids))
      .compose(ids -> vertx.deployVerticle(() -> new HttpVerticle(context, gateway),
        new DeploymentOptions().setInstances(cores))
      .recover(t -> Future.failedFuture(portTaken(t, "HTTP port", context.config().http().host(),
        context.config().http().port(), "http.port")))
      .map(id -> {
        ids.add(id);
        return ids;
      }));
    if (context.config().bridge().tcpPort() == 0) {
      return http;
    }
    // The TCP bridge shares the node's gateway; its instances share the one port like HTTP's.
    return http.compose(ids -> vertx.deployVerticle(() -> new TcpBridgeVerticle(gateway),
        new DeploymentOptions().setInstances(cores))
      .recover(t -> Future.failedFuture(portTaken(t, "TCP bridge port", context.config().http().host(),
        context.config().bridge().tcpPort(), "bridge.tcpPort")))
      .map(id -> {
        ids.add(id);
        return ids;
      }));
  }

  /** The node's connection registry (null on a node without the HTTP role). */
  public Gateway gateway() {
    return gateway;
  }

  public Vertx vertx() {
    return vertx;
  }

  public NodeContext context() {
    return context;
  }

  public String nodeId() {
    return context.nodeId();
  }

  /**
   * Stops the node: undeploys its verticles, closes the pool and Vert.x (leaving the cluster), and
   * stops the embedded database if this node started it.
   */
  public Future<Void> stop() {
    context.lifecycle().draining();
    Future<Void> withdraw = embedded == null ? Future.succeededFuture()
      : ClusterDatabase.withdraw(vertx).otherwise((Void) null);
    Future<Void> drained = gateway == null ? Future.succeededFuture()
      : gateway.drain(context.config().drainSeconds() * 1000L);
    Future<Void> released = drained
      .compose(v -> epochs.stop().otherwise((Void) null))
      .compose(v -> withdraw)
      .compose(v -> Future.join(deployments.stream().map(vertx::undeploy).toList()).<Void>mapEmpty())
      .otherwise((Void) null)
      .onComplete(v -> context.metrics().close())
      .compose(v -> context.pool().close().otherwise((Void) null))
      .compose(v -> context.relaxedPool().close().otherwise((Void) null))
      .compose(v -> stopEmbedded(vertx, embedded).otherwise((Void) null));
    Promise<Void> closed = Promise.promise();
    released.onComplete(ignored -> close(vertx).onComplete(closed));
    return closed.future();
  }

  /**
   * Closes Vert.x from a thread of its own, completing a future of no context: a close started on
   * one of its event loops would complete its future on an event loop that no longer runs, and
   * whoever waits on it (a failed start, a stop) would wait for ever.
   */
  private static Future<Void> close(Vertx vertx) {
    Promise<Void> closed = Promise.promise();
    new Thread(() -> vertx.close().onComplete(closed), "switchboard-close").start();
    return closed.future();
  }

  /** A listen that failed because the port is taken, said so with the key that sets it. */
  private static Throwable portTaken(Throwable t, String what, String host, int port, String key) {
    // Netty's native transport reports it as an IOException of its own, not a BindException.
    boolean taken = t instanceof java.net.BindException
      || String.valueOf(t.getMessage()).contains("Address already in use");
    return taken ? new StartException(what + " " + port + " on " + host + " is in use (" + key + ")", t) : t;
  }

  /** A node that started an embedded database and failed to start withdraws its announcement. */
  private static Future<Void> abandon(Vertx vertx, ClusterDatabase.Resolved db, Future<String> databaseId) {
    if (db.embedded() == null) {
      return Future.succeededFuture();
    }
    String id = databaseId.succeeded() ? databaseId.result() : null;
    return ClusterDatabase.abandon(vertx, db.url(), id).otherwise((Void) null);
  }

  private static Future<Void> stopEmbedded(Vertx vertx, EmbeddedPostgres pg) {
    if (pg == null) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(() -> {
      pg.close();
      return null;
    });
  }
}
