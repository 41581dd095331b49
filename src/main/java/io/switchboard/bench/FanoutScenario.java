package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code fanout}, {@code latency} and {@code cluster}: N subscribers of one channel, M publishes.
 * {@code fanout} publishes as fast as a window of undelivered messages allows; {@code latency}
 * at a fixed rate; {@code cluster} spreads the subscribers over several nodes and publishes on
 * the first. The subscribers are opened once; probes prove every one receives; then each warm-up
 * phase (discarded) and each measured run publishes M fresh messages and prints one JSON line.
 *
 * <p>Channels: Switchboard topic {@code public.bench-<run>} through {@code POST /api/publish}, or
 * (with {@code --channel conversation}, and always for long-poll) a group of all subscribers
 * with durable sends from one more member; a template target's {@code {channel}}.
 */
final class FanoutScenario {

  private static final long STALL_NANOS = 10_000_000_000L;

  private final RunContext ctx;
  private final BenchOptions o;
  private final FanoutCounter counter;
  private SubscriberSet subs;
  private Publisher publisher;
  private final AtomicLong publishErrors = new AtomicLong();

  private FanoutScenario(RunContext ctx) {
    this.ctx = ctx;
    this.o = ctx.o;
    this.counter = new FanoutCounter(o.count);
  }

  static Future<Void> run(RunContext ctx) {
    if (ctx.o.spawn > 0 && ctx.o.urls.size() == 1) {
      return NodeProcesses.start(ctx, ctx.o.spawn).compose(nodes -> {
        ctx.nodes = nodes.urls();
        List<Long> pids = new ArrayList<>(ctx.o.pids);
        pids.addAll(nodes.pids());
        ctx.server = new ProcStats(pids, ctx.o.pidTrees);
        return new FanoutScenario(ctx).go().eventually(nodes::stop);
      });
    }
    return new FanoutScenario(ctx).go();
  }

  private Future<Void> go() {
    // Opening is bounded by --timeout; probing by a minute of its own.
    long deadline = System.nanoTime() + o.timeoutSeconds * 1_000_000_000L;
    return setup()
      .compose(v -> {
        ctx.log("%s: opening %d %s subscribers of %s on %d node(s)", o.target, o.count, o.transport.id,
          o.isSwitchboard() ? o.channel : "channel", o.isSwitchboard() ? ctx.nodes.size() : 1);
        return subs.open(ctx, o.openConcurrency, deadline);
      })
      .compose(open -> {
        ctx.log("%d of %d open after %.1f s (%d refusals, %d failures, %d retries); probing", open, o.count,
          subs.stats.secondsToLastConnected(), subs.stats.refusals.get(), subs.stats.failures.get(), subs.stats.retries.get());
        if (open == 0) {
          return Future.failedFuture("no subscriber could open: " + subs.openJson().encode());
        }
        return probe();
      })
      .compose(v -> phases(0))
      .eventually(() -> {
        if (subs != null) {
          subs.close();
        }
        return Future.succeededFuture();
      });
  }

  // ---- setup: users, tokens, the channel ----

