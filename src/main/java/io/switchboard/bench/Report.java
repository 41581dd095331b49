package io.switchboard.bench;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code bench report FILE...}: one comparison line per scenario from the JSON lines of runs
 * (and {@code {"scenario":"pgbench","tps":…}} lines), Switchboard first, then each other target,
 * then the ratio the targets are judged by. Several runs of one scenario and target: the median
 * run (by the headline figure) is shown.
 */
final class Report {

  private Report() {
  }

  static int main(String[] files) {
    if (files.length == 0) {
      System.err.println("usage: bench report RESULTS.jsonl...");
      return 2;
    }
    List<JsonObject> lines = new ArrayList<>();
    for (String f : files) {
      try {
        for (String line : Files.readAllLines(Path.of(f))) {
          if (line.startsWith("{")) {
            try {
              lines.add(new JsonObject(line));
            } catch (RuntimeException e) {
              // not one of ours
            }
          }
        }
      } catch (IOException e) {
        System.err.println("bench report: cannot read " + f + ": " + e.getMessage());
        return 1;
      }
    }
    render(lines).forEach(System.out::println);
    return 0;
  }

  /** The comparison lines for these runs. */
  static List<String> render(List<JsonObject> lines) {
    Map<String, Map<String, List<JsonObject>>> byKey = new LinkedHashMap<>();
    List<JsonObject> pgbench = new ArrayList<>();
    for (JsonObject j : lines) {
      if ("pgbench".equals(j.getString("scenario"))) {
        pgbench.add(j);
        continue;
      }
      // Soak samples and nemesis events are the series behind a summary line, not runs.
      if (j.getBoolean("warmup", false) || j.getString("scenario") == null || j.getString("record") != null) {
        continue;
      }
      byKey.computeIfAbsent(key(j), k -> new LinkedHashMap<>())
        .computeIfAbsent(j.getString("target", "?"), t -> new ArrayList<>()).add(j);
    }
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Map<String, List<JsonObject>>> e : byKey.entrySet()) {
      Map<String, List<JsonObject>> targets = e.getValue();
      List<String> names = new ArrayList<>(targets.keySet());
      names.sort(Comparator.comparing(n -> "switchboard".equals(n) ? 0 : 1));
      String scenario = targets.get(names.get(0)).get(0).getString("scenario");
      List<String> parts = new ArrayList<>();
      Map<String, JsonObject> chosen = new LinkedHashMap<>();
      for (String name : names) {
        JsonObject j = median(targets.get(name), headline(scenario));
        chosen.put(name, j);
        parts.add(name + " " + figures(scenario, j));
      }
      String line = e.getKey() + ": " + String.join(" | ", parts);
      String ratio = ratio(scenario, chosen, pgbench, byKey);
      out.add(ratio == null ? line : line + " | " + ratio);
    }
    return out;
  }

  static String key(JsonObject j) {
    String s = j.getString("scenario");
    String t = j.getString("transport", "");
    return switch (s) {
      case "fanout", "cluster" -> s + "-" + t + " " + j.getInteger("subscribers") + "x" + j.getInteger("messages")
        + (j.getInteger("nodes", 1) > 1 ? " (" + j.getInteger("nodes") + " nodes)" : "");
      case "latency" -> s + "-" + t + " " + j.getInteger("subscribers") + "x" + j.getInteger("messages") + "@"
        + j.getInteger("rate") + "/s";
      case "idle" -> s + "-" + t + " " + j.getInteger("connections");
      case "send" -> s + " " + j.getInteger("senders") + "x" + j.getInteger("conversations");
      case "storm" -> s + "-" + t + " " + j.getInteger("clients") + "x" + j.getInteger("conversationsPerClient");
      case "failover" -> s + "-" + t + " " + j.getInteger("clients") + " on " + j.getInteger("nodes") + " nodes";
      case "soak" -> s + " " + j.getInteger("clients") + " clients on " + j.getInteger("nodes") + " nodes, "
        + j.getInteger("durationSeconds") + " s";
      default -> s;
    };
  }

  private static Function<JsonObject, Double> headline(String scenario) {
    return switch (scenario) {
      case "fanout", "cluster" -> j -> num(j, "cpuSecondsPer1M");
      case "latency" -> j -> num(j.getJsonObject("latencyMs"), "p99");
      case "idle" -> j -> num(j, "rssPerConnectionKiB");
      case "send" -> j -> num(j, "sendsPerSecond");
      case "storm" -> j -> num(j, "secondsToLastConnected");
      case "failover" -> j -> num(j, "secondsToAllResumed");
      case "soak" -> j -> num(j, "lost");
      default -> j -> 0.0;
    };
  }

  private static JsonObject median(List<JsonObject> runs, Function<JsonObject, Double> by) {
    List<JsonObject> sorted = new ArrayList<>(runs);
    sorted.sort(Comparator.comparing(j -> by.apply(j) == null ? Double.MAX_VALUE : by.apply(j)));
    return sorted.get((sorted.size() - 1) / 2);
  }

  private static String figures(String scenario, JsonObject j) {
    String bound = (j.getBoolean("clientBound", false) ? " (client-bound)" : "")
      + ("conversation".equals(j.getString("channel")) ? " (via a conversation)" : "");
    String lost = j.getLong("lost", 0L) != 0 || j.getLong("duplicates", 0L) != 0
      ? " [lost " + j.getLong("lost") + ", duplicates " + j.getLong("duplicates") + "]" : "";
    return switch (scenario) {
      case "fanout", "cluster" -> f("%d/s %s CPU-s/1M p99 %s ms", j.getLong("deliveriesPerSecond"),
        fmt(num(j, "cpuSecondsPer1M")), fmt(num(j.getJsonObject("latencyMs"), "p99"))) + lost + bound;
      case "latency" -> f("p50 %s p99 %s max %s ms, %s CPU-s/1M", fmt(num(j.getJsonObject("latencyMs"), "p50")),
        fmt(num(j.getJsonObject("latencyMs"), "p99")), fmt(num(j.getJsonObject("latencyMs"), "max")),
        fmt(num(j, "cpuSecondsPer1M"))) + lost + bound;
      case "idle" -> f("%s KiB RSS/conn", fmt(num(j, "rssPerConnectionKiB")))
        + (j.containsKey("heapPerConnectionKiB") ? f(", %s KiB heap/conn", fmt(num(j, "heapPerConnectionKiB"))) : "")
        + f(" (%d/%d open in %s s)", j.getInteger("connectionsOpen"), j.getInteger("connections"), fmt(num(j, "openSeconds")));
      case "send" -> f("%d sends/s p50 %s p99 %s ms, %s ms CPU/send, lost %d, errors %d", j.getLong("sendsPerSecond"),
        fmt(num(j.getJsonObject("latencyMs"), "p50")), fmt(num(j.getJsonObject("latencyMs"), "p99")),
        fmt(num(j, "cpuMsPerSend")), j.getLong("lost"), j.getLong("errors") + j.getLong("rateLimited", 0L)) + bound;
      case "storm" -> {
        JsonObject opens = j.getJsonObject("opens", new JsonObject());
        yield f("%d/%d connected, the last after %s s; refusals %d, failures %d, retries %d, gave up %d; %d clients received all (lost %d, duplicates %d)",
          j.getInteger("open"), j.getInteger("clients"), fmt(num(j, "secondsToLastConnected")),
          opens.getInteger("refusals", 0), opens.getInteger("failures", 0), opens.getInteger("retries", 0),
          opens.getInteger("gaveUp", 0), j.getLong("clientsReceivingAll"), j.getLong("lost"), j.getLong("duplicates")) + bound;
      }
      case "failover" -> f("%d/%d resumed in %s s; %d acknowledged sends: lost %d, duplicates %d, reordered %d, resync_required %d",
        j.getInteger("resumed"), j.getInteger("victims"), fmt(num(j, "secondsToAllResumed")), j.getLong("acknowledged"),
        j.getLong("lost"), j.getLong("duplicates"), j.getLong("reordered"), j.getLong("resyncs"));
      case "soak" -> f("checker %s: %d acknowledged sends, %d deliveries: lost %d, duplicates %d, reordered %d, resync_required %d; %d/%d nemeses healed; series %s",
        j.getString("checker"), j.getLong("acknowledged"), j.getLong("deliveriesExpected"), j.getLong("lost"),
        j.getLong("duplicates"), j.getLong("reordered"), j.getLong("resyncs"), j.getLong("nemesesHealed"),
        j.getLong("nemeses"), j.getBoolean("allFlat", false) ? "flat" : "NOT all flat");
      default -> j.encode();
    };
  }

  private static String ratio(String scenario, Map<String, JsonObject> chosen, List<JsonObject> pgbench,
                              Map<String, Map<String, List<JsonObject>>> all) {
    JsonObject sb = chosen.get("switchboard");
    if (sb == null) {
      return null;
    }
    JsonObject other = chosen.entrySet().stream().filter(e -> !"switchboard".equals(e.getKey()))
      .map(Map.Entry::getValue).findFirst().orElse(null);
    switch (scenario) {
      case "fanout" -> {
        return other == null ? null : "cost ratio " + fmt(div(num(sb, "cpuSecondsPer1M"), num(other, "cpuSecondsPer1M")));
      }
      case "latency" -> {
        return other == null ? null : "p99 ratio " + fmt(div(num(sb.getJsonObject("latencyMs"), "p99"),
          num(other.getJsonObject("latencyMs"), "p99")));
      }
      case "idle" -> {
        return other == null ? null : "RSS ratio " + fmt(div(num(sb, "rssPerConnectionKiB"), num(other, "rssPerConnectionKiB")));
      }
      case "send" -> {
        if (pgbench.isEmpty()) {
          return null;
        }
        JsonObject pg = pgbench.get(pgbench.size() - 1);
        return f("pgbench %s tps (%d clients) | ratio %s", fmt(num(pg, "tps")), pg.getInteger("clients", 0),
          fmt(div(num(sb, "sendsPerSecond"), num(pg, "tps"))));
      }
      case "cluster" -> {
        // The same size on one node, from the fanout runs of the same file.
        String single = "fanout-" + sb.getString("transport") + " " + sb.getInteger("subscribers") + "x" + sb.getInteger("messages");
        Map<String, List<JsonObject>> one = all.get(single);
        if (one == null || one.get("switchboard") == null) {
          return null;
        }
        JsonObject s = median(one.get("switchboard"), headline("fanout"));
        return f("single node %s CPU-s/1M | cross-node ratio %s", fmt(num(s, "cpuSecondsPer1M")),
          fmt(div(num(sb, "cpuSecondsPer1M"), num(s, "cpuSecondsPer1M"))));
      }
      default -> {
        return null;
      }
    }
  }

  private static Double num(JsonObject j, String field) {
    if (j == null || !(j.getValue(field) instanceof Number n)) {
      return null;
    }
    return n.doubleValue();
  }

  private static Double div(Double a, Double b) {
    return a == null || b == null || b == 0 ? null : a / b;
  }

  private static String fmt(Double v) {
    if (v == null) {
      return "n/a";
    }
    double a = Math.abs(v);
    return a >= 100 ? String.format(Locale.ROOT, "%.0f", v) : a >= 10 ? String.format(Locale.ROOT, "%.1f", v)
      : String.format(Locale.ROOT, "%.2f", v);
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
