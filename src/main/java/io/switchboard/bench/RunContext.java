package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

/** What a scenario runs with: Vert.x, the options, the clients, the server processes to watch. */
final class RunContext {

  final Vertx vertx;
  final BenchOptions o;
  final Clients clients;
  /** A short id, unique per invocation: users, topics and channels of this run carry it. */
  final String runId = UUID.randomUUID().toString().substring(0, 8);
  /** The Switchboard nodes (the options' URLs, or nodes the scenario started). */
  List<URI> nodes;
  ProcStats server;
  /** Where JSON lines go (stdout in the CLI; tests collect them). */
  final java.util.function.Consumer<JsonObject> out;

  RunContext(Vertx vertx, BenchOptions o, java.util.function.Consumer<JsonObject> out) {
    this.vertx = vertx;
    this.o = o;
    this.out = out;
    this.clients = new Clients(vertx, o.sources, Math.max(64, o.senders));
    this.nodes = new ArrayList<>(o.urls);
    this.server = new ProcStats(o.pids, o.pidTrees);
  }

  /** A human line on stderr. */
  void log(String format, Object... args) {
    System.err.println("bench " + o.scenario + ": " + String.format(java.util.Locale.ROOT, format, args));
  }

  /** The fields every JSON line starts with. */
  JsonObject line() {
    JsonObject j = new JsonObject()
      .put("scenario", o.scenario)
      .put("target", o.target)
      .put("transport", o.transport.id)
      .put("runId", runId)
      .put("at", Instant.now().toString());
    if (o.label != null) {
      j.put("label", o.label);
    }
    return j;
  }

  /** Runs blocking work (jcmd, process control) off the event loop. */
  <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  /** A snapshot of server and client CPU at one instant; {@link #since} turns two into figures. */
  record Meter(long nanos, double serverCpu, double clientCpu) {

    static Meter now(ProcStats server) {
      return new Meter(System.nanoTime(), server.any() ? server.cpuSeconds() : 0, ProcStats.selfCpuSeconds());
    }

    /**
     * {@code seconds}, {@code serverCpuSeconds}, {@code clientCpuSeconds}, {@code clientCpuCores}
     * and {@code clientBound}: the bench itself near a full core or more means the figures
     * measure the client, not the server.
     */
    JsonObject since(Meter start, ProcStats server, long endNanos) {
      double seconds = Math.max(1e-9, (endNanos - start.nanos) / 1e9);
      double clientCpu = clientCpu() - start.clientCpu();
      double wall = Math.max(1e-9, (nanos - start.nanos) / 1e9);
      double cores = clientCpu / wall;
      JsonObject j = new JsonObject()
        .put("seconds", Latencies.round(seconds))
        .put("clientCpuSeconds", Latencies.round(clientCpu))
        .put("clientCpuCores", Latencies.round(cores))
        .put("clientBound", cores >= 0.9);
      if (server.any()) {
        j.put("serverCpuSeconds", Latencies.round(serverCpu() - start.serverCpu()));
        j.put("serverRssBytes", server.rssBytes());
      } else {
        j.putNull("serverCpuSeconds");
      }
      return j;
    }
  }
}
