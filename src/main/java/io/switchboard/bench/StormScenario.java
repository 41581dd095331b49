package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code storm} (a reconnect storm, as after a node with thousands of clients died): N clients of
 * distinct users, each a member of P groups (set up through the REST API first), all open at
 * once against one node with no client-side throttling. Each honours the server's "try again"
 * answers and retries. Reported: the time to the last {@code connected}, refusals, other
 * failures, retries, clients that never got in; then one message is sent in every group and
 * every client must receive one per group it is in.
 */
final class StormScenario {

  private final RunContext ctx;
  private final BenchOptions o;
  private final SbApi api;

  private StormScenario(RunContext ctx) {
    this.ctx = ctx;
    this.o = ctx.o;
    this.api = new SbApi(ctx.clients, ctx.nodes.get(0));
  }

  static Future<Void> run(RunContext ctx) {
    return new StormScenario(ctx).go();
  }

  /** Group g of round r holds the users whose rotated index falls in chunk g: every user is in one group per round. */
  static List<List<Integer>> groups(int users, int perUser, int size) {
    List<List<Integer>> out = new ArrayList<>();
    int stride = Math.max(1, size / perUser);
    for (int round = 0; round < perUser; round++) {
      List<Integer> chunk = new ArrayList<>();
      for (int k = 0; k < users; k++) {
        chunk.add(Math.floorMod(k + round * stride * (round + 1), users));
        if (chunk.size() == size || k == users - 1) {
          out.add(chunk);
          chunk = new ArrayList<>();
        }
      }
    }
    return out;
  }

  private Future<Void> go() {
    int n = o.count;
    URI node = ctx.nodes.get(0);
    List<String> users = Tokens.names("storm-" + ctx.runId + "-", n);
    List<List<Integer>> groups = groups(n, Math.min(o.perClient, n), Math.min(o.groupSize, n));
    String[] ids = new String[groups.size()];
    List<String>[] tokens = new List[1];
    ctx.log("setting up %d users in %d groups of up to %d (%d per user)", n, groups.size(), o.groupSize, o.perClient);
    return new Tokens(ctx.clients, node, o.jwtSecret).tokens(users)
      .compose(toks -> {
        tokens[0] = toks;
        return Parallel.forEach(groups.size(), 8, g -> {
          List<Integer> members = groups.get(g);
          List<String> others = new ArrayList<>();
          for (int k = 1; k < members.size(); k++) {
            others.add(users.get(members.get(k)));
          }
          return api.createGroup(toks.get(members.get(0)), "storm " + ctx.runId + " " + g, others)
            .map(c -> ids[g] = c.getString("id"));
        });
      })
      .compose(v -> storm(users, tokens[0], groups, ids));
  }

  private Future<Void> storm(List<String> users, List<String> toks, List<List<Integer>> groups, String[] ids) {
    int n = users.size();
    int[] expectedPer = new int[n];
    for (List<Integer> g : groups) {
      for (int u : g) {
        expectedPer[u]++;
      }
    }
    BitSet[] seen = new BitSet[n];
    for (int i = 0; i < n; i++) {
      seen[i] = new BitSet(groups.size());
    }
    AtomicLong deliveries = new AtomicLong();
    AtomicLong duplicates = new AtomicLong();
    AtomicLong disconnects = new AtomicLong();
    long expected = java.util.Arrays.stream(expectedPer).asLongStream().sum();
    Promise<Void> allReceived = Promise.promise();
    Subscriber.Listener counter = new Subscriber.Listener() {
      @Override
      public void unit(Subscriber s, String text) {
        Marker.scan(text, (kind, g, nanos) -> {
          if (kind != Marker.BENCH || g >= groups.size()) {
            return;
          }
          if (seen[s.index].get((int) g)) {
            duplicates.incrementAndGet();
          } else {
            seen[s.index].set((int) g);
            if (deliveries.incrementAndGet() == expected) {
              allReceived.tryComplete();
            }
          }
        });
      }

      @Override
      public void closed(Subscriber s, String reason) {
        disconnects.incrementAndGet();
      }
    };
    SubscriberSet subs = new SubscriberSet(ctx.clients, o.transport, n, counter, users, toks, null,
      i -> ctx.nodes.get(0), false, true);
    long deadline = System.nanoTime() + o.timeoutSeconds * 1_000_000_000L;
    ctx.log("storm: %d %s clients open at once", n, o.transport.id);
    RunContext.Meter start = RunContext.Meter.now(ctx.server);
    JsonObject j = ctx.line().put("clients", n).put("conversationsPerClient", o.perClient)
      .put("groups", groups.size());
    return subs.open(ctx, n, deadline)
      .compose(open -> {
        RunContext.Meter opened = RunContext.Meter.now(ctx.server);
        JsonObject meter = opened.since(start, ctx.server, opened.nanos());
        j.put("open", open).put("opens", subs.openJson())
          .put("secondsToLastConnected", subs.stats.secondsToLastConnected())
          .put("serverCpuSeconds", meter.getValue("serverCpuSeconds"))
          .put("serverRssBytes", meter.getValue("serverRssBytes"))
          .put("clientCpuCores", meter.getValue("clientCpuCores"))
          .put("clientBound", meter.getValue("clientBound"));
        ctx.log("%d of %d open; the last after %.2f s; %d refusals, %d other failures, %d retries, %d gave up",
          open, n, subs.stats.secondsToLastConnected(), subs.stats.refusals.get(), subs.stats.failures.get(),
          subs.stats.retries.get(), subs.stats.gaveUp.get());
        ctx.log("sending one message in each of %d groups", groups.size());
        long sendStart = System.nanoTime();
        AtomicLong sendErrors = new AtomicLong();
        return Parallel.forEach(groups.size(), 16, g -> api.send(toks.get(groups.get(g).get(0)), ids[g],
            Marker.text(Marker.BENCH, g, System.nanoTime(), o.size), ctx.runId + "-storm-" + g)
            .map(r -> {
              if (r.statusCode() != 201 && sendErrors.incrementAndGet() <= 3) {
                ctx.log("send failed: %d %s", r.statusCode(), r.bodyAsString());
              }
              return null;
            }))
          .compose(v -> {
            long wait = Math.max(5_000, Math.min(60_000, (deadline - System.nanoTime()) / 1_000_000));
            ctx.vertx.setTimer(wait, id -> allReceived.tryComplete());
            return allReceived.future();
          })
          .map(v -> {
            long complete = 0;
            for (int i = 0; i < n; i++) {
              if (seen[i].cardinality() == expectedPer[i]) {
                complete++;
              }
            }
            j.put("sendErrors", sendErrors.get())
              .put("deliveriesExpected", expected)
              .put("deliveries", deliveries.get())
              .put("lost", expected - deliveries.get())
              .put("duplicates", duplicates.get())
              .put("clientsReceivingAll", complete)
              .put("disconnects", disconnects.get())
              .put("secondsToAllReceived", Latencies.round((System.nanoTime() - sendStart) / 1e9));
            ctx.log("%d of %d clients received every message (%d/%d deliveries, %d duplicates, %d disconnects)",
              complete, n, deliveries.get(), expected, duplicates.get(), disconnects.get());
            ctx.out.accept(j);
            return (Void) null;
          });
      })
      .eventually(() -> {
        subs.close();
        return Future.succeededFuture();
      });
  }
}
