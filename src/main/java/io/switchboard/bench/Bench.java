package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code java -jar switchboard.jar bench}: a bounded fan-out load against a running node. One
 * publisher posts {@code --messages} messages at {@code --rate} per second into a group of
 * {@code --subscribers} WebSocket clients; the report gives deliveries, throughput and the
 * publish-to-delivery latency. Needs {@code auth.devTokens} on the target (the default) and a
 * message rate limit at or above {@code --rate}. Every run is bounded in count and time.
 */
public final class Bench {

  /** What a run is asked to do. */
  public record Options(URI url, int subscribers, int messages, int rate, int timeoutSeconds) {

    static Options parse(List<String> args) {
      URI url = URI.create("http://127.0.0.1:8080");
      int subscribers = 100;
      int messages = 100;
      int rate = 10;
      int timeout = 120;
      for (int i = 0; i < args.size(); i++) {
        String a = args.get(i);
        String v = i + 1 < args.size() ? args.get(i + 1) : null;
        if (v == null) {
          throw new IllegalArgumentException("missing value after " + a);
        }
        switch (a) {
          case "--url" -> url = URI.create(v);
          case "--subscribers" -> subscribers = bounded(a, v, 1, 500);
          case "--messages" -> messages = bounded(a, v, 1, 100_000);
          case "--rate" -> rate = bounded(a, v, 1, 10_000);
          case "--timeout" -> timeout = bounded(a, v, 1, 3600);
          default -> throw new IllegalArgumentException("unknown option " + a);
        }
        i++;
      }
      return new Options(url, subscribers, messages, rate, timeout);
    }

    private static int bounded(String name, String value, int min, int max) {
      try {
        int n = Integer.parseInt(value);
        if (n < min || n > max) {
          throw new IllegalArgumentException(name + " must be between " + min + " and " + max);
        }
        return n;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(name + " must be a whole number");
      }
    }
  }

  /** What a run measured. */
  public record Report(int messagesSent, long deliveriesExpected, long deliveries, double seconds,
                       double p50Ms, double p90Ms, double p99Ms, double maxMs) {

    public JsonObject toJson() {
      return new JsonObject().put("messagesSent", messagesSent).put("deliveriesExpected", deliveriesExpected)
        .put("deliveries", deliveries).put("seconds", seconds)
        .put("deliveriesPerSecond", seconds > 0 ? deliveries / seconds : 0)
        .put("latencyMs", new JsonObject().put("p50", p50Ms).put("p90", p90Ms).put("p99", p99Ms).put("max", maxMs));
    }
  }

