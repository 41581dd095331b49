package io.switchboard.bench;

import io.switchboard.store.Database;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code soak}: three node processes (one cluster, one PostgreSQL) under mixed traffic for
 * {@code --duration} seconds — durable sends fanned out to groups, typing, presence churn (clients
 * that close and come back on another node with their cursor), calls started and ended — while a
 * nemesis strikes every {@code --nemesis-every} seconds, in rotation: {@code kill -9} of a node
 * (then restarted), SIGSTOP of a node for 15 s (then SIGCONT), SIGTERM of a node (then
 * restarted), and a PostgreSQL restart. Every {@code --sample-every} seconds each node's heap after
 * a full GC, open file descriptors, threads, resident memory, the database pool's wait queue and
 * the event bus's pending count are recorded. At the end the delivery checker's verdict (every
 * acknowledged send delivered to every member's client exactly once and in {@code seq} order, or
 * after {@code resync_required}) and, per series, whether it stayed flat.
 *
 * <p>JSON lines: one {@code "record":"sample"} per node and sample, one {@code "record":"nemesis"}
 * per fault, and the summary (no {@code record}) last.
 */
final class SoakScenario {

  /** What the nodes run with on top of the bench's own settings: failures noticed within seconds. */
  static final Map<String, String> NODE_ENV = Map.of(
    "SWITCHBOARD_PRESENCE_NODETIMEOUTSECONDS", "10",
    "SWITCHBOARD_SSE_HEARTBEATSECONDS", "2",
    "SWITCHBOARD_WS_PINGSECONDS", "2",
    "SWITCHBOARD_SHUTDOWN_DRAINSECONDS", "5");

  /** A stream silent this long (heartbeats every 2 s) is given up and resumed elsewhere. */
  private static final long SILENT_NANOS = TimeUnit.SECONDS.toNanos(8);
  private static final long FREEZE_MS = 15_000;
  private static final long DB_DOWN_MS = 5_000;
  private static final long HEAL_BOUND_NANOS = TimeUnit.SECONDS.toNanos(240);
  private static final long RETRY_FOR_NANOS = TimeUnit.SECONDS.toNanos(90);

  enum Nemesis { KILL, STOP, TERM, PG_RESTART }

  private final RunContext ctx;
  private final BenchOptions o;
  private final NodeProcesses nodes;
  private final OwnPostgres pg;
  private final int k;
  /** When the traffic started: the run's clock (samples' {@code t}, nemesis times, the duration). */
  private volatile long startNanos = System.nanoTime();
  private volatile boolean running = true;
  private final boolean[] frozen;
  private final boolean[] down;

  // traffic and checker state
  private final List<Subscriber> subs = new ArrayList<>();
  private Client[] clients;
  private List<List<Integer>> convsOf;
  private String[] convIds;
  private final Map<String, Integer> convIndex = new ConcurrentHashMap<>();
  private final List<Set<Long>> acked = new ArrayList<>();
  private final Set<Integer> churning = ConcurrentHashMap.newKeySet();
  private final AtomicLong sends = new AtomicLong();
  private final AtomicLong ackedCount = new AtomicLong();
  private final AtomicLong sendRetries = new AtomicLong();
  private final AtomicLong neverAcked = new AtomicLong();
  private final AtomicLong sendsInFlight = new AtomicLong();
  private final AtomicLong lastAckNanos = new AtomicLong();
  /** The longest time without any acknowledged send since the current fault began. */
  private final AtomicLong longestAckGapNanos = new AtomicLong();
  private final AtomicLong typings = new AtomicLong();
  private final AtomicLong typingErrors = new AtomicLong();
  private final AtomicLong callsStarted = new AtomicLong();
  private final AtomicLong callsEnded = new AtomicLong();
  private final AtomicLong callErrors = new AtomicLong();
  private final AtomicLong churns = new AtomicLong();
  private final AtomicLong reconnects = new AtomicLong();
  private final AtomicLong silentDrops = new AtomicLong();
  private final AtomicLong presenceEvents = new AtomicLong();
  private final AtomicLong callEvents = new AtomicLong();
  private final AtomicLong recoveredOverRest = new AtomicLong();
  private final List<JsonObject> samples = new ArrayList<>();
  private final List<JsonObject> nemeses = new ArrayList<>();

  /** What one client received, per conversation index; touched under its own lock. */
  private static final class Client {
    final Map<Integer, BitSet> seqs = new HashMap<>();
    /** Seqs reloaded over REST after {@code resync_required}. */
    final Map<Integer, BitSet> reloaded = new HashMap<>();
    final Map<Integer, Long> last = new HashMap<>();
    long duplicates;
    long reordered;
    long resyncs;
    long received;
  }

  private SoakScenario(RunContext ctx, NodeProcesses nodes, OwnPostgres pg) {
    this.ctx = ctx;
    this.o = ctx.o;
    this.nodes = nodes;
    this.pg = pg;
    this.k = nodes.urls().size();
    this.frozen = new boolean[k];
    this.down = new boolean[k];
  }

  static Future<Void> run(RunContext ctx) {
    BenchOptions o = ctx.o;
    if (o.jwtSecret == null) {
      // The nodes are the bench's own: they trust tokens it signs.
      o.jwtSecret = "soak-" + UUID.randomUUID() + "-" + UUID.randomUUID();
    }
    Future<OwnPostgres> db = o.dbUrl != null ? Future.succeededFuture(null)
      : ctx.blocking(OwnPostgres::start).onSuccess(p -> ctx.log("own PostgreSQL on port %d (data in %s)", p.port, p.dir));
    return db.compose(pg -> {
      Map<String, String> env = new HashMap<>(NODE_ENV);
      if (pg != null) {
        env.put("SWITCHBOARD_DB_URL", pg.url());
      }
      return NodeProcesses.start(ctx, o.spawn, env).compose(nodes -> {
        ctx.nodes = nodes.urls();
        ctx.server = new ProcStats(nodes.pids(), List.of());
        return new SoakScenario(ctx, nodes, pg).go().eventually(nodes::stop);
      }).eventually(() -> pg == null ? Future.succeededFuture() : ctx.blocking(() -> {
        pg.close();
        return null;
      }));
    });
  }

