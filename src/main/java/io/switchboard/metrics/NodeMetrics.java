package io.switchboard.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.gateway.ConnectionCounts.Transport;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The meters of one node (SPEC §9), kept in the Prometheus registry that Vert.x Micrometer fills
 * with its own event-bus, HTTP, pool and JVM meters, so that {@code GET /metrics} shows them
 * together. Also keeps the per-second event rates of {@code GET /api/stats}.
 */
public final class NodeMetrics {

  private static final Logger LOG = LoggerFactory.getLogger(NodeMetrics.class);

  /** The rates of {@code /api/stats} are averaged over this many seconds. */
  static final int RATE_WINDOW_SECONDS = 5;

  /** Bucket bounds of the delivery latency histogram. */
  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
    Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
    Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
    Duration.ofSeconds(10)};

  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;
  private final Counter received;
  private final EnumMap<Transport, Counter> delivered = new EnumMap<>(Transport.class);
  private final Timer latency;
  private final Meter.MeterProvider<Counter> commands;
  private final EnumMap<Transport, Counter> slowConsumerCuts = new EnumMap<>(Transport.class);
  private final Counter resumed;
  private final Counter resynced;
  private final long sampler;
  /** Totals sampled once a second (only the sampler's timer touches them). */
  private final double[] inTotals = new double[RATE_WINDOW_SECONDS + 1];
  private final double[] outTotals = new double[RATE_WINDOW_SECONDS + 1];
  private final long[] sampledAt = new long[RATE_WINDOW_SECONDS + 1];
  private int samples;
  private volatile double inRate;
  private volatile double outRate;

  private NodeMetrics(Vertx vertx, PrometheusMeterRegistry registry, ConnectionCounts connections) {
    this.vertx = vertx;
    this.registry = registry;
    for (Transport t : Transport.values()) {
      String transport = t.name().toLowerCase(Locale.ROOT);
      Gauge.builder("switchboard.connections", connections, c -> c.count(t))
        .description("Open client connections of this node")
        .tag("transport", transport)
        .strongReference(true)
        .register(registry);
      delivered.put(t, Counter.builder("switchboard.events.delivered")
        .description("Envelopes written to client connections of this node")
        .tag("transport", transport)
        .register(registry));
      slowConsumerCuts.put(t, Counter.builder("switchboard.slow.consumer.cuts")
        .description("Connections of this node closed because they could not keep up (slow_consumer)")
        .tag("transport", transport)
        .register(registry));
    }
    received = Counter.builder("switchboard.events.received")
      .description("Events arriving at this node's route consumers, once per node before the fan-out")
      .register(registry);
    latency = Timer.builder("switchboard.delivery.latency")
      .description("From an event's timestamp (set where it was published) to its arrival at this node's fan-out")
      .serviceLevelObjectives(LATENCY_BUCKETS)
      .register(registry);
    resumed = Counter.builder("switchboard.resumes")
      .description("Streams opened on this node with a cursor, by outcome (resumed, or resync when the cursor was unusable)")
      .tag("outcome", "resumed")
      .register(registry);
    resynced = Counter.builder("switchboard.resumes")
      .description("Streams opened on this node with a cursor, by outcome (resumed, or resync when the cursor was unusable)")
      .tag("outcome", "resync")
      .register(registry);
    commands = Counter.builder("switchboard.commands")
      .description("Commands answered by this node's services, by type and outcome (ok or the error code)")
      .withRegistry(registry);
    sampler = vertx.setPeriodic(1000, id -> sample());
  }

  /** The options of a node's Vert.x instance: Micrometer metrics into a Prometheus registry of its own. */
  public static VertxOptions vertxOptions(SwitchboardConfig config) {
    return new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions()
      .setEnabled(true)
      .setJvmMetricsEnabled(true)
      .setRegistryName(registryName(config))
      .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true)));
  }

  /**
   * Vert.x Micrometer keeps its registries by name, JVM-wide, and a test JVM runs several nodes:
   * the name is one node's. No two nodes of a cluster listen on the same HTTP address.
   */
  static String registryName(SwitchboardConfig config) {
    return "switchboard:" + config.cluster().name() + ":" + config.http().host() + ":" + config.http().port();
  }

  /**
   * The meters of the node running on {@code vertx}: in the registry that {@link #vertxOptions}
   * gave it, or, on a Vert.x built without them, in a registry of Switchboard's meters only.
   */
  public static NodeMetrics create(Vertx vertx, SwitchboardConfig config, ConnectionCounts connections) {
    MeterRegistry shared = BackendRegistries.getNow(registryName(config));
    PrometheusMeterRegistry registry;
    if (shared instanceof PrometheusMeterRegistry prometheus) {
      registry = prometheus;
    } else {
      LOG.debug("Vert.x metrics are off on this instance; /metrics shows Switchboard's meters only");
      registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }
    return new NodeMetrics(vertx, registry, connections);
  }

  /** The registry {@code GET /metrics} scrapes. */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** An event envelope arrived at one of the node's route consumers (any thread). */
  public void eventArrived(JsonObject envelope) {
    received.increment();
    Object timestamp = envelope.getValue("timestamp");
    if (timestamp instanceof String text) {
      long sent = epochMillis(text);
      long elapsed = System.currentTimeMillis() - sent;
      // Clocks of different nodes can disagree: an event "from the future" says nothing.
      if (sent >= 0 && elapsed >= 0) {
        latency.record(elapsed, TimeUnit.MILLISECONDS);
      }
    }
  }

  /** Envelopes were written to client connections (any thread; event loops report them in batches). */
  public void delivered(Transport transport, int count) {
    delivered.get(transport).increment(count);
  }

  /** A service answered a command: {@code outcome} is {@code ok} or the error code. */
  public void commandAnswered(String type, String outcome) {
    commands.withTags("type", type, "outcome", outcome).increment();
  }

  /** A connection was cut because it could not keep up (any thread). */
  public void slowConsumerCut(Transport transport) {
    slowConsumerCuts.get(transport).increment();
  }

  /** A stream opened with a cursor: resumed, or told to resync (any thread). */
  public void streamResumed(boolean resync) {
    (resync ? resynced : resumed).increment();
  }

  /** Commands answered by this node's services so far, by outcome ({@code ok} or the error code). */
  public Map<String, Long> commandsByOutcome() {
    Map<String, Long> out = new TreeMap<>();
    for (Counter c : registry.find("switchboard.commands").counters()) {
      out.merge(c.getId().getTag("outcome"), (long) c.count(), Long::sum);
    }
    return out;
  }

  /** Slow-consumer cuts so far, by transport. */
  public Map<String, Long> slowConsumerCuts() {
    Map<String, Long> out = new TreeMap<>();
    slowConsumerCuts.forEach((t, c) -> out.put(t.name().toLowerCase(Locale.ROOT), (long) c.count()));
    return out;
  }

  /** Streams opened with a cursor so far: {@code resumed} and {@code resync}. */
  public Map<String, Long> resumes() {
    Map<String, Long> out = new TreeMap<>();
    out.put("resumed", (long) resumed.count());
    out.put("resync", (long) resynced.count());
    return out;
  }

  /** Envelopes written to this node's connections so far. */
  public long eventsDelivered() {
    return (long) delivered.values().stream().mapToDouble(Counter::count).sum();
  }

  /** Events arriving at this node per second, over the last few seconds. */
  public double eventsInPerSecond() {
    return inRate;
  }

  /** Envelopes written to this node's connections per second, over the last few seconds. */
  public double eventsOutPerSecond() {
    return outRate;
  }

  /** Stops the rate sampler (the meters go with the Vert.x instance). */
  public void close() {
    vertx.cancelTimer(sampler);
  }

  private void sample() {
    int slot = samples % inTotals.length;
    inTotals[slot] = received.count();
    outTotals[slot] = delivered.values().stream().mapToDouble(Counter::count).sum();
    sampledAt[slot] = System.nanoTime();
    samples++;
    // The oldest sample still kept: RATE_WINDOW_SECONDS ago once the ring is full.
    int oldest = samples > inTotals.length ? samples % inTotals.length : 0;
    double seconds = (sampledAt[slot] - sampledAt[oldest]) / 1e9;
    if (seconds > 0) {
      inRate = (inTotals[slot] - inTotals[oldest]) / seconds;
      outRate = (outTotals[slot] - outTotals[oldest]) / seconds;
    }
  }

  /**
   * Epoch milliseconds of an ISO-8601 instant, or -1. The envelopes' own shape
   * ({@code 2026-01-01T00:00:00.000Z}) is read by hand: this runs for every event a node receives.
   */
  static long epochMillis(String text) {
    if (text.length() == 24 && text.charAt(4) == '-' && text.charAt(7) == '-' && text.charAt(10) == 'T'
      && text.charAt(13) == ':' && text.charAt(16) == ':' && text.charAt(19) == '.' && text.charAt(23) == 'Z') {
      int year = digits(text, 0, 4);
      int month = digits(text, 5, 2);
      int day = digits(text, 8, 2);
      int hour = digits(text, 11, 2);
      int minute = digits(text, 14, 2);
      int second = digits(text, 17, 2);
      int millis = digits(text, 20, 3);
      if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
        || second < 0 || second > 59 || millis < 0) {
        return -1;
      }
      try {
        return LocalDate.of(year, month, day).toEpochDay() * 86_400_000L
          + hour * 3_600_000L + minute * 60_000L + second * 1000L + millis;
      } catch (DateTimeException e) {
        return -1;
      }
    }
    try {
      return Instant.parse(text).toEpochMilli();
    } catch (DateTimeException | ArithmeticException e) {
      return -1;
    }
  }

  /** The decimal number of {@code length} digits at {@code from}, or -1. */
  private static int digits(String text, int from, int length) {
    int value = 0;
    for (int i = from; i < from + length; i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }
}
