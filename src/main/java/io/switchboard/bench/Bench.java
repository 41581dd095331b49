package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code java -jar switchboard.jar bench <scenario> [options]}: the project's benchmark (see
 * docs/BENCHMARKS.md). Every run is bounded in count and time, prints one JSON line per measured
 * run on stdout and human lines on stderr. The same client measures Switchboard and any server
 * with publish/subscribe URL templates (Nchan), so their figures compare.
 * {@code bench report FILE...} turns JSON lines into one comparison line per scenario.
 */
public final class Bench {

  static final String USAGE = """
    usage: java -jar switchboard.jar bench <scenario> [options]
           java -jar switchboard.jar bench report RESULTS.jsonl...
    scenarios:
      fanout    N subscribers of one channel, M publishes as fast as a window allows
      latency   the same at a fixed publish rate (--rate, default 20/s)
      idle      N idle connections: RSS and live heap (jcmd) per connection
      send      durable REST sends: --senders S over --conversations C for --duration s
      cluster   fan-out with subscribers over several nodes, publishes on the first
      storm     N clients (distinct users, --per-client groups each) open at once; all must get in and receive
      failover  N clients over --nodes node processes, kill -9 of the one holding half; all resume, nothing lost
      soak      mixed traffic on 3 node processes for --duration s, a nemesis every --nemesis-every s
                (kill -9, SIGSTOP, SIGTERM, PostgreSQL restart); heap, fds, threads, pool and bus every --sample-every s
    target:
      --target switchboard (default) --url http://127.0.0.1:8080[,http://...]  [--jwt-secret S] [--api-key dev-key]
      --target NAME --pub 'http://host:port/pub?id={channel}' --sub 'http://host:port/sub?id={channel}'
    options:
      --transport sse|ws|sockjs|poll  --subscribers|--connections|--clients N  --messages M  --rate R (0: windowed)
      --window W  --size BYTES  --channel topic|conversation  --pid P[,P]  --pid-tree P[,P]  --no-heap
      --sources K (127.0.0.10..)  --open-concurrency C  --timeout S (per run)  --warmup K  --runs R  --label TEXT
      --senders S --conversations C --duration S (send)  --per-client P --group-size G (storm, failover)
      --spawn|--nodes N --db-url URL --node-heap 768m (cluster, failover, soak)  --hold S (idle)
      --duration S --nemesis-every S --sample-every S --senders S --rate R --conversations C (soak; without
        --db-url the soak starts its own PostgreSQL, so that it can restart it)""";

  private Bench() {
  }

  public static void main(String[] args) {
    if (args.length > 0 && "report".equals(args[0])) {
      System.exit(Report.main(Arrays.copyOfRange(args, 1, args.length)));
      return;
    }
    BenchOptions options;
    try {
      options = BenchOptions.parse(Arrays.asList(args));
    } catch (IllegalArgumentException e) {
      System.err.println("switchboard bench: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    // stdout carries the JSON lines only: anything logged (Vert.x, Netty) goes to stderr.
    java.io.PrintStream json = System.out;
    System.setOut(System.err);
    // A loaded machine delays event loops for seconds; the bench reports that as its own figures.
    Vertx vertx = Vertx.vertx(new io.vertx.core.VertxOptions().setMaxEventLoopExecuteTime(10)
      .setMaxEventLoopExecuteTimeUnit(TimeUnit.SECONDS));
    int status = 0;
    try {
      run(vertx, options, line -> {
        json.println(line.encode());
        json.flush();
      })
        .toCompletionStage().toCompletableFuture().get(bound(options), TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      System.err.println("switchboard bench: " + (cause instanceof java.util.concurrent.TimeoutException
        ? "the run did not end within " + bound(options) + " s" : cause.getMessage()));
      status = 1;
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).exceptionally(t -> null).join();
    }
    System.exit(status);
  }

  /** The longest a whole invocation may take: every phase's timeout, plus setup. */
  static long bound(BenchOptions o) {
    return (long) o.timeoutSeconds * (o.warmup + o.runs + 2) + 600
      + ("soak".equals(o.scenario) ? o.durationSeconds + 900L : 0);
  }

  /** Parses and runs; JSON lines go to {@code out}. */
  public static Future<Void> run(Vertx vertx, List<String> args, Consumer<JsonObject> out) {
    BenchOptions o;
    try {
      o = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    return run(vertx, o, out);
  }

  static Future<Void> run(Vertx vertx, BenchOptions o, Consumer<JsonObject> out) {
    RunContext ctx = new RunContext(vertx, o, out);
    Future<Void> run;
    try {
      run = switch (o.scenario) {
        case "fanout", "latency", "cluster" -> FanoutScenario.run(ctx);
        case "idle" -> IdleScenario.run(ctx);
        case "send" -> SendScenario.run(ctx);
        case "storm" -> StormScenario.run(ctx);
        case "failover" -> FailoverScenario.run(ctx);
        case "soak" -> SoakScenario.run(ctx);
        default -> Future.failedFuture("unknown scenario " + o.scenario);
      };
    } catch (RuntimeException e) {
      run = Future.failedFuture(e);
    }
    return run.eventually(ctx.clients::close);
  }
}