  private double elapsed() {
    return Latencies.round((System.nanoTime() - startNanos) / 1e9);
  }

  // ---- setup ----------------------------------------------------------------------------------

  private Future<Void> go() {
    int n = o.count;
    int groupsN = o.conversations;
    int perClient = Math.min(o.perClient, groupsN);
    URI first = ctx.nodes.get(0);
    SbApi api = new SbApi(ctx.clients, first);
    Tokens tokenSource = new Tokens(ctx.clients, first, o.jwtSecret);
    List<String> users = Tokens.names("soak-" + ctx.runId + "-c", n);
    List<String> senders = Tokens.names("soak-" + ctx.runId + "-s", o.senders);
    List<List<Integer>> members = new ArrayList<>();
    for (int g = 0; g < groupsN; g++) {
      members.add(new ArrayList<>());
      acked.add(ConcurrentHashMap.newKeySet());
    }
    convsOf = new ArrayList<>();
    clients = new Client[n];
    for (int i = 0; i < n; i++) {
      clients[i] = new Client();
      List<Integer> mine = new ArrayList<>();
      for (int r = 0; r < perClient; r++) {
        int g = Math.floorMod(i * perClient + r, groupsN);
        if (!mine.contains(g)) {
          mine.add(g);
          members.get(g).add(i);
        }
      }
      convsOf.add(mine);
    }
    convIds = new String[groupsN];
    ctx.log("%d clients (SSE and WebSocket) on %d nodes, %d senders at %d sends/s in all, %d groups, %d s, a nemesis every %d s",
      n, k, senders.size(), o.rate, groupsN, o.durationSeconds, o.nemesisEverySeconds);
    List<String> senderTokens = new ArrayList<>();
    return tokenSource.tokens(senders).compose(st -> {
      senderTokens.addAll(st);
      return tokenSource.tokens(users);
    }).compose(toks -> Parallel.forEach(groupsN, 4, g -> {
      List<String> participants = new ArrayList<>(senders.subList(1, senders.size()));
      members.get(g).forEach(i -> participants.add(users.get(i)));
      return api.createGroup(senderTokens.get(0), "soak " + ctx.runId + " " + g, participants).map(c -> {
        convIds[g] = c.getString("id");
        convIndex.put(convIds[g], g);
        return null;
      });
    }).map(toks)).compose(toks -> openClients(users, toks)).compose(open -> {
      ctx.log("%d of %d clients open; traffic starts", open, n);
      return traffic(users, senderTokens, members);
    });
  }