  private Bench() {
  }

  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(Arrays.asList(args));
    } catch (IllegalArgumentException e) {
      System.err.println("switchboard bench: " + e.getMessage());
      System.err.println("usage: bench [--url http://127.0.0.1:8080] [--subscribers 100] [--messages 100] [--rate 10] [--timeout 120]");
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    try {
      Report report = run(vertx, options).toCompletionStage().toCompletableFuture()
        .get(options.timeoutSeconds() + 30L, TimeUnit.SECONDS);
      System.out.println(report.toJson().encodePrettily());
    } catch (Exception e) {
      System.err.println("switchboard bench: " + e.getMessage());
      System.exit(1);
    } finally {
      vertx.close();
    }
  }

  /** Runs one bounded fan-out measurement. */
  public static Future<Report> run(Vertx vertx, Options o) {
    String host = o.url().getHost();
    int port = o.url().getPort() > 0 ? o.url().getPort() : 80;
    WebClient http = WebClient.create(vertx, new WebClientOptions().setDefaultHost(host).setDefaultPort(port));
    WebSocketClient ws = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxConnections(o.subscribers() + 1));
    String run = UUID.randomUUID().toString().substring(0, 8);
    String publisher = "bench-pub-" + run;
    List<String> users = new ArrayList<>();
    for (int i = 0; i < o.subscribers(); i++) {
      users.add("bench-" + run + "-" + i);
    }
    long[] latencies = new long[(int) Math.min(Integer.MAX_VALUE - 8, (long) o.messages() * o.subscribers())];
    AtomicLong delivered = new AtomicLong();
    long expected = (long) o.messages() * o.subscribers();
    Promise<Void> allDelivered = Promise.promise();

    return token(http, publisher).compose(pubToken -> http.post("/api/groups").bearerTokenAuthentication(pubToken)
        .sendJsonObject(new JsonObject().put("name", "bench " + run).put("participantIds", new JsonArray(users)))
        .compose(r -> r.statusCode() == 201 ? Future.succeededFuture(r.bodyAsJsonObject().getString("id"))
          : Future.failedFuture("cannot create the group: " + r.bodyAsString()))
        .compose(conv -> {
          List<Future<Void>> connected = new ArrayList<>();
          for (String user : users) {
            connected.add(token(http, user).compose(t -> subscriber(ws, host, port, t, conv, latencies, delivered,
              expected, allDelivered)));
          }
          return Future.all(connected).map(conv);
        })
        .compose(conv -> {
          long started = System.nanoTime();
          publish(vertx, http, pubToken, conv, o);
          long timer = vertx.setTimer(o.timeoutSeconds() * 1000L, id -> allDelivered.tryComplete());
          return allDelivered.future().map(v -> {
            vertx.cancelTimer(timer);
            return report(o.messages(), expected, delivered.get(), (System.nanoTime() - started) / 1e9, latencies);
          });
        }))
      .eventually(() -> ws.close().eventually(() -> {
        http.close();
        return Future.succeededFuture();
      }));
  }

  private static Future<String> token(WebClient http, String userId) {
    return http.post("/api/auth/dev-token").sendJsonObject(new JsonObject().put("userId", userId))
      .compose(r -> r.statusCode() == 201 ? Future.succeededFuture(r.bodyAsJsonObject().getString("token"))
        : Future.failedFuture("cannot get a development token (is auth.devTokens on?): " + r.statusCode()));
  }

  private static Future<Void> subscriber(WebSocketClient ws, String host, int port, String token, String conv,
                                         long[] latencies, AtomicLong delivered, long expected, Promise<Void> done) {
    Promise<Void> connected = Promise.promise();
    ws.connect(new WebSocketConnectOptions().setHost(host).setPort(port).setURI("/api/ws?token=" + token))
      .onSuccess(socket -> socket.textMessageHandler(text -> {
        JsonObject env = new JsonObject(text);
        String type = env.getString("type");
        if ("connected".equals(type)) {
          connected.tryComplete();
        } else if ("message_received".equals(type)) {
          JsonObject content = env.getJsonObject("payload").getJsonObject("content");
          if (content != null && conv.equals(env.getJsonObject("payload").getString("conversationId"))) {
            long n = delivered.getAndIncrement();
            if (n < latencies.length) {
              latencies[(int) n] = System.nanoTime() - content.getLong("sentNanos");
            }
            if (n + 1 == expected) {
              done.tryComplete();
            }
          }
        }
      }))
      .onFailure(connected::tryFail);
    return connected.future();
  }

  private static void publish(Vertx vertx, WebClient http, String token, String conv, Options o) {
    long period = Math.max(1, 1000L / o.rate());
    long[] sent = {0};
    vertx.setPeriodic(period, id -> {
      if (sent[0] >= o.messages()) {
        vertx.cancelTimer(id);
        return;
      }
      long n = sent[0]++;
      http.post("/api/conversations/" + conv + "/messages").bearerTokenAuthentication(token)
        .sendJsonObject(new JsonObject().put("content", new JsonObject().put("n", n).put("sentNanos", System.nanoTime())));
    });
  }

  private static Report report(int messages, long expected, long delivered, double seconds, long[] latencies) {
    int n = (int) Math.min(delivered, latencies.length);
    long[] sorted = Arrays.copyOf(latencies, n);
    Arrays.sort(sorted);
    return new Report(messages, expected, delivered, seconds, pct(sorted, 0.50), pct(sorted, 0.90), pct(sorted, 0.99),
      n == 0 ? 0 : sorted[n - 1] / 1e6);
  }

  private static double pct(long[] sorted, double q) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1e6;
  }
}
