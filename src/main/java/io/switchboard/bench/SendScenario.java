package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code send}: durable REST sends ({@code POST /api/conversations/{id}/messages} with a
 * {@code clientMessageId}), S senders each in a closed loop (one send in flight, the next as soon
 * as the answer comes) over C conversations that every sender belongs to, the k-th send of
 * sender i going to conversation (i + k) mod C. After the measured phase the bench checks the
 * counting: each conversation's {@code lastSeq} moved by exactly the sends acknowledged in it,
 * and a repeated {@code clientMessageId} returns the original message without a new seq.
 */
final class SendScenario {

  private final RunContext ctx;
  private final BenchOptions o;
  private final SbApi api;
  private List<String> tokens;
  private final List<String> conversations = new ArrayList<>();
  private final List<String> owners = new ArrayList<>();

  private SendScenario(RunContext ctx) {
    this.ctx = ctx;
    this.o = ctx.o;
    this.api = new SbApi(ctx.clients, ctx.nodes.get(0));
  }

  static Future<Void> run(RunContext ctx) {
    return new SendScenario(ctx).go();
  }

  private Future<Void> go() {
    URI node = ctx.nodes.get(0);
    List<String> users = Tokens.names("send-" + ctx.runId + "-", o.senders);
    return new Tokens(ctx.clients, node, o.jwtSecret).tokens(users)
      .compose(toks -> {
        tokens = toks;
        ctx.log("creating %d conversations of %d senders", o.conversations, Math.min(o.senders, 500));
        String[] ids = new String[o.conversations];
        return Parallel.forEach(o.conversations, 8, c -> {
          int owner = c % o.senders;
          List<String> members = membersOf(users, owner);
          return api.createGroup(toks.get(owner), "send " + ctx.runId + " " + c, members)
            .map(g -> ids[c] = g.getString("id"));
        }).map(v -> {
          conversations.addAll(List.of(ids));
          for (int c = 0; c < o.conversations; c++) {
            owners.add(toks.get(c % o.senders));
          }
          return null;
        });
      })
      .compose(v -> phases(0));
  }

  /** The participants of a conversation owned by {@code owner}: every sender (at most 499 besides the owner). */
  private List<String> membersOf(List<String> users, int owner) {
    List<String> out = new ArrayList<>();
    for (int k = 1; k < users.size() && out.size() < 499; k++) {
      out.add(users.get((owner + k) % users.size()));
    }
    return out;
  }

  private Future<Void> phases(int phase) {
    if (phase >= o.warmup + o.runs) {
      return Future.succeededFuture();
    }
    boolean warm = phase < o.warmup;
    int seconds = warm ? Math.min(3, o.durationSeconds) : o.durationSeconds;
    return lastSeqs().compose(before -> phase(phase, seconds).compose(result -> lastSeqs().compose(after -> {
      JsonObject j = result.json;
      long moved = 0;
      long mismatched = 0;
      for (int c = 0; c < conversations.size(); c++) {
        long d = after[c] - before[c];
        moved += d;
        if (d != result.perConversation.get(c)) {
          mismatched++;
        }
      }
      j.put("seqsAllocated", moved).put("conversationsMismatched", mismatched)
        .put("lost", Math.max(0, j.getLong("sends") - moved));
      return idempotency(result).map(same -> {
        j.put("idempotentRetriesOk", same);
        if (warm) {
          ctx.log("warm-up: %s", summary(j));
        } else {
          j.put("run", phase - o.warmup + 1).put("warmup", false);
          ctx.log("run %d: %s", phase - o.warmup + 1, summary(j));
          ctx.out.accept(j);
        }
        return null;
      });
    }))).compose(v -> phases(phase + 1));
  }

  private Future<long[]> lastSeqs() {
    long[] out = new long[conversations.size()];
    return Parallel.forEach(conversations.size(), 8, c -> api.conversation(owners.get(c), conversations.get(c))
      .map(conv -> out[c] = conv.getLong("lastSeq", 0L))).map(out);
  }

  private record Result(JsonObject json, AtomicLongArray perConversation, String[] lastClientId, String[] lastMessageId,
                        int[] lastConversation) {
  }