  private Future<Integer> openClients(List<String> users, List<String> tokens) {
    int n = users.size();
    Subscriber.Listener listener = new Subscriber.Listener() {
      @Override
      public void event(Subscriber s, JsonObject env) {
        onEvent(s, env);
      }

      @Override
      public void closed(Subscriber s, String reason) {
        reconnects.incrementAndGet();
        resume(s);
      }
    };
    // Even clients over SSE, odd ones over WebSocket; client i starts on node i % k.
    SubscriberSet sse = new SubscriberSet(ctx.clients, Transport.SSE, n, listener, users, tokens, null,
      i -> ctx.nodes.get(i % k), true, true);
    SubscriberSet ws = new SubscriberSet(ctx.clients, Transport.WS, n, listener, users, tokens, null,
      i -> ctx.nodes.get(i % k), true, true);
    for (int i = 0; i < n; i++) {
      subs.add((i % 2 == 0 ? sse : ws).all.get(i));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(o.timeoutSeconds);
    return Parallel.forEach(n, o.openConcurrency, i -> subs.get(i).open(deadline).otherwise(t -> null))
      .map(v -> (int) subs.stream().filter(s -> s.live).count());
  }

  /** Resumes a client on the next node with its cursor, retrying until it is open or the run is over. */
  private void resume(Subscriber s) {
    if (!running && !converging) {
      return;
    }
    // Another node each time; a node that does not take the client within a few seconds is passed over.
    int at = ctx.nodes.indexOf(s.uri);
    s.uri = ctx.nodes.get((at + 1) % k);
    s.open(System.nanoTime() + TimeUnit.SECONDS.toNanos(8)).onFailure(t -> {
      if (!s.closing) {
        ctx.vertx.setTimer(200, id -> resume(s));
      }
    });
  }

  private volatile boolean converging;

  private void onEvent(Subscriber s, JsonObject env) {
    Client c = clients[s.index];
    String type = Subscriber.type(env);
    if (type == null) {
      return;
    }
    switch (type) {
      case "resync_required" -> {
        synchronized (c) {
          c.resyncs++;
        }
        reload(s.index, s.token);
      }
      case "message_received" -> {
        JsonObject p = env.getJsonObject("payload");
        Integer g = p == null ? null : convIndex.get(p.getString("conversationId", ""));
        if (g == null || !(p.getValue("seq") instanceof Number seqNumber)) {
          return;
        }
        int seq = (int) seqNumber.longValue();
        synchronized (c) {
          c.received++;
          BitSet bits = c.seqs.computeIfAbsent(g, x -> new BitSet());
          if (bits.get(seq)) {
            c.duplicates++;
            return;
          }
          bits.set(seq);
          Long last = c.last.get(g);
          if (last != null && seq < last) {
            c.reordered++;
          } else {
            c.last.put(g, (long) seq);
          }
        }
      }
      case "user_online", "user_offline" -> presenceEvents.incrementAndGet();
      default -> {
        if (type.startsWith("call_")) {
          callEvents.incrementAndGet();
        }
      }
    }
  }

  /** After {@code resync_required}: reloads the history of the client's conversations over REST, as a client must. */
  private void reload(int i, String token) {
    for (int g : convsOf.get(i)) {
      long after;
      synchronized (clients[i]) {
        after = clients[i].last.getOrDefault(g, 0L);
      }
      reloadPage(i, token, g, after, 0);
    }
  }

  private void reloadPage(int i, String token, int g, long after, int attempt) {
    URI node = ctx.nodes.get((i + attempt) % k);
    ctx.clients.rest.get(Tokens.port(node), node.getHost(), "/api/conversations/" + convIds[g] + "/messages")
      .addQueryParam("after", String.valueOf(after)).addQueryParam("limit", "100")
      .bearerTokenAuthentication(token).timeout(10_000).send()
      .onComplete(ar -> {
        if (ar.failed() || ar.result().statusCode() != 200) {
          if (attempt < 30 && (running || converging)) {
            ctx.vertx.setTimer(1000, id -> reloadPage(i, token, g, after, attempt + 1));
          }
          return;
        }
        JsonObject body = ar.result().bodyAsJsonObject();
        JsonArray items = body.getJsonArray("messages", body.getJsonArray("items", new JsonArray()));
        long max = after;
        Client c = clients[i];
        synchronized (c) {
          BitSet bits = c.reloaded.computeIfAbsent(g, x -> new BitSet());
          for (Object o1 : items) {
            if (o1 instanceof JsonObject m && m.getValue("seq") instanceof Number seq) {
              bits.set(seq.intValue());
              max = Math.max(max, seq.longValue());
              recoveredOverRest.incrementAndGet();
            }
          }
        }
        if (items.size() >= 100) {
          reloadPage(i, token, g, max, 0);
        }
      });
  }

  // ---- traffic --------------------------------------------------------------------------------

  private Future<Void> traffic(List<String> users, List<String> senderTokens, List<List<Integer>> members) {
    startNanos = System.nanoTime();
    List<Long> timers = new ArrayList<>();
    // Senders: one send in flight each, together about --rate sends per second.
    long period = Math.max(1, 1000L * senderTokens.size() / Math.max(1, o.rate));
    for (int j = 0; j < senderTokens.size(); j++) {
      int sender = j;
      boolean[] busy = {false};
      AtomicLong count = new AtomicLong();
      timers.add(ctx.vertx.setPeriodic(period + ThreadLocalRandom.current().nextLong(Math.max(1, period / 4)), id -> {
        if (!running || busy[0]) {
          return;
        }
        busy[0] = true;
        int g = ThreadLocalRandom.current().nextInt(convIds.length);
        String cmid = ctx.runId + "-s" + sender + "-" + count.getAndIncrement();
        sends.incrementAndGet();
        sendsInFlight.incrementAndGet();
        send(senderTokens.get(sender), g, cmid, sender % k, System.nanoTime()).onComplete(ar -> {
          busy[0] = false;
          sendsInFlight.decrementAndGet();
        });
      }));
    }
    // Typing: a few clients a second start typing in one of their conversations.
    timers.add(ctx.vertx.setPeriodic(250, id -> {
      if (!running) {
        return;
      }
      int i = ThreadLocalRandom.current().nextInt(users.size());
      int g = convsOf.get(i).get(0);
      URI node = ctx.nodes.get(ThreadLocalRandom.current().nextInt(k));
      ctx.clients.rest.post(Tokens.port(node), node.getHost(), "/api/conversations/" + convIds[g] + "/typing")
        .bearerTokenAuthentication(subs.get(i).token).timeout(10_000)
        .sendJsonObject(new JsonObject().put("state", "start"))
        .onComplete(ar -> {
          typings.incrementAndGet();
          if (ar.failed() || ar.result().statusCode() >= 300) {
            typingErrors.incrementAndGet();
          }
        });
    }));
    // Presence churn: a client closes, and comes back a second later on another node with its cursor.
    timers.add(ctx.vertx.setPeriodic(2000, id -> {
      if (!running) {
        return;
      }
      int i = ThreadLocalRandom.current().nextInt(users.size());
      Subscriber s = subs.get(i);
      if (!s.live || !churning.add(i)) {
        return;
      }
      churns.incrementAndGet();
      s.close();
      ctx.vertx.setTimer(1000, t -> {
        churning.remove(i);
        if (running || converging) {
          s.closing = false;
          s.live = false;
          resumeAfterChurn(s);
        }
      });
    }));
    // Calls: now and then a sender calls a member of a group, and hangs up a few seconds later.
    timers.add(ctx.vertx.setPeriodic(20_000, id -> {
      if (running) {
        call(senderTokens, members);
      }
    }));
    // A careful client gives a silent stream up (heartbeats come every 2 s) and resumes elsewhere.
    timers.add(ctx.vertx.setPeriodic(1000, id -> {
      long now = System.nanoTime();
      for (Subscriber s : subs) {
        if (s.live && !s.closing && now - s.heardNanos > SILENT_NANOS) {
          silentDrops.incrementAndGet();
          s.heardNanos = now;
          s.drop();
        }
      }
    }));
    Sampler sampler = new Sampler();
    sampler.start();
    long endNanos = startNanos + TimeUnit.SECONDS.toNanos(o.durationSeconds);
    return nemesisLoop(0, endNanos).compose(v -> {
      running = false;
      converging = true;
      ctx.log("%.0f s: traffic stops; waiting for sends in flight and for every client to hold every acknowledged message",
        elapsed());
      return converge(System.nanoTime() + TimeUnit.SECONDS.toNanos(120));
    }).compose(v -> sampler.stop()).map(v -> {
      timers.forEach(ctx.vertx::cancelTimer);
      converging = false;
      summary(sampler);
      return (Void) null;
    }).eventually(() -> {
      running = false;
      converging = false;
      timers.forEach(ctx.vertx::cancelTimer);
      subs.forEach(Subscriber::close);
      return Future.succeededFuture();
    });
  }

  private void resumeAfterChurn(Subscriber s) {
    int at = ctx.nodes.indexOf(s.uri);
    s.uri = ctx.nodes.get((at + 1) % k);
    s.open(System.nanoTime() + TimeUnit.SECONDS.toNanos(8)).onFailure(t -> {
      if (!s.closing) {
        ctx.vertx.setTimer(200, id -> resumeAfterChurn(s));
      }
    });
  }

  /** One acknowledged send, retried with the same {@code clientMessageId} on the next node until acknowledged. */
  private Future<Void> send(String token, int g, String cmid, int node, long firstNanos) {
    URI u = ctx.nodes.get(node);
    Promise<Void> done = Promise.promise();
    ctx.clients.rest.post(Tokens.port(u), u.getHost(), "/api/conversations/" + convIds[g] + "/messages")
      .bearerTokenAuthentication(token).timeout(10_000)
      .sendJsonObject(new JsonObject().put("content", "soak " + cmid).put("clientMessageId", cmid))
      .onComplete(ar -> {
        HttpResponse<Buffer> r = ar.succeeded() ? ar.result() : null;
        if (r != null && (r.statusCode() == 201 || r.statusCode() == 200)) {
          JsonObject m = r.bodyAsJsonObject();
          acked.get(g).add(m.getLong("seq"));
          ackedCount.incrementAndGet();
          long now = System.nanoTime();
          long previous = lastAckNanos.getAndSet(now);
          longestAckGapNanos.accumulateAndGet(now - previous, Math::max);
          done.complete();
          return;
        }
        boolean fatal = r != null && r.statusCode() >= 400 && r.statusCode() < 500 && r.statusCode() != 429
          && r.statusCode() != 408;
        if (fatal || System.nanoTime() - firstNanos > RETRY_FOR_NANOS) {
          neverAcked.incrementAndGet();
          if (neverAcked.get() <= 5) {
            ctx.log("a send was never acknowledged: %s", r == null ? ar.cause().getMessage()
              : r.statusCode() + " " + r.bodyAsString());
          }
          done.complete();
          return;
        }
        sendRetries.incrementAndGet();
        long delay = r != null && r.statusCode() == 429 ? Subscriber.retryAfter(r.getHeader("Retry-After"), 1000) : 500;
        ctx.vertx.setTimer(delay, id -> send(token, g, cmid, (node + 1) % k, firstNanos).onComplete(done));
      });
    return done.future();
  }

  private void call(List<String> senderTokens, List<List<Integer>> members) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int g = rnd.nextInt(convIds.length);
    if (members.get(g).isEmpty()) {
      return;
    }
    int callee = members.get(g).get(rnd.nextInt(members.get(g).size()));
    String token = senderTokens.get(rnd.nextInt(senderTokens.size()));
    URI u = ctx.nodes.get(rnd.nextInt(k));
    ctx.clients.rest.post(Tokens.port(u), u.getHost(), "/api/calls/offer").bearerTokenAuthentication(token).timeout(10_000)
      .sendJsonObject(new JsonObject().put("conversationId", convIds[g]).put("calleeId", subs.get(callee).userId)
        .put("sdp", "v=0 soak").put("media", "audio"))
      .onComplete(ar -> {
        if (ar.failed() || ar.result().statusCode() >= 300) {
          callErrors.incrementAndGet();
          return;
        }
        callsStarted.incrementAndGet();
        String callId = ar.result().bodyAsJsonObject().getString("callId");
        ctx.vertx.setTimer(3000 + rnd.nextInt(3000), id -> {
          URI v = ctx.nodes.get(ThreadLocalRandom.current().nextInt(k));
          ctx.clients.rest.post(Tokens.port(v), v.getHost(), "/api/calls/end").bearerTokenAuthentication(token)
            .timeout(10_000).sendJsonObject(new JsonObject().put("callId", callId))
            .onComplete(e -> {
              if (e.succeeded() && e.result().statusCode() < 300) {
                callsEnded.incrementAndGet();
              } else {
                callErrors.incrementAndGet();
              }
            });
        });
      });
  }

