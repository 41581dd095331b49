package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/** A run's subscribers of one transport: opened with bounded concurrency, closed together. */
final class SubscriberSet implements Subscriber.Spec {

  private final Clients clients;
  private final Subscriber.Listener listener;
  final OpenStats stats = new OpenStats();
  private final List<String> users;
  private final List<String> tokens;
  private final String topic;
  private final IntFunction<URI> uris;
  private final boolean structured;
  private final boolean switchboard;
  final List<Subscriber> all = new ArrayList<>();

  SubscriberSet(Clients clients, Transport transport, int n, Subscriber.Listener listener, List<String> users,
                List<String> tokens, String topic, IntFunction<URI> uris, boolean structured, boolean switchboard) {
    this.clients = clients;
    this.listener = listener;
    this.users = users;
    this.tokens = tokens;
    this.topic = topic;
    this.uris = uris;
    this.structured = structured;
    this.switchboard = switchboard;
    for (int i = 0; i < n; i++) {
      all.add(Subscriber.create(transport, this, i));
    }
  }

  /**
   * Opens every subscriber, at most {@code parallel} opening at once, each retrying as the server
   * asks until {@code deadlineNanos}; completes when each one is open or has given up. Logs
   * progress every 5 s.
   */
  Future<Integer> open(RunContext ctx, int parallel, long deadlineNanos) {
    long timer = ctx.vertx.setPeriodic(5000, id -> ctx.log("opening: %d of %d open, %d refusals, %d failures so far",
      stats.connected.get(), all.size(), stats.refusals.get(), stats.failures.get()));
    return Parallel.forEach(all.size(), parallel, i -> all.get(i).open(deadlineNanos).otherwise(t -> null))
      .map(v -> (int) all.stream().filter(s -> s.live).count())
      .onComplete(ar -> ctx.vertx.cancelTimer(timer));
  }

  long live() {
    return all.stream().filter(s -> s.live).count();
  }

  void close() {
    all.forEach(Subscriber::close);
  }

  JsonObject openJson() {
    return stats.toJson();
  }

  @Override
  public Clients clients() {
    return clients;
  }

  @Override
  public Subscriber.Listener listener() {
    return listener;
  }

  @Override
  public OpenStats stats() {
    return stats;
  }

  @Override
  public String userId(int i) {
    return users == null ? null : users.get(i);
  }

  @Override
  public String token(int i) {
    return tokens == null ? null : tokens.get(i);
  }

  @Override
  public String topic() {
    return topic;
  }

  @Override
  public URI uri(int i) {
    return uris.apply(i);
  }

  @Override
  public boolean structured() {
    return structured;
  }

  @Override
  public boolean switchboard() {
    return switchboard;
  }
}
