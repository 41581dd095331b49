package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.List;

/**
 * {@code idle}: what an open, silent connection costs the server. Reads the server's RSS (and,
 * for a Switchboard JVM, its live heap after a full GC, through {@code jcmd GC.class_histogram})
 * before, opens N connections (each its own user, or its own Nchan channel), holds them
 * {@code --hold} seconds, reads again, and reports the deltas per connection. Then closes them.
 */
final class IdleScenario {

  private IdleScenario() {
  }

  static Future<Void> run(RunContext ctx) {
    BenchOptions o = ctx.o;
    boolean heap = o.heap && o.isSwitchboard() && !o.pids.isEmpty();
    long jvm = heap ? o.pids.get(0) : -1;
    long deadline = System.nanoTime() + o.timeoutSeconds * 1_000_000_000L;
    Subscriber.Listener quiet = new Subscriber.Listener() {
    };
    Future<SubscriberSet> built;
    if (o.isSwitchboard()) {
      URI node = ctx.nodes.get(0);
      List<String> users = Tokens.names("idle-" + ctx.runId + "-", o.count);
      built = new Tokens(ctx.clients, node, o.jwtSecret).tokens(users).map(toks ->
        new SubscriberSet(ctx.clients, o.transport, o.count, quiet, users, toks, null,
          i -> ctx.nodes.get(i % ctx.nodes.size()), false, true));
    } else {
      built = Future.succeededFuture(new SubscriberSet(ctx.clients, o.transport, o.count, quiet, null, null, null,
        i -> URI.create(o.sub.replace("{channel}", "idle-" + ctx.runId + "-" + i)), false, false));
    }
    long[] before = new long[2];
    return built.compose(subs -> ctx.blocking(() -> {
        // The full GC first: it may give memory back, so both RSS readings follow one.
        before[1] = heap ? ProcStats.liveHeapBytes(jvm) : -1;
        before[0] = ctx.server.rssBytes();
        return null;
      })
      .compose(v -> {
        ctx.log("%s: before: RSS %.1f MiB%s; opening %d idle %s connections", o.target, before[0] / 1048576.0,
          heap ? String.format(java.util.Locale.ROOT, ", live heap %.1f MiB", before[1] / 1048576.0) : "", o.count, o.transport.id);
        return subs.open(ctx, o.openConcurrency, deadline);
      })
      .compose(open -> ctx.vertx.timer(o.holdSeconds * 1000L + 1).map(open))
      .compose(open -> ctx.blocking(() -> {
        long live = heap ? ProcStats.liveHeapBytes(jvm) : -1;
        long rss = ctx.server.rssBytes();
        int stillOpen = (int) subs.live();
        JsonObject j = ctx.line()
          .put("connections", o.count)
          .put("connectionsOpen", stillOpen)
          .put("openSeconds", subs.stats.secondsToLastConnected())
          .put("rssBytesBefore", before[0])
          .put("rssBytesAfter", rss)
          .put("rssPerConnectionKiB", perConnection(rss - before[0], stillOpen));
        if (heap) {
          j.put("heapBytesBefore", before[1]).put("heapBytesAfter", live)
            .put("heapPerConnectionKiB", perConnection(live - before[1], stillOpen));
        }
        j.put("opens", subs.openJson());
        return j;
      }))
      .map(j -> {
        ctx.log("%d of %d open: %s KiB RSS per connection%s", j.getInteger("connectionsOpen"), o.count,
          j.getValue("rssPerConnectionKiB"), j.containsKey("heapPerConnectionKiB")
            ? ", " + j.getValue("heapPerConnectionKiB") + " KiB live heap per connection" : "");
        ctx.out.accept(j);
        return (Void) null;
      })
      .eventually(() -> {
        subs.close();
        return Future.succeededFuture();
      }));
  }

  private static Double perConnection(long bytes, int connections) {
    return connections == 0 ? null : Latencies.round(bytes / 1024.0 / connections);
  }
}