  // ---- the nemesis ----------------------------------------------------------------------------

  private Future<Void> nemesisLoop(int round, long endNanos) {
    long next = startNanos + TimeUnit.SECONDS.toNanos((long) o.nemesisEverySeconds * (round + 1));
    if (o.nemesisEverySeconds <= 0 || next >= endNanos || System.nanoTime() >= endNanos) {
      return ctx.vertx.timer(Math.max(1, (endNanos - System.nanoTime()) / 1_000_000)).mapEmpty();
    }
    long wait = Math.max(1, (next - System.nanoTime()) / 1_000_000);
    return ctx.vertx.timer(wait).compose(v -> strike(round)).compose(v -> nemesisLoop(round + 1, endNanos));
  }

  private Future<Void> strike(int round) {
    Nemesis kind = Nemesis.values()[round % Nemesis.values().length];
    int victim = round % k;
    JsonObject e = ctx.line().put("record", "nemesis").put("transport", "sse+ws").put("round", round)
      .put("kind", kind.name().toLowerCase(java.util.Locale.ROOT)).put("t", elapsed());
    long t0 = System.nanoTime();
    long acksBefore = ackedCount.get();
    lastAckNanos.accumulateAndGet(t0, Math::max);
    longestAckGapNanos.set(0);
    Future<Void> fault;
    switch (kind) {
      case KILL -> {
        e.put("node", victim).put("pid", nodes.process(victim).pid());
        ctx.log("%.0f s: nemesis %d: kill -9 of node %d (pid %d)", elapsed(), round, victim, nodes.process(victim).pid());
        down[victim] = true;
        nodes.kill(victim);
        fault = exited(victim, 30).compose(v -> ctx.vertx.timer(2000)).compose(v -> restart(victim, e))
          .eventually(() -> {
            down[victim] = false;
            return Future.succeededFuture();
          });
      }
      case TERM -> {
        e.put("node", victim).put("pid", nodes.process(victim).pid());
        ctx.log("%.0f s: nemesis %d: SIGTERM of node %d (pid %d)", elapsed(), round, victim, nodes.process(victim).pid());
        down[victim] = true;
        nodes.term(victim);
        fault = exited(victim, 60).recover(t -> {
          ctx.log("node %d did not exit 60 s after SIGTERM: kill -9", victim);
          e.put("termTimedOut", true);
          nodes.kill(victim);
          return exited(victim, 30);
        }).compose(v -> {
          e.put("secondsToExit", Latencies.round((System.nanoTime() - t0) / 1e9));
          return restart(victim, e);
        }).eventually(() -> {
          down[victim] = false;
          return Future.succeededFuture();
        });
      }
      case STOP -> {
        e.put("node", victim).put("pid", nodes.process(victim).pid()).put("frozenSeconds", FREEZE_MS / 1000);
        ctx.log("%.0f s: nemesis %d: SIGSTOP of node %d (pid %d) for %d s", elapsed(), round, victim,
          nodes.process(victim).pid(), FREEZE_MS / 1000);
        frozen[victim] = true;
        fault = ctx.blocking(() -> {
          nodes.freeze(victim, true);
          return null;
        }).compose(v -> ctx.vertx.timer(FREEZE_MS)).compose(v -> ctx.blocking(() -> {
          nodes.freeze(victim, false);
          return null;
        })).eventually(() -> {
          frozen[victim] = false;
          return Future.succeededFuture();
        }).mapEmpty();
      }
      default -> {
        if (pg == null) {
          ctx.log("%.0f s: nemesis %d: PostgreSQL restart skipped: the database is external (--db-url), the bench cannot restart it",
            elapsed(), round);
          e.put("skipped", "external database (--db-url)");
          nemeses.add(e);
          ctx.out.accept(e);
          return Future.succeededFuture();
        }
        ctx.log("%.0f s: nemesis %d: PostgreSQL stopped for %d s, then started again", elapsed(), round, DB_DOWN_MS / 1000);
        fault = ctx.blocking(() -> {
          pg.stop();
          return null;
        }).compose(v -> ctx.vertx.timer(DB_DOWN_MS)).compose(v -> ctx.blocking(() -> {
          pg.restart();
          return null;
        })).mapEmpty();
      }
    }
    return fault.transform(ar -> {
      if (ar.failed()) {
        e.put("faultError", String.valueOf(ar.cause().getMessage()));
        ctx.log("nemesis %d: %s", round, ar.cause().getMessage());
      }
      long back = System.nanoTime();
      e.put("secondsFaulty", Latencies.round((back - t0) / 1e9));
      return healed(t0 + HEAL_BOUND_NANOS).map(h -> {
        long healedAt = System.nanoTime();
        e.put("healed", h).put("secondsToHeal", Latencies.round((healedAt - t0) / 1e9));
        return (Void) null;
      });
    }).compose(v -> resumed(t0 + HEAL_BOUND_NANOS)).compose(r -> {
      long now = System.nanoTime();
      e.put("clientsResumed", r).put("secondsToResume", Latencies.round((now - t0) / 1e9));
      return sendsFlow(acksBefore, now + TimeUnit.SECONDS.toNanos(60));
    }).map(flowing -> {
      long gap = Math.max(longestAckGapNanos.get(), System.nanoTime() - lastAckNanos.get());
      e.put("sendsFlowing", flowing).put("longestSecondsWithoutAck", Latencies.round(gap / 1e9))
        .put("acknowledgedDuring", ackedCount.get() - acksBefore);
      ctx.log("%.0f s: nemesis %d (%s) over: cluster whole after %s s, every client open after %s s, longest time without an acknowledged send %s s",
        elapsed(), round, e.getString("kind"), e.getValue("secondsToHeal"), e.getValue("secondsToResume"),
        e.getValue("longestSecondsWithoutAck"));
      nemeses.add(e);
      ctx.out.accept(e);
      return (Void) null;
    });
  }

