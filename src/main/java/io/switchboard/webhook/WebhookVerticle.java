package io.switchboard.webhook;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.NodeContext;
import io.switchboard.auth.Principal;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.Db;
import io.switchboard.store.WebhookStore;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.sqlclient.Pool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Delivers the webhook outbox (SPEC §10, DESIGN §16), once per node; every node delivers, none
 * owns a row. Each turn it leases the due heads of the outbox's streams (one row per endpoint and
 * ordering key at a time, so each conversation's events go out in order), POSTs them signed, and
 * deletes what a 2xx answered; a failure is retried with exponential backoff, and dead-lettered
 * after {@code webhooks.maxAttempts}. A lease outlives a POST's timeout twice, so a node that
 * dies holding one only delays its rows: another node takes them when the lease runs out.
 *
 * <p>It also writes the events no transaction carries: {@code user_online} / {@code user_offline}
 * from the announcements this node's presence service decides (one node announces each change),
 * and {@code message_unseen} from the checks sends schedule. And it answers the admin API's
 * webhook commands: counts, dead letters, retries.
 */
public final class WebhookVerticle extends ServiceVerticle {

  private static final Logger LOG = LoggerFactory.getLogger(WebhookVerticle.class);

  /** Internal command: cluster-wide counts {@code {pending, deadLettered, oldestPendingSeconds}}. */
  public static final String STATS = "~webhook_stats";
  /** Internal command: dead letters {@code {after?, limit?}} → {@code {deadLetters:[…]}}. */
  public static final String DEAD_LETTERS = "~webhook_dead_letters";
  /** Internal command: dead letters back in line, one {@code {deliveryId}} or all. */
  public static final String RETRY = "~webhook_retry";

  /** How often each node looks for due rows and due unseen checks when nothing woke it. */
  static final long POLL_MS = 1000;
  static final long COUNTS_MS = 5000;
  static final long PRUNE_MS = 3_600_000;

  private final NodeContext node;
  private final Pool pool;
  private final SwitchboardConfig.Webhooks config;
  private final Outbox hooks;
  private final Map<String, SwitchboardConfig.Endpoint> byUrl = new HashMap<>();
  private final AtomicLong pending = new AtomicLong();
  private final AtomicLong dead = new AtomicLong();
  private WebClient client;
  private String[] urls;
  private int inFlight;
  private boolean claiming;
  private boolean again;
  private boolean failing;
  private boolean sweeping;
  private Counter delivered;
  private Counter failed;
  private Counter deadLettered;

  public WebhookVerticle(NodeContext node) {
    this.node = node;
    this.pool = node.pool();
    this.config = node.config().webhooks();
    this.hooks = Outbox.of(config);
    config.endpoints().forEach(e -> byUrl.put(e.url(), e));
  }

  @Override
  public Future<?> start() {
    handle(STATS, cmd -> admin(cmd, WebhookStore.counts(pool)
      .map(counts -> counts.put("endpoints", config.endpoints().size()))));
    handle(DEAD_LETTERS, cmd -> {
      Long from = Fields.optionalLong(cmd.payload(), "after", 0, Long.MAX_VALUE);
      long after = from == null ? 0 : from;
      Long limit = Fields.optionalLong(cmd.payload(), "limit", 1, 1000);
      return admin(cmd, WebhookStore.dead(pool, after, limit == null ? 100 : limit.intValue())
        .map(list -> new JsonObject().put("deadLetters", list)));
    });
    handle(RETRY, cmd -> {
      Long id = Fields.optionalLong(cmd.payload(), "deliveryId", 1, Long.MAX_VALUE);
      return admin(cmd, WebhookStore.retryDead(pool, id).map(n -> {
        if (n > 0) {
          vertx.runOnContext(v -> claim());
        }
        return new JsonObject().put("retried", n);
      }));
    });
    if (!hooks.enabled()) {
      return registered();
    }
    urls = byUrl.keySet().toArray(String[]::new);
    int timeoutMs = config.timeoutSeconds() * 1000;
    client = WebClient.create(vertx, new WebClientOptions()
      .setConnectTimeout(timeoutMs)
      .setFollowRedirects(false)
      .setUserAgent("Switchboard-Webhooks/1"),
      new io.vertx.core.http.PoolOptions().setHttp1MaxSize(Math.max(4, config.concurrency())));
    meters(node.metrics().registry());
    var wake = vertx.eventBus().localConsumer(Addresses.WEBHOOKS_WAKE, msg -> claim());
    // Local only: it hears the announcements this node publishes, i.e. the changes it decided.
    var presence = vertx.eventBus().<JsonObject>localConsumer(Addresses.PRESENCE_GOSSIP, msg -> presence(msg.body()));
    vertx.setPeriodic(POLL_MS, POLL_MS, id -> {
      claim();
      unseen();
    });
    vertx.setPeriodic(100, COUNTS_MS, id -> counts());
    vertx.setPeriodic(PRUNE_MS, id -> WebhookStore.pruneDead(pool).onFailure(t -> { }));
    return Future.all(registered(), wake.completion(), presence.completion());
  }