  private Future<Result> phase(int phase, int seconds) {
    int s = o.senders;
    Latencies latencies = new Latencies((long) s * o.messages);
    AtomicLong ok = new AtomicLong();
    AtomicLong rateLimited = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLongArray perConversation = new AtomicLongArray(conversations.size());
    String[] lastClientId = new String[s];
    String[] lastMessageId = new String[s];
    int[] lastConversation = new int[s];
    RunContext.Meter start = RunContext.Meter.now(ctx.server);
    long end = start.nanos() + seconds * 1_000_000_000L;
    List<Future<Void>> loops = new ArrayList<>();
    for (int i = 0; i < s; i++) {
      int sender = i;
      Promise<Void> finished = Promise.promise();
      loops.add(finished.future());
      sendLoop(sender, 0, phase, end, latencies, ok, rateLimited, errors, perConversation,
        lastClientId, lastMessageId, lastConversation, finished);
    }
    return Future.join(loops).map(v -> {
      RunContext.Meter stop = RunContext.Meter.now(ctx.server);
      JsonObject j = ctx.line().put("warmup", true)
        .put("senders", s).put("conversations", conversations.size()).put("size", o.size);
      j.mergeIn(stop.since(start, ctx.server, stop.nanos()));
      double secs = j.getDouble("seconds");
      Double cpu = j.getDouble("serverCpuSeconds");
      j.put("sends", ok.get()).put("rateLimited", rateLimited.get()).put("errors", errors.get())
        .put("sendsPerSecond", Math.round(ok.get() / secs))
        .put("cpuMsPerSend", cpu == null || ok.get() == 0 ? null : Latencies.round(cpu * 1000 / ok.get()))
        .put("latencyMs", latencies.toJson());
      return new Result(j, perConversation, lastClientId, lastMessageId, lastConversation);
    });
  }

  private void sendLoop(int sender, int k, int phase, long end, Latencies latencies, AtomicLong ok, AtomicLong rateLimited,
                        AtomicLong errors, AtomicLongArray perConversation, String[] lastClientId, String[] lastMessageId,
                        int[] lastConversation, Promise<Void> finished) {
    if (System.nanoTime() >= end || k >= o.messages) {
      finished.complete();
      return;
    }
    int c = (sender + k) % conversations.size();
    String clientId = ctx.runId + "-" + phase + "-" + sender + "-" + k;
    long t0 = System.nanoTime();
    api.send(tokens.get(sender), conversations.get(c), Marker.text(Marker.BENCH, k, t0, o.size), clientId)
      .onComplete(ar -> {
        long delay = 0;
        int next = k + 1;
        if (ar.succeeded() && ar.result().statusCode() == 201) {
          latencies.record(System.nanoTime() - t0);
          ok.incrementAndGet();
          perConversation.incrementAndGet(c);
          lastClientId[sender] = clientId;
          lastMessageId[sender] = ar.result().bodyAsJsonObject().getString("id");
          lastConversation[sender] = c;
        } else if (ar.succeeded() && ar.result().statusCode() == 429) {
          rateLimited.incrementAndGet();
          delay = Subscriber.retryAfter(ar.result().getHeader("Retry-After"), 1000);
          next = k;
        } else {
          if (errors.incrementAndGet() <= 3) {
            ctx.log("send failed: %s", ar.failed() ? ar.cause().getMessage()
              : ar.result().statusCode() + " " + ar.result().bodyAsString());
          }
          delay = 100;
        }
        int n = next;
        Runnable again = () -> sendLoop(sender, n, phase, end, latencies, ok, rateLimited, errors, perConversation,
          lastClientId, lastMessageId, lastConversation, finished);
        if (delay > 0) {
          ctx.vertx.setTimer(delay, id -> again.run());
        } else {
          again.run();
        }
      });
  }

  /** Repeats the last send of up to 8 senders: the same message must come back. */
  private Future<Boolean> idempotency(Result r) {
    List<Future<Boolean>> checks = new ArrayList<>();
    for (int i = 0; i < Math.min(8, r.lastClientId.length); i++) {
      if (r.lastClientId[i] == null) {
        continue;
      }
      String expectedId = r.lastMessageId[i];
      checks.add(api.send(tokens.get(i), conversations.get(r.lastConversation[i]), "retry", r.lastClientId[i])
        .map(resp -> resp.statusCode() / 100 == 2 && expectedId.equals(resp.bodyAsJsonObject().getString("id"))));
    }
    return Future.all(checks).map(cf -> checks.stream().allMatch(f -> f.result()));
  }

  static String summary(JsonObject j) {
    return String.format(java.util.Locale.ROOT, "%d sends in %.1f s: %d/s, p50 %.1f p99 %.1f ms, %s ms node CPU per send; lost %d, %d rate-limited, %d errors, retries idempotent: %s%s",
      j.getLong("sends"), j.getDouble("seconds"), j.getLong("sendsPerSecond"),
      j.getJsonObject("latencyMs").getDouble("p50"), j.getJsonObject("latencyMs").getDouble("p99"),
      j.getValue("cpuMsPerSend"), j.getLong("lost"), j.getLong("rateLimited"), j.getLong("errors"),
      j.getBoolean("idempotentRetriesOk"), j.getBoolean("clientBound") ? " (client-bound)" : "");
  }
}
