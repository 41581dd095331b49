package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code failover}: the bench starts 2–3 node processes (one cluster, one database), spreads N
 * clients over them with half on node 0, sends steadily through another node, and kills node 0
 * with {@code kill -9}. Its clients reconnect to the survivors with their cursors (SSE
 * {@code Last-Event-ID}, the WebSocket cursor). Reported: the time from the kill to the last
 * client resumed, and, once the sends stop, every acknowledged message each client should have
 * and did not get (lost), got twice (duplicates) or got out of order, and {@code resync_required}.
 */
final class FailoverScenario {

  private static final long SEND_BEFORE_KILL_MS = 2000;
  private static final long SEND_AFTER_RESUME_MS = 2000;

  private final RunContext ctx;
  private final BenchOptions o;
  private final NodeProcesses nodes;

  /** What one client received, per conversation index; touched under its own lock. */
  private static final class Client {
    final Map<Integer, BitSet> seqs = new HashMap<>();
    final Map<Integer, Long> last = new HashMap<>();
    long duplicates;
    long reordered;
    long resyncs;
    boolean victim;
    volatile long resumedNanos;
  }

  private FailoverScenario(RunContext ctx, NodeProcesses nodes) {
    this.ctx = ctx;
    this.o = ctx.o;
    this.nodes = nodes;
  }

  static Future<Void> run(RunContext ctx) {
    return NodeProcesses.start(ctx, ctx.o.spawn).compose(nodes -> {
      ctx.nodes = nodes.urls();
      List<Long> pids = new ArrayList<>(ctx.o.pids);
      pids.addAll(nodes.pids());
      ctx.server = new ProcStats(pids, ctx.o.pidTrees);
      return new FailoverScenario(ctx, nodes).go().eventually(nodes::stop);
    });
  }

