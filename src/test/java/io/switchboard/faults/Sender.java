package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.switchboard.faults.DeliveryChecker.Violation;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;

/**
 * A steady REST sender: one user, homed on one node, sending one message at a time to its groups
 * in turn, each with a fresh {@code clientMessageId}. A send that gets 503, 504, a timeout or a
 * connection failure is retried with the same {@code clientMessageId} on the next node — safe,
 * since sends are idempotent (SPEC §3) — until it is acknowledged or the give-up time passes.
 * After a failure the sender stays on the node that answered and probes its home again (with a
 * short timeout) every few seconds, as a client behind a health-checking balancer would.
 */
final class Sender {

  private static final long PROBE_EVERY_MS = 3000;

  final int index;
  final String userId;
  final String token;
  final int home;
  private final List<String> groups;
  private final String run;
  private final Harness harness;
  private final DeliveryChecker checker;
  private final Context context;
  private final Promise<Void> done = Promise.promise();

  // Confined to the context.
  private int preferred;
  private long awaySince = -1;
  private long sent;
  private volatile boolean stopping;
  private volatile boolean started;
  private volatile long interval = Math.max(1, Knobs.sendIntervalMs());

  Sender(int index, String userId, int home, List<String> groups, String run, Harness harness,
         DeliveryChecker checker) {
    this.index = index;
    this.userId = userId;
    this.token = Harness.token(userId);
    this.home = home;
    this.preferred = home;
    this.groups = List.copyOf(groups);
    this.run = run;
    this.harness = harness;
    this.checker = checker;
    this.context = harness.vertx().getOrCreateContext();
  }

  /** Sets the pause between an acknowledged send and the next (1 ms: full speed, one send in flight). */
  void pace(long ms) {
    interval = Math.max(1, ms);
  }

  void start() {
    started = true;
    context.runOnContext(v -> next());
  }

  /** Finishes the send in flight (retrying it until acknowledged or given up), then stops. */
  Future<Void> stop() {
    stopping = true;
    if (!started) {
      done.tryComplete();
    }
    return done.future();
  }

  private void next() {
    if (stopping) {
      done.tryComplete();
      return;
    }
    long n = sent++;
    String conv = groups.get((int) ((index + n) % groups.size()));
    String cmid = run + "-s" + index + "-" + n;
    JsonObject body = new JsonObject()
      .put("content", "m " + index + "/" + n)
      .put("clientMessageId", cmid);
    attempt(conv, cmid, body, checker.now(), 0);
  }

  private int target() {
    if (awaySince >= 0 && checker.now() - awaySince > PROBE_EVERY_MS * 1_000_000) {
      awaySince = checker.now();
      return home;
    }
    return preferred;
  }

  private void attempt(String conv, String cmid, JsonObject body, long first, int tries) {
    int node = target();
    boolean probe = node == home && preferred != home;
    long start = checker.now();
    harness.call(node, HttpMethod.POST, "/api/conversations/" + conv + "/messages", token, body,
        probe ? Knobs.probeTimeoutMs() : Knobs.sendTimeoutMs())
      .onComplete(ar -> {
        long end = checker.now();
        String outcome = ar.succeeded() ? String.valueOf(ar.result().status())
          : ar.cause() instanceof TimeoutException ? "timeout"
          : ar.cause() instanceof java.net.ConnectException ? "refused" : "connection failed";
        checker.attempt(index, node, start, end, outcome);
        if (ar.succeeded() && ar.result().status() == 201) {
          JsonObject m = ar.result().json();
          checker.acked(new Ack(index, conv, cmid, m.getLong("seq"), m.getString("id"), node, first, end));
          if (node == home) {
            preferred = home;
            awaySince = -1;
          }
          harness.vertx().setTimer(interval, id -> next());
          return;
        }
        boolean retryable = ar.failed() || switch (ar.result().status()) {
          case 429, 500, 502, 503, 504 -> true;
          default -> false;
        };
        if (!retryable) {
          checker.violation(Violation.SEND_REJECTED, cmid + " on node " + node + ": " + ar.result().status() + " "
            + ar.result().body());
          harness.vertx().setTimer(interval, id -> next());
          return;
        }
        if ((end - first) / 1_000_000_000L > Knobs.sendGiveUpSeconds()) {
          checker.violation(Violation.NEVER_ACKED, cmid + " (" + conv + ") last answer " + outcome);
          harness.vertx().setTimer(interval, id -> next());
          return;
        }
        long delay;
        if (ar.succeeded() && ar.result().status() == 429) {
          delay = retryAfter(ar.result().retryAfter());
        } else {
          if (probe) {
            // Home still fails: stay where the sends go through, probe again later.
            awaySince = end;
          } else {
            // Leave the node that failed; stay on the one that answers next.
            preferred = (node + 1) % harness.size();
            awaySince = preferred == home ? -1 : awaySince < 0 ? end : awaySince;
          }
          delay = ar.failed() ? 20 : 200 + ThreadLocalRandom.current().nextLong(200);
        }
        if (tries == 0) {
          checker.count("sends retried");
        }
        harness.vertx().setTimer(delay, id -> attempt(conv, cmid, body, first, tries + 1));
      });
  }

  private static long retryAfter(String header) {
    try {
      return Math.max(100, Long.parseLong(header.trim()) * 1000);
    } catch (RuntimeException e) {
      return 1000;
    }
  }
}