  /** Restarts a node, once more if its first start fails (as a supervisor would). */
  private Future<Void> restart(int i, JsonObject e) {
    return nodes.restart(i, k).recover(t -> {
      ctx.log("node %d did not come back (%s): starting it once more", i, t.getMessage());
      e.put("restartRetried", true);
      if (nodes.process(i).isAlive()) {
        nodes.kill(i);
      }
      return exited(i, 30).compose(v -> nodes.restart(i, k));
    });
  }

  private Future<Void> exited(int i, int seconds) {
    Process p = nodes.process(i);
    return ctx.blocking(() -> {
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        throw new IllegalStateException("node " + i + " still running after " + seconds + " s");
      }
      return null;
    });
  }

  /** Every node serving in a cluster of all of them. */
  private Future<Boolean> healed(long deadline) {
    List<Future<Boolean>> all = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      all.add(nodes.healthy(i, k));
    }
    return Future.join(all).transform(ar -> {
      boolean ok = all.stream().allMatch(f -> f.succeeded() && f.result());
      if (ok) {
        return Future.succeededFuture(true);
      }
      if (System.nanoTime() > deadline) {
        return Future.succeededFuture(false);
      }
      return ctx.vertx.timer(250).compose(v -> healed(deadline));
    });
  }

  /** Every client open again (or in its churn pause); the number open when it is so or at the deadline. */
  private Future<Long> resumed(long deadline) {
    // A client in its churn pause counts as resumed: the bench closed it, not the fault.
    long open = subs.stream().filter(s -> s.live).count() + churning.size();
    if (open >= subs.size() || System.nanoTime() > deadline) {
      return Future.succeededFuture(Math.min(open, subs.size()));
    }
    return ctx.vertx.timer(250).compose(v -> resumed(deadline));
  }

  /** Sends acknowledged again after the fault (one acknowledgement after {@code since}). */
  private Future<Boolean> sendsFlow(long acksBefore, long deadline) {
    long mark = ackedCount.get();
    return waitAck(mark, deadline);
  }

  private Future<Boolean> waitAck(long mark, long deadline) {
    if (ackedCount.get() > mark) {
      return Future.succeededFuture(true);
    }
    if (System.nanoTime() > deadline || !running) {
      return Future.succeededFuture(false);
    }
    return ctx.vertx.timer(100).compose(v -> waitAck(mark, deadline));
  }

  // ---- the end --------------------------------------------------------------------------------

  private long missing(int i) {
    long missing = 0;
    Client c = clients[i];
    synchronized (c) {
      for (int g : convsOf.get(i)) {
        BitSet got = c.seqs.get(g);
        BitSet re = c.reloaded.get(g);
        for (long seq : acked.get(g)) {
          if ((got == null || !got.get((int) seq)) && (re == null || !re.get((int) seq))) {
            missing++;
          }
        }
      }
    }
    return missing;
  }

  private Future<Void> converge(long deadline) {
    Promise<Void> done = Promise.promise();
    ctx.vertx.setPeriodic(1000, id -> {
      boolean all = sendsInFlight.get() == 0;
      for (int i = 0; all && i < clients.length; i++) {
        all = missing(i) == 0;
      }
      if (all || System.nanoTime() > deadline) {
        ctx.vertx.cancelTimer(id);
        done.tryComplete();
      }
    });
    return done.future();
  }

  /** The machine's load average over the samples: min, median, max. */
  private JsonObject loadSummary() {
    double[] v;
    synchronized (samples) {
      v = samples.stream().mapToDouble(x -> x.getDouble("loadAverage", -1.0)).filter(x -> x >= 0).sorted().toArray();
    }
    return v.length == 0 ? new JsonObject()
      : new JsonObject().put("min", v[0]).put("median", v[v.length / 2]).put("max", v[v.length - 1]);
  }

  private void summary(Sampler sampler) {
    long lost = 0;
    long dup = 0;
    long reordered = 0;
    long resyncs = 0;
    long received = 0;
    long clientsMissing = 0;
    long deliveriesExpected = 0;
    long[] dupByTransport = new long[2];
    long[] lostByTransport = new long[2];
    for (int i = 0; i < clients.length; i++) {
      long m = missing(i);
      lost += m;
      lostByTransport[i % 2] += m;
      clientsMissing += m > 0 ? 1 : 0;
      for (int g : convsOf.get(i)) {
        deliveriesExpected += acked.get(g).size();
      }
      synchronized (clients[i]) {
        dup += clients[i].duplicates;
        dupByTransport[i % 2] += clients[i].duplicates;
        reordered += clients[i].reordered;
        resyncs += clients[i].resyncs;
        received += clients[i].received;
      }
    }
    boolean clean = lost == 0 && dup == 0 && reordered == 0 && neverAcked.get() == 0;
    JsonObject series;
    synchronized (samples) {
      series = Flatness.judge(samples, k);
    }
    boolean flat = series.getBoolean("allFlat", false);
    long healedAll = nemeses.stream().filter(e -> e.getBoolean("healed", e.containsKey("skipped"))).count();
    JsonObject j = ctx.line().put("transport", "sse+ws").put("nodes", k).put("clients", clients.length)
      .put("senders", o.senders).put("groups", convIds.length).put("durationSeconds", o.durationSeconds)
      .put("nemesisEverySeconds", o.nemesisEverySeconds).put("seconds", elapsed())
      .put("sends", sends.get()).put("acknowledged", ackedCount.get()).put("sendRetries", sendRetries.get())
      .put("neverAcknowledged", neverAcked.get())
      .put("deliveriesExpected", deliveriesExpected).put("deliveriesReceived", received)
      .put("lost", lost).put("clientsMissingMessages", clientsMissing).put("duplicates", dup).put("reordered", reordered)
      .put("resyncs", resyncs).put("recoveredOverRest", recoveredOverRest.get())
      .put("byTransport", new JsonObject()
        .put("sse", new JsonObject().put("lost", lostByTransport[0]).put("duplicates", dupByTransport[0]))
        .put("ws", new JsonObject().put("lost", lostByTransport[1]).put("duplicates", dupByTransport[1])))
      .put("checker", clean ? "clean" : "VIOLATIONS")
      .put("typing", typings.get()).put("typingErrors", typingErrors.get())
      .put("callsStarted", callsStarted.get()).put("callsEnded", callsEnded.get()).put("callErrors", callErrors.get())
      .put("callEvents", callEvents.get()).put("presenceEvents", presenceEvents.get())
      .put("churns", churns.get()).put("reconnects", reconnects.get()).put("silentDrops", silentDrops.get())
      .put("nemeses", nemeses.size()).put("nemesesHealed", healedAll)
      .put("nemesisEvents", new JsonArray(new ArrayList<>(nemeses)))
      .put("samplesSkipped", sampler.skipped.get())
      .put("loadAverage", loadSummary())
      .put("series", series).put("allFlat", flat);
    ctx.log("%d sends, %d acknowledged (%d retries, %d never acknowledged); %d deliveries expected: lost %d, duplicates %d, reordered %d, resync_required %d -> checker %s",
      sends.get(), ackedCount.get(), sendRetries.get(), neverAcked.get(), deliveriesExpected, lost, dup, reordered, resyncs,
      j.getString("checker"));
    ctx.log("%d nemeses, %d healed; typing %d, calls %d/%d, churns %d, reconnects %d, silent streams dropped %d",
      nemeses.size(), healedAll, typings.get(), callsStarted.get(), callsEnded.get(), churns.get(), reconnects.get(),
      silentDrops.get());
    for (String name : Flatness.SERIES) {
      JsonObject s = series.getJsonObject(name);
      ctx.log("%-16s %s", name, s == null ? "no samples" : s.getString("text"));
    }
    ctx.out.accept(j);
  }

  // ---- the sampler ----------------------------------------------------------------------------

  /** Every {@code --sample-every} seconds, per node: heap after a full GC, fds, threads, RSS, pool wait queue, event-bus pending. */
  final class Sampler {
    private long timer = -1;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** A node whose previous sample is still being taken (jcmd is slow on a starved machine) is skipped. */
    private final Set<Integer> busy = ConcurrentHashMap.newKeySet();
    private final AtomicLong skipped = new AtomicLong();

    void start() {
      sample();
      timer = ctx.vertx.setPeriodic(o.sampleEverySeconds * 1000L, id -> sample());
    }

    Future<Void> stop() {
      ctx.vertx.cancelTimer(timer);
      sample();
      return waitIdle(System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
    }

    private Future<Void> waitIdle(long deadline) {
      if (inFlight.get() == 0 || System.nanoTime() > deadline) {
        return Future.succeededFuture();
      }
      return ctx.vertx.timer(100).compose(v -> waitIdle(deadline));
    }

    private void sample() {
      double t = elapsed();
      long live = subs.stream().filter(s -> s.live).count();
      for (int i = 0; i < k; i++) {
        if (frozen[i] || down[i] || !nodes.process(i).isAlive()) {
          continue;
        }
        int node = i;
        if (!busy.add(node)) {
          skipped.incrementAndGet();
          continue;
        }
        long pid = nodes.process(i).pid();
        URI u = ctx.nodes.get(i);
        inFlight.incrementAndGet();
        ctx.blocking(() -> {
          JsonObject s = ctx.line().put("record", "sample").put("transport", "sse+ws").put("t", t).put("node", node)
            .put("pid", pid).put("clientsLive", live);
          s.put("fds", fds(pid)).put("threads", threads(pid)).put("rssBytes", ProcStats.rssBytes(pid))
            .put("loadAverage", loadAverage());
          try {
            jcmd(pid, "GC.run");
            s.put("gcRun", true);
          } catch (RuntimeException e) {
            s.put("gcRun", false);
          }
          return s;
        }).compose(s -> ctx.clients.rest.get(Tokens.port(u), u.getHost(), "/metrics").timeout(5000).send().map(r -> {
          if (r.statusCode() == 200) {
            String text = r.bodyAsString();
            if (s.getBoolean("gcRun")) {
              s.put("heapAfterGcBytes", (long) Prom.sum(text, "jvm_memory_used_bytes", "area=\"heap\""));
            }
            s.put("poolWaitQueue", (long) Prom.sum(text, "vertx_pool_queue_pending", "pool_type=\"sql\""));
            s.put("eventBusPending", (long) Prom.sum(text, "vertx_eventbus_pending", null));
          }
          return s;
        }).otherwise(s)).onComplete(ar -> {
          busy.remove(node);
          inFlight.decrementAndGet();
          if (ar.succeeded() && ar.result().getLong("fds", -1L) >= 0) {
            synchronized (samples) {
              samples.add(ar.result());
            }
            ctx.out.accept(ar.result());
          }
        });
      }
    }
  }

  /** The machine's 1-minute load average (the soak shares the cores with whatever else runs). */
  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  static long fds(long pid) {
    try (var list = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
      return list.count();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  static long threads(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith("Threads:")) {
          return Long.parseLong(line.substring(8).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return -1;
  }

  private static void jcmd(long pid, String command) {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    String exe = Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd";
    try {
      Process p = new ProcessBuilder(exe, String.valueOf(pid), command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("jcmd " + command + " timed out");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException("jcmd " + command + " failed");
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Sums of Prometheus text samples. */
  static final class Prom {
    private Prom() {
    }

    /** The sum of every sample of {@code name} whose labels contain {@code labelPart} (null: all). */
    static double sum(String text, String name, String labelPart) {
      double sum = 0;
      for (String line : text.split("\n")) {
        if (!line.startsWith(name) || line.length() <= name.length()) {
          continue;
        }
        char next = line.charAt(name.length());
        if (next != '{' && next != ' ') {
          continue;
        }
        int close = line.lastIndexOf('}');
        String labels = close < 0 ? "" : line.substring(name.length(), close + 1);
        if (labelPart != null && !labels.contains(labelPart)) {
          continue;
        }
        String value = line.substring(Math.max(close + 1, name.length())).trim().split("\\s+")[0];
        try {
          sum += Double.parseDouble(value);
        } catch (NumberFormatException e) {
          // not a sample line
        }
      }
      return sum;
    }
  }

  /**
   * Whether each series stayed flat: per node, the median of the last quarter of the run against
   * the median of the second quarter (the first is warm-up), within a bound per series.
   */
  static final class Flatness {
    static final List<String> SERIES = List.of("heapAfterGcBytes", "fds", "threads", "rssBytes", "poolWaitQueue",
      "eventBusPending");

    private Flatness() {
    }

    /** Relative and absolute slack per series: growth beyond both is "growing". */
    static double[] bound(String series) {
      return switch (series) {
        case "heapAfterGcBytes" -> new double[] {0.25, 16 << 20};
        case "rssBytes" -> new double[] {0.25, 64 << 20};
        case "fds" -> new double[] {0.10, 16};
        case "threads" -> new double[] {0.10, 8};
        case "poolWaitQueue" -> new double[] {0, 4};
        default -> new double[] {0.5, 100};
      };
    }

    static JsonObject judge(List<JsonObject> samples, int nodes) {
      JsonObject out = new JsonObject();
      boolean allFlat = !samples.isEmpty();
      double end = samples.stream().mapToDouble(s -> s.getDouble("t")).max().orElse(0);
      for (String name : SERIES) {
        JsonArray perNode = new JsonArray();
        boolean flat = true;
        List<String> text = new ArrayList<>();
        for (int n = 0; n < nodes; n++) {
          List<double[]> points = new ArrayList<>();
          for (JsonObject s : samples) {
            if (s.getInteger("node") == n && s.getValue(name) instanceof Number v) {
              points.add(new double[] {s.getDouble("t"), v.doubleValue()});
            }
          }
          if (points.size() < 4) {
            continue;
          }
          double q2 = median(points, end * 0.25, end * 0.5);
          double q4 = median(points, end * 0.75, end + 1);
          double[] b = bound(name);
          boolean f = Double.isNaN(q2) || Double.isNaN(q4) || q4 <= q2 * (1 + b[0]) + b[1];
          flat &= f;
          JsonObject pn = new JsonObject().put("node", n).put("first", points.get(0)[1])
            .put("last", points.get(points.size() - 1)[1])
            .put("min", points.stream().mapToDouble(p -> p[1]).min().orElse(0))
            .put("max", points.stream().mapToDouble(p -> p[1]).max().orElse(0))
            .put("secondQuarterMedian", Double.isNaN(q2) ? null : q2).put("lastQuarterMedian", Double.isNaN(q4) ? null : q4)
            .put("samples", points.size()).put("flat", f);
          perNode.add(pn);
          text.add(String.format(java.util.Locale.ROOT, "node %d %s -> %s (q2 %s, q4 %s)%s", n, fmt(name, points.get(0)[1]),
            fmt(name, points.get(points.size() - 1)[1]), Double.isNaN(q2) ? "n/a" : fmt(name, q2),
            Double.isNaN(q4) ? "n/a" : fmt(name, q4), f ? "" : " GROWING"));
        }
        if (perNode.isEmpty()) {
          allFlat = false;
          continue;
        }
        if (CLUSTER_WIDE.contains(name)) {
          // Clients move between nodes with every fault and churn, so one node's descriptors
          // follow its share of clients; a leak shows in the cluster's sum.
          List<double[]> sum = clusterSum(samples, name, nodes);
          double q2 = median(sum, end * 0.25, end * 0.5);
          double q4 = median(sum, end * 0.75, end + 1);
          double[] b = bound(name);
          flat = Double.isNaN(q2) || Double.isNaN(q4) || q4 <= q2 * (1 + b[0]) + b[1];
          text.add(String.format(java.util.Locale.ROOT, "judged on the nodes' sum: q2 %s, q4 %s%s",
            Double.isNaN(q2) ? "n/a" : fmt(name, q2), Double.isNaN(q4) ? "n/a" : fmt(name, q4), flat ? "" : " GROWING"));
        }
        allFlat &= flat;
        out.put(name, new JsonObject().put("flat", flat).put("nodes", perNode)
          .put("text", (flat ? "flat: " : "NOT FLAT: ") + String.join("; ", text)));
      }
      out.put("allFlat", allFlat);
      return out;
    }

    /** Series judged on their sum over the nodes rather than node by node. */
    static final List<String> CLUSTER_WIDE = List.of("fds");

    /**
     * The sum of {@code name} over the nodes per sampling round (every node's sample of a round
     * carries the round's {@code t}); only rounds where every node was sampled, so a node that is
     * down, frozen or restarting is no dip.
     */
    private static List<double[]> clusterSum(List<JsonObject> samples, String name, int nodes) {
      java.util.TreeMap<Double, double[]> rounds = new java.util.TreeMap<>();
      for (JsonObject s : samples) {
        if (s.getValue(name) instanceof Number v) {
          double[] r = rounds.computeIfAbsent(s.getDouble("t"), k -> new double[2]);
          r[0] += v.doubleValue();
          r[1]++;
        }
      }
      List<double[]> out = new ArrayList<>();
      rounds.forEach((t, r) -> {
        if (r[1] >= nodes) {
          out.add(new double[] {t, r[0]});
        }
      });
      return out;
    }

    private static double median(List<double[]> points, double from, double to) {
      double[] v = points.stream().filter(p -> p[0] >= from && p[0] < to).mapToDouble(p -> p[1]).sorted().toArray();
      return v.length == 0 ? Double.NaN : v[v.length / 2];
    }

    private static String fmt(String name, double v) {
      return name.endsWith("Bytes") ? String.format(java.util.Locale.ROOT, "%.1f MiB", v / (1 << 20))
        : String.format(java.util.Locale.ROOT, "%.0f", v);
    }
  }

  // ---- the bench's own PostgreSQL -------------------------------------------------------------

  /** An embedded PostgreSQL the bench owns, so it can stop and start it (same port, same data). */
  static final class OwnPostgres {
    final Path dir;
    int port;
    private EmbeddedPostgres pg;

    private OwnPostgres(Path dir) {
      this.dir = dir;
    }

    static OwnPostgres start() throws IOException {
      OwnPostgres p = new OwnPostgres(Files.createTempDirectory("sb-bench-soak-pg"));
      p.pg = p.builder(0).start();
      p.port = p.pg.getPort();
      return p;
    }

    private EmbeddedPostgres.Builder builder(int port) {
      EmbeddedPostgres.Builder b = Database.embeddedBuilder(dir.resolve("data"), true)
        .setCleanDataDirectory(false)
        .setPGStartupWait(Duration.ofSeconds(60));
      return port > 0 ? b.setPort(port) : b;
    }

    String url() {
      return "postgresql://postgres@127.0.0.1:" + port + "/postgres";
    }

    /** {@code pg_ctl stop -m fast}: every connection is cut. Blocking. */
    synchronized void stop() throws IOException {
      if (pg != null) {
        try {
          pg.close();
        } finally {
          pg = null;
        }
      }
    }

    /** Starts it again on the same port and data. Blocking. */
    synchronized void restart() throws IOException {
      if (pg == null) {
        pg = builder(port).start();
      }
    }

    /** Stops it and removes its files. */
    synchronized void close() throws IOException {
      stop();
      try (var paths = Files.walk(dir)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