  @Override
  public Future<?> stop() {
    if (client != null) {
      client.close();
    }
    return Future.succeededFuture();
  }

  private Future<Envelope> admin(Command cmd, Future<JsonObject> work) {
    if (!Principal.BACKEND.userId().equals(cmd.userId())) {
      return Future.failedFuture(ServiceException.forbidden("internal command"));
    }
    return work.recover(Db::failure).map(body -> Envelope.of(Types.ACK, body));
  }

  // ---- delivery ----

  private int leaseMillis() {
    return config.timeoutSeconds() * 2000 + 5000;
  }

  /** Leases as many due heads as there is room for; again at once if the batch was full. */
  private void claim() {
    if (urls == null) {
      return;
    }
    if (claiming) {
      again = true;
      return;
    }
    int room = config.concurrency() - inFlight;
    if (room <= 0) {
      return;
    }
    claiming = true;
    again = false;
    WebhookStore.claim(pool, urls, room, leaseMillis(), node.nodeId()).onComplete(ar -> {
      claiming = false;
      if (ar.failed()) {
        if (!failing) {
          failing = true;
          LOG.warn("webhook outbox unreadable ({}); retrying every {} ms", ar.cause().toString(), POLL_MS);
        }
        return;
      }
      if (failing) {
        failing = false;
        LOG.info("webhook outbox readable again");
      }
      ar.result().forEach(this::deliver);
      if (again || ar.result().size() == room) {
        claim();
      }
    });
  }

  private void deliver(WebhookStore.Claimed row) {
    SwitchboardConfig.Endpoint endpoint = byUrl.get(row.endpoint());
    inFlight++;
    String body = new JsonObject()
      .put("id", row.eventId().toString())
      .put("type", row.type())
      .put("createdAt", Db.timestamp(row.createdAt()))
      .put("data", new JsonObject(row.data()))
      .encode();
    long now = Instant.now().getEpochSecond();
    client.postAbs(row.endpoint())
      .timeout(config.timeoutSeconds() * 1000L)
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .putHeader(Signature.HEADER, Signature.header(endpoint.secret(), now, body))
      .putHeader("Switchboard-Event-Id", row.eventId().toString())
      .putHeader("Switchboard-Event-Type", row.type())
      .sendBuffer(Buffer.buffer(body.getBytes(StandardCharsets.UTF_8)))
      // The request's own timeout is per silence; this one bounds the whole answer, well inside the lease.
      .timeout(config.timeoutSeconds(), java.util.concurrent.TimeUnit.SECONDS)
      .transform(ar -> {
        if (ar.succeeded() && ar.result().statusCode() / 100 == 2) {
          delivered.increment();
          return WebhookStore.delivered(pool, row.id());
        }
        String error = ar.succeeded() ? "HTTP " + ar.result().statusCode() : String.valueOf(ar.cause());
        long delay = backoff(row.attempts());
        return WebhookStore.failed(pool, row.id(), delay, config.maxAttempts(), error)
          .map(nowDead -> {
            failed.increment();
            if (!nowDead && delay < POLL_MS) {
              // A retry due before the next poll is looked for when it is due.
              vertx.setTimer(Math.max(1, delay), t -> claim());
            }
            if (nowDead) {
              deadLettered.increment();
              counts();
              LOG.warn("webhook {} {} to {} dead-lettered after {} attempts: {}", row.type(), row.eventId(),
                row.endpoint(), row.attempts(), error);
            } else {
              LOG.debug("webhook {} {} to {} failed (attempt {}): {}", row.type(), row.eventId(), row.endpoint(),
                row.attempts(), error);
            }
            return (Void) null;
          });
      })
      .onComplete(ar -> {
        if (ar.failed()) {
          // The row stays leased; when the lease runs out it is delivered again (at least once).
          LOG.warn("webhook {} {}: outcome not recorded ({})", row.type(), row.eventId(), ar.cause().toString());
        }
        inFlight--;
        // The next row of the same stream is due now.
        claim();
      });
  }