  private Future<Void> setup() {
    if (!o.isSwitchboard()) {
      String channel = "bench-" + ctx.runId;
      URI sub = URI.create(o.sub.replace("{channel}", channel));
      URI pub = URI.create(o.pub.replace("{channel}", channel));
      subs = new SubscriberSet(ctx.clients, o.transport, o.count, counter, null, null, null, i -> sub, false, false);
      publisher = text -> ctx.clients.rest.postAbs(pub.toString()).putHeader("Content-Type", "text/plain")
        .sendBuffer(Buffer.buffer(text)).map(r -> r.statusCode() / 100 == 2 ? null : "HTTP " + r.statusCode());
      return Future.succeededFuture();
    }
    List<URI> nodes = ctx.nodes;
    SbApi api = new SbApi(ctx.clients, nodes.get(0));
    Tokens tokens = new Tokens(ctx.clients, nodes.get(0), o.jwtSecret);
    List<String> users = Tokens.names("bench-" + ctx.runId + "-", o.count);
    ctx.log("%s tokens for %d users", o.jwtSecret != null ? "signing" : "asking", o.count);
    return tokens.tokens(users).compose(toks -> {
      if ("topic".equals(o.channel)) {
        String topic = "public.bench-" + ctx.runId;
        subs = new SubscriberSet(ctx.clients, o.transport, o.count, counter, users, toks, topic,
          i -> nodes.get(i % nodes.size()), false, true);
        publisher = text -> api.publish(o.apiKey, topic, "bench", text)
          .map(r -> r.statusCode() == 200 ? null : "HTTP " + r.statusCode() + " " + r.bodyAsString());
        return Future.succeededFuture();
      }
      String owner = "bench-" + ctx.runId + "-pub";
      return tokens.token(owner).compose(ownerToken -> {
        int first = Math.min(users.size(), 499);
        return api.createGroup(ownerToken, "bench " + ctx.runId, users.subList(0, first)).compose(group -> {
          String id = group.getString("id");
          String invite = group.getString("inviteCode");
          ctx.log("group %s created; %d more members join by invite", id, users.size() - first);
          return Parallel.forEach(users.size() - first, 16, k -> api.join(toks.get(first + k), invite)).map(v -> {
            subs = new SubscriberSet(ctx.clients, o.transport, o.count, counter, users, toks, null,
              i -> nodes.get(i % nodes.size()), false, true);
            publisher = text -> api.send(ownerToken, id, text, null)
              .map(r -> r.statusCode() == 201 ? null : "HTTP " + r.statusCode() + " " + r.bodyAsString());
            return null;
          });
        });
      });
    });
  }

  /** Publishes one message; null when accepted, else why not. */
  interface Publisher {
    Future<String> publish(String text);
  }

  // ---- probes: every open subscriber has received something before measuring ----

  private Future<Void> probe() {
    Promise<Void> ready = Promise.promise();
    long probeDeadline = System.nanoTime() + 60_000_000_000L;
    AtomicInteger n = new AtomicInteger();
    long timer = ctx.vertx.setPeriodic(1, 250, id -> {
      long live = subs.live();
      if (counter.readyCount.get() >= live || System.nanoTime() > probeDeadline) {
        ctx.vertx.cancelTimer(id);
        ready.tryComplete();
        return;
      }
      publisher.publish(Marker.text(Marker.PROBE, n.getAndIncrement(), System.nanoTime(), o.size));
    });
    return ready.future().map(v -> {
      ctx.vertx.cancelTimer(timer);
      ctx.log("%d of %d subscribers receive (after %d probes)", counter.readyCount.get(), subs.live(), n.get());
      return null;
    });
  }

  // ---- phases: warm-ups, then measured runs ----

  private Future<Void> phases(int phase) {
    int total = o.warmup + o.runs;
    if (phase >= total) {
      return Future.succeededFuture();
    }
    boolean warm = phase < o.warmup;
    return phase(phase, warm).compose(json -> {
      if (warm) {
        ctx.log("warm-up %d: %s", phase + 1, summary(json));
      } else {
        ctx.log("run %d: %s", phase - o.warmup + 1, summary(json));
        json.put("run", phase - o.warmup + 1);
        ctx.out.accept(json);
      }
      return phases(phase + 1);
    });
  }

