package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.switchboard.faults.DeliveryChecker.Attempt;
import io.switchboard.faults.DeliveryChecker.Resume;
import io.switchboard.faults.DeliveryChecker.Violation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The verdict and figures of one fault run, as text: printed to the test's output and written to
 * {@code target/faults/<scenario>.txt}, from where docs/RELIABILITY.md takes its figures.
 */
final class RunReport {

  private RunReport() {
  }

  static String build(String title, Population population, Harness harness, DeliveryChecker checker,
                      long committed, double convergeSeconds, List<String> checks, List<String> notes) {
    StringBuilder sb = new StringBuilder();
    Map<Violation, Long> violations = checker.violations();
    boolean pass = violations.isEmpty() && checks.stream().noneMatch(c -> c.startsWith("FAIL"));
    sb.append("== ").append(title).append(": ").append(pass ? "PASS" : "FAIL").append(" ==\n");
    long sse = population.clients.stream().filter(c -> c instanceof SseStreamClient).count();
    sb.append(String.format(Locale.ROOT, "stage: %d nodes, %d clients (%d SSE, %d WebSocket), %d groups, %d senders%n",
      harness.size(), population.clients.size(), sse, population.clients.size() - sse, population.groups.size(),
      population.senders.size()));

    long fault = checker.markAt("fault");
    long recovered = checker.markAt("recovered");
    long windowEnd = recovered >= 0 ? recovered : Long.MAX_VALUE;
    List<Ack> acks = List.copyOf(checker.acks());
    Map<String, Long> counters = checker.counters();
    sb.append(String.format(Locale.ROOT, "messages: %d acknowledged, %d committed; deliveries %d on streams, %d loaded "
        + "from history; resync_required %d%n", acks.size(), committed, counters.getOrDefault("deliveries", 0L),
      counters.getOrDefault("history loads", 0L), counters.getOrDefault("resyncs", 0L)));

    long[] lag = checker.lagQuantiles(0.5, 0.99, 1.0);
    sb.append(String.format(Locale.ROOT, "delivery lag (commit → client stream, live and replayed): p50 %d ms, "
      + "p99 %d ms, max %d ms%n", lag[0], lag[1], lag[2]));
    List<Resume> resumes = checker.resumes();
    long maxOutage = 0;
    long lastAfterFault = -1;
    int affected = 0;
    for (Resume r : resumes) {
      if (fault >= 0 && r.lost() >= fault) {
        affected++;
        maxOutage = Math.max(maxOutage, r.connected() - r.lost());
        lastAfterFault = Math.max(lastAfterFault, r.connected() - fault);
      }
    }
    sb.append(String.format(Locale.ROOT, "resume: %d streams resumed after the fault; longest gap (lost → connected) "
      + "%s; last one connected %s after the fault%n", affected, seconds(maxOutage), lastAfterFault < 0 ? "-"
      : seconds(lastAfterFault)));

    long maxSend = 0;
    long maxSendAll = 0;
    for (Ack a : acks) {
      long latency = a.acked() - a.firstAttempt();
      maxSendAll = Math.max(maxSendAll, latency);
      if (fault >= 0 && a.firstAttempt() >= fault && a.firstAttempt() <= windowEnd) {
        maxSend = Math.max(maxSend, latency);
      }
    }
    Map<String, Integer> outcomes = new TreeMap<>();
    Map<String, Integer> allOutcomes = new TreeMap<>();
    for (Attempt at : checker.attempts()) {
      allOutcomes.merge(at.outcome(), 1, Integer::sum);
      if (fault >= 0 && at.end() >= fault && at.start() <= windowEnd) {
        outcomes.merge(at.outcome(), 1, Integer::sum);
      }
    }
    sb.append(String.format(Locale.ROOT, "sends: max latency (first attempt → ack) %s during the fault, %s over the "
      + "run; %d sends needed a retry; attempts during the fault %s, over the run %s%n", seconds(maxSend),
      seconds(maxSendAll), counters.getOrDefault("sends retried", 0L), outcomes, allOutcomes));
    sb.append("clients: ").append(filter(counters, k -> k.startsWith("lost: ") || k.startsWith("close ")
      || k.startsWith("reloads") || k.startsWith("history loads given up") || k.startsWith("open error")
      || k.equals("opens")
      || k.equals("resumes") || k.equals("moves")
      || k.equals("try-again answers") || k.equals("reconnect events"))).append('\n');
    sb.append(String.format(Locale.ROOT, "converged: %s after the senders stopped%n",
      convergeSeconds < 0 ? "not" : String.format(Locale.ROOT, "%.1f s", convergeSeconds)));
    sb.append("timeline:");
    checker.marks().forEach(m -> sb.append(' ').append(m.what()).append(' ').append(checker.clock(m.at())).append(';'));
    sb.append('\n');
    notes.forEach(n -> sb.append(n).append('\n'));
    harness.incidents().forEach(i -> sb.append("HARNESS: ").append(i).append('\n'));
    checks.forEach(c -> sb.append(c).append('\n'));
    if (violations.isEmpty()) {
      sb.append("checker: clean (no loss, duplicate, inversion, silent gap or double answer)\n");
    } else {
      violations.forEach((v, n) -> {
        sb.append("VIOLATION ").append(v).append(" × ").append(n).append(": ").append(v.meaning).append('\n');
        checker.examples(v).forEach(e -> sb.append("    e.g. ").append(e).append('\n'));
      });
    }
    sb.append("node logs:\n").append(harness.logs());
    return sb.toString();
  }

  private static Map<String, Long> filter(Map<String, Long> counters, java.util.function.Predicate<String> keep) {
    Map<String, Long> out = new TreeMap<>();
    counters.forEach((k, v) -> {
      if (keep.test(k)) {
        out.put(k, v);
      }
    });
    return out;
  }

  static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
  }

  /** Writes the report to {@code target/faults/<name>.txt} (the working directory is the project). */
  static void write(String name, String report) {
    try {
      Path dir = Path.of("target", "faults");
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(name + ".txt"), report, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