  /** Exponential backoff: base × 2^(attempt−1), capped, with ±20 % jitter so retries spread out. */
  long backoff(int attempts) {
    double delay = config.retryBaseMillis() * Math.pow(2, Math.max(0, attempts - 1));
    delay = Math.min(delay, config.retryMaxSeconds() * 1000.0);
    return (long) (delay * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
  }

  // ---- events without a transaction ----

  /** Presence announcements this node decided: one {@code user_online} / {@code user_offline} each. */
  private void presence(JsonObject envelope) {
    if (!Presence.ANNOUNCE.equals(envelope.getString("type"))
      || !(hooks.wants(Outbox.USER_ONLINE) || hooks.wants(Outbox.USER_OFFLINE))) {
      return;
    }
    JsonObject p = envelope.getJsonObject("payload", new JsonObject());
    if (!node.nodeId().equals(p.getString("nodeId"))) {
      return;
    }
    List<Outbox.Event> events = new ArrayList<>();
    for (Object o : p.getJsonArray("changes", new JsonArray())) {
      if (!(o instanceof JsonObject c) || !(c.getValue("userId") instanceof String userId)) {
        continue;
      }
      boolean online = c.getBoolean("online", false);
      long at = c.getLong("at", 0L);
      // One id per change, so a change written twice is delivered once.
      UUID id = UUID.nameUUIDFromBytes(("presence|" + userId + "|" + online + "|" + at).getBytes(StandardCharsets.UTF_8));
      events.add(new Outbox.Event(id, online ? Outbox.USER_ONLINE : Outbox.USER_OFFLINE, Outbox.user(userId),
        new JsonObject().put("userId", userId).put("lastSeenAt", Envelope.format(Instant.ofEpochMilli(at)))));
    }
    hooks.addAll(pool, events)
      .onSuccess(v -> claim())
      .onFailure(t -> LOG.warn("presence webhooks of {} change(s) not written: {}", events.size(), t.toString()));
  }

  /** Due {@code message_unseen} checks become events; any node may run them (SKIP LOCKED). */
  private void unseen() {
    if (!hooks.wants(Outbox.MESSAGE_UNSEEN) || sweeping) {
      return;
    }
    sweeping = true;
    WebhookStore.unseen(pool, hooks.endpoints(Outbox.MESSAGE_UNSEEN))
      .onComplete(ar -> sweeping = false)
      .onSuccess(done -> {
        if (done.written() > 0) {
          claim();
        }
        if (done.checked() >= WebhookStore.UNSEEN_BATCH) {
          // More are due than one sweep takes: go on now rather than at the next poll.
          vertx.runOnContext(v -> unseen());
        }
      })
      // Retried at the next poll; said, since a lasting failure means no push notification goes out.
      .onFailure(t -> LOG.warn("message_unseen checks failed (retried at the next poll): {}", t.toString()));
  }

  // ---- meters ----

  private void meters(MeterRegistry registry) {
    Gauge.builder("switchboard.webhooks.pending", pending, AtomicLong::get)
      .description("Webhook deliveries waiting, cluster-wide (every node reports the same count)")
      .register(registry);
    Gauge.builder("switchboard.webhooks.dead.letters", dead, AtomicLong::get)
      .description("Webhook deliveries dead-lettered after webhooks.maxAttempts, cluster-wide")
      .register(registry);
    delivered = Counter.builder("switchboard.webhooks.deliveries").tag("outcome", "delivered")
      .description("Webhook POSTs made by this node, by outcome").register(registry);
    failed = Counter.builder("switchboard.webhooks.deliveries").tag("outcome", "failed")
      .description("Webhook POSTs made by this node, by outcome").register(registry);
    deadLettered = Counter.builder("switchboard.webhooks.deliveries").tag("outcome", "dead_lettered")
      .description("Webhook POSTs made by this node, by outcome").register(registry);
  }

  private void counts() {
    WebhookStore.counts(pool).onSuccess(c -> {
      pending.set(c.getLong("pending"));
      dead.set(c.getLong("deadLettered"));
    });
  }
}