  private Future<JsonObject> phase(int phase, boolean warm) {
    int m = o.messages;
    long base = (long) phase * m;
    long open = subs.live();
    long expected = open * m;
    Promise<Void> done = Promise.promise();
    counter.phase(base, m, expected, done::tryComplete);
    publishErrors.set(0);
    long disconnectsBefore = counter.disconnects.get();
    RunContext.Meter start = RunContext.Meter.now(ctx.server);
    long deadline = start.nanos() + o.timeoutSeconds * 1_000_000_000L;
    AtomicInteger sent = new AtomicInteger();
    AtomicInteger answered = new AtomicInteger();
    long[] lastProgress = {start.nanos(), 0};
    long pump = ctx.vertx.setPeriodic(1, o.rate > 0 ? Math.max(1, Math.min(50, 1000 / o.rate)) : 1, id -> {
      long now = System.nanoTime();
      int due;
      if (o.rate > 0) {
        due = (int) Math.min(m, 1 + (now - start.nanos()) * o.rate / 1_000_000_000L);
      } else {
        long perMessage = Math.max(1, open - (counter.disconnects.get() - disconnectsBefore));
        due = (int) Math.min(m, counter.deliveries.get() / perMessage + o.window);
      }
      while (sent.get() < due) {
        long n = base + sent.getAndIncrement();
        publisher.publish(Marker.text(Marker.BENCH, n, System.nanoTime(), o.size)).onComplete(ar -> {
          answered.incrementAndGet();
          if (ar.failed() || ar.result() != null) {
            if (publishErrors.incrementAndGet() <= 3) {
              ctx.log("publish failed: %s", ar.failed() ? ar.cause().getMessage() : ar.result());
            }
          }
        });
      }
      long delivered = counter.deliveries.get();
      if (delivered != lastProgress[1]) {
        lastProgress[0] = now;
        lastProgress[1] = delivered;
      }
      boolean stalled = answered.get() >= m && now - lastProgress[0] > STALL_NANOS;
      if (now > deadline || stalled) {
        if (stalled) {
          ctx.log("no delivery for %d s after the last publish: ending the run", STALL_NANOS / 1_000_000_000L);
        }
        done.tryComplete();
      }
    });
    return done.future().compose(v -> {
      ctx.vertx.cancelTimer(pump);
      return answered(answered, sent, System.nanoTime() + 10_000_000_000L);
    }).map(v -> {
      RunContext.Meter end = RunContext.Meter.now(ctx.server);
      long last = counter.lastDeliveryNanos.get();
      JsonObject j = ctx.line()
        .put("warmup", warm)
        .put("channel", o.isSwitchboard() ? o.channel : "channel")
        .put("nodes", o.isSwitchboard() ? ctx.nodes.size() : 1)
        .put("subscribers", o.count)
        .put("subscribersOpen", open)
        .put("messages", m)
        .put("rate", o.rate)
        .put("window", o.rate > 0 ? null : o.window)
        .put("size", o.size);
      j.mergeIn(end.since(start, ctx.server, last > 0 ? last : end.nanos()));
      long delivered = counter.deliveries.get();
      double seconds = j.getDouble("seconds");
      j.put("deliveriesExpected", expected)
        .put("deliveries", delivered)
        .put("lost", expected - delivered)
        .put("duplicates", counter.duplicates.get())
        .put("disconnects", counter.disconnects.get() - disconnectsBefore)
        .put("publishErrors", publishErrors.get())
        .put("deliveriesPerSecond", Math.round(delivered / seconds))
        .put("latencyMs", counter.latencies().toJson());
      Double cpu = j.getDouble("serverCpuSeconds");
      j.put("cpuSecondsPer1M", cpu == null || delivered == 0 ? null : Latencies.round(cpu / delivered * 1e6));
      j.put("opens", subs.openJson());
      if (!counter.disconnectReasons.isEmpty()) {
        j.put("disconnectReasons", new JsonArray(new ArrayList<>(counter.disconnectReasons)));
      }
      return j;
    });
  }

  /** Waits (bounded) until every publish of the phase has its answer, so none is cut by what follows. */
  private Future<Void> answered(AtomicInteger answered, AtomicInteger sent, long until) {
    if (answered.get() >= sent.get() || System.nanoTime() > until) {
      return Future.succeededFuture();
    }
    return ctx.vertx.timer(20).compose(v -> answered(answered, sent, until));
  }

  static String summary(JsonObject j) {
    return String.format(java.util.Locale.ROOT, "%d/%d delivered (%d lost, %d duplicates) in %.2f s: %d/s, %s CPU-s/1M, p50 %.1f p99 %.1f max %.1f ms%s",
      j.getLong("deliveries"), j.getLong("deliveriesExpected"), j.getLong("lost"), j.getLong("duplicates"),
      j.getDouble("seconds"), j.getLong("deliveriesPerSecond"), j.getValue("cpuSecondsPer1M"),
      j.getJsonObject("latencyMs").getDouble("p50"), j.getJsonObject("latencyMs").getDouble("p99"),
      j.getJsonObject("latencyMs").getDouble("max"), j.getBoolean("clientBound") ? " (client-bound)" : "");
  }
}