  private Future<Void> go() {
    int n = o.count;
    int k = ctx.nodes.size();
    URI survivor = ctx.nodes.get(1);
    SbApi api = new SbApi(ctx.clients, survivor);
    Tokens tokenSource = new Tokens(ctx.clients, survivor, o.jwtSecret);
    List<String> users = Tokens.names("fo-" + ctx.runId + "-", n);
    int size = Math.min(499, Math.max(1, (int) Math.ceil((double) n * o.perClient / o.conversations)));
    List<List<Integer>> groups = StormScenario.groups(n, Math.min(o.perClient, n), Math.min(size, n));
    String sender = "fo-" + ctx.runId + "-sender";
    Map<String, Integer> convIndex = new ConcurrentHashMap<>();
    String[] ids = new String[groups.size()];
    List<Set<Long>> acked = new ArrayList<>();
    groups.forEach(g -> acked.add(ConcurrentHashMap.newKeySet()));
    Client[] clients = new Client[n];
    for (int i = 0; i < n; i++) {
      clients[i] = new Client();
      clients[i].victim = i < n / 2;
    }
    List<List<Integer>> convsOf = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      convsOf.add(new ArrayList<>());
    }
    for (int g = 0; g < groups.size(); g++) {
      for (int u : groups.get(g)) {
        convsOf.get(u).add(g);
      }
    }
    String[] senderToken = new String[1];
    ctx.log("%d clients on %d nodes (%d on node 0, killed), %d groups of up to %d", n, k, n / 2, groups.size(), size);
    return tokenSource.token(sender).compose(st -> {
      senderToken[0] = st;
      return tokenSource.tokens(users);
    }).compose(toks -> Parallel.forEach(groups.size(), 8, g -> {
      List<String> members = groups.get(g).stream().map(users::get).toList();
      return api.createGroup(senderToken[0], "failover " + ctx.runId + " " + g, members).map(c -> {
        ids[g] = c.getString("id");
        convIndex.put(ids[g], g);
        return null;
      });
    }).map(toks)).compose(toks -> {
      // Opening is bounded by --timeout, and so, from the kill on, is resuming.
      long deadline = System.nanoTime() + o.timeoutSeconds * 1_000_000_000L;
      AtomicLong resumeDeadline = new AtomicLong(deadline);
      AtomicLong killedAt = new AtomicLong();
      AtomicInteger victimsToResume = new AtomicInteger();
      AtomicInteger resumed = new AtomicInteger();
      AtomicLong unexpectedCloses = new AtomicLong();
      Promise<Void> allResumed = Promise.promise();
      SubscriberSet[] set = new SubscriberSet[1];
      Subscriber.Listener listener = new Subscriber.Listener() {
        @Override
        public void event(Subscriber s, JsonObject env) {
          Client c = clients[s.index];
          String type = Subscriber.type(env);
          if ("resync_required".equals(type)) {
            synchronized (c) {
              c.resyncs++;
            }
            return;
          }
          if (!"message_received".equals(type)) {
            return;
          }
          JsonObject p = env.getJsonObject("payload");
          Integer g = p == null ? null : convIndex.get(p.getString("conversationId", ""));
          if (g == null || !(p.getValue("seq") instanceof Number seqNumber)) {
            return;
          }
          long seq = seqNumber.longValue();
          synchronized (c) {
            BitSet bits = c.seqs.computeIfAbsent(g, x -> new BitSet());
            if (bits.get((int) seq)) {
              c.duplicates++;
              return;
            }
            bits.set((int) seq);
            Long last = c.last.get(g);
            if (last != null && seq < last) {
              c.reordered++;
            } else {
              c.last.put(g, seq);
            }
          }
        }

        @Override
        public void closed(Subscriber s, String reason) {
          if (killedAt.get() == 0 || !clients[s.index].victim) {
            unexpectedCloses.incrementAndGet();
          }
          // Resume elsewhere with the cursor this client kept.
          int target = 1 + s.index % (k - 1);
          s.uri = ctx.nodes.get(target);
          s.open(resumeDeadline.get()).onComplete(ar -> {
            if (ar.succeeded() && clients[s.index].victim && killedAt.get() != 0) {
              clients[s.index].resumedNanos = System.nanoTime();
              if (resumed.incrementAndGet() == victimsToResume.get()) {
                allResumed.tryComplete();
              }
            }
          });
        }
      };
      set[0] = new SubscriberSet(ctx.clients, o.transport, n, listener, users, toks, null,
        i -> i < n / 2 ? ctx.nodes.get(0) : ctx.nodes.get(1 + i % (k - 1)), true, true);
      JsonObject j = ctx.line().put("nodes", k).put("clients", n).put("groups", groups.size())
        .put("conversationsPerClient", o.perClient).put("sendRate", o.rate);
      AtomicLong sent = new AtomicLong();
      AtomicLong ackedCount = new AtomicLong();
      AtomicLong sendErrors = new AtomicLong();
      AtomicLong inFlight = new AtomicLong();
      boolean[] sending = {true};
      return set[0].open(ctx, o.openConcurrency, deadline).compose(open -> {
        j.put("open", open).put("opens", set[0].openJson());
        ctx.log("%d of %d open; sending %d/s through node 1", open, n, o.rate);
        long period = Math.max(1, 1000L / Math.max(1, o.rate));
        long startNanos = System.nanoTime();
        long sender0 = ctx.vertx.setPeriodic(period, id -> {
          if (!sending[0]) {
            ctx.vertx.cancelTimer(id);
            return;
          }
          long due = (System.nanoTime() - startNanos) * o.rate / 1_000_000_000L + 1;
          while (sent.get() < due) {
            long m = sent.getAndIncrement();
            int g = (int) (m % groups.size());
            inFlight.incrementAndGet();
            api.send(senderToken[0], ids[g], Marker.text(Marker.BENCH, m, System.nanoTime(), o.size),
                ctx.runId + "-fo-" + m)
              .onComplete(ar -> {
                if (ar.succeeded() && ar.result().statusCode() == 201) {
                  acked.get(g).add(ar.result().bodyAsJsonObject().getLong("seq"));
                  ackedCount.incrementAndGet();
                } else if (sendErrors.incrementAndGet() <= 3) {
                  ctx.log("send failed: %s", ar.failed() ? ar.cause().getMessage()
                    : ar.result().statusCode() + " " + ar.result().bodyAsString());
                }
                inFlight.decrementAndGet();
              });
          }
        });
        return ctx.vertx.timer(SEND_BEFORE_KILL_MS).compose(v -> {
          int victimsOpen = 0;
          for (Subscriber s : set[0].all) {
            if (clients[s.index].victim && s.live) {
              victimsOpen++;
            }
          }
          victimsToResume.set(victimsOpen);
          RunContext.Meter before = RunContext.Meter.now(ctx.server);
          resumeDeadline.set(System.nanoTime() + o.timeoutSeconds * 1_000_000_000L);
          killedAt.set(System.nanoTime());
          nodes.kill(0);
          ctx.log("kill -9 of node 0 (pid %d) holding %d open clients", nodes.pids().get(0), victimsOpen);
          if (victimsOpen == 0) {
            allResumed.tryComplete();
          }
          long wait = Math.max(1000, (resumeDeadline.get() - System.nanoTime()) / 1_000_000 + 1000);
          long t = ctx.vertx.setTimer(wait, id -> allResumed.tryComplete());
          return allResumed.future().map(x -> {
            ctx.vertx.cancelTimer(t);
            return before;
          });
        }).compose(before -> {
          long last = 0;
          for (Client c : clients) {
            if (c.victim) {
              last = Math.max(last, c.resumedNanos);
            }
          }
          JsonObject opens = set[0].openJson();
          JsonObject first = j.getJsonObject("opens");
          j.put("victims", victimsToResume.get()).put("resumed", resumed.get())
            .put("secondsToAllResumed", last == 0 ? null : Latencies.round((last - killedAt.get()) / 1e9))
            .put("resumeRefusals", opens.getInteger("refusals") - first.getInteger("refusals"))
            .put("resumeFailures", opens.getInteger("failures") - first.getInteger("failures"))
            .put("resumeFailureReasons", opens.getJsonArray("failureReasons"));
          ctx.log("%d of %d clients of the killed node resumed, the last %s s after the kill (%d refusals, %d failures on the way%s)",
            resumed.get(), victimsToResume.get(), j.getValue("secondsToAllResumed"), j.getInteger("resumeRefusals"),
            j.getInteger("resumeFailures"), opens.getJsonArray("failureReasons").isEmpty() ? ""
              : "; e.g. " + opens.getJsonArray("failureReasons").getString(0));
          return ctx.vertx.timer(SEND_AFTER_RESUME_MS);
        }).compose(v -> {
          sending[0] = false;
          ctx.vertx.cancelTimer(sender0);
          return converge(clients, convsOf, acked, inFlight, System.nanoTime() + 30_000_000_000L);
        }).map(v -> {
          long lost = 0;
          long dup = 0;
          long reordered = 0;
          long resyncs = 0;
          long clientsMissing = 0;
          for (int i = 0; i < n; i++) {
            long missing = missing(clients[i], convsOf.get(i), acked);
            lost += missing;
            clientsMissing += missing > 0 ? 1 : 0;
            synchronized (clients[i]) {
              dup += clients[i].duplicates;
              reordered += clients[i].reordered;
              resyncs += clients[i].resyncs;
            }
          }
          j.put("sends", sent.get()).put("acknowledged", ackedCount.get()).put("sendErrors", sendErrors.get())
            .put("lost", lost).put("clientsMissingMessages", clientsMissing).put("duplicates", dup)
            .put("reordered", reordered).put("resyncs", resyncs).put("unexpectedCloses", unexpectedCloses.get());
          ctx.log("%d acknowledged sends (%d errors): lost %d, duplicates %d, reordered %d, resync_required %d",
            ackedCount.get(), sendErrors.get(), lost, dup, reordered, resyncs);
          ctx.out.accept(j);
          return (Void) null;
        });
      }).eventually(() -> {
        set[0].close();
        return Future.succeededFuture();
      });
    });
  }

  /** Acknowledged messages of the client's conversations it has not received. */
  private static long missing(Client c, List<Integer> convs, List<Set<Long>> acked) {
    long missing = 0;
    synchronized (c) {
      for (int g : convs) {
        BitSet got = c.seqs.get(g);
        for (long seq : acked.get(g)) {
          if (got == null || !got.get((int) seq)) {
            missing++;
          }
        }
      }
    }
    return missing;
  }

  /** Waits (bounded) until every client has every acknowledged message of its conversations. */
  private Future<Void> converge(Client[] clients, List<List<Integer>> convsOf, List<Set<Long>> acked, AtomicLong inFlight,
                                long deadline) {
    long until = Math.min(deadline, System.nanoTime() + 30_000_000_000L);
    Promise<Void> done = Promise.promise();
    ctx.vertx.setPeriodic(200, id -> {
      boolean all = inFlight.get() == 0;
      for (int i = 0; all && i < clients.length; i++) {
        all = missing(clients[i], convsOf.get(i), acked) == 0;
      }
      if (all || System.nanoTime() > until) {
        ctx.vertx.cancelTimer(id);
        done.tryComplete();
      }
    });
    return done.future();
  }
}
