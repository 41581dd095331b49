package io.switchboard.bench;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What one {@code bench <scenario>} invocation is asked to do. Every count and time is bounded,
 * so a run always ends by itself. Defaults depend on the scenario (see {@link #parse}).
 */
final class BenchOptions {

  /** The scenarios, in the order {@code bench/run.sh} runs them. */
  static final List<String> SCENARIOS = List.of("fanout", "latency", "idle", "send", "cluster", "storm", "failover",
    "soak");

  String scenario;
  /** {@code switchboard}, or the name of a template target (e.g. {@code nchan}). */
  String target = "switchboard";
  /** Switchboard nodes: subscribers are spread over them, publishes go to the first. */
  List<URI> urls = new ArrayList<>(List.of(URI.create("http://127.0.0.1:8080")));
  /** Template target: publish URL ({@code POST}, body = message) and subscribe URL, with {@code {channel}}. */
  String pub;
  String sub;
  Transport transport = Transport.SSE;
  /** Switchboard fan-out channel: {@code topic} ({@code POST /api/publish}) or {@code conversation} (durable sends). */
  String channel = "topic";
  /** Subscribers (fanout, latency, cluster), connections (idle) or clients (storm, failover). */
  int count = 1000;
  int messages = 500;
  /** Publishes per second; 0 = as fast as the window allows. */
  int rate = 0;
  /** Publishes not yet delivered to every subscriber, at most (as-fast-as-possible mode). */
  int window = 16;
  int size = 64;
  List<Long> pids = new ArrayList<>();
  List<Long> pidTrees = new ArrayList<>();
  /** Read the live heap with jcmd (idle; Switchboard pids only). */
  boolean heap = true;
  int sources = 8;
  int openConcurrency = 64;
  int timeoutSeconds = 120;
  int warmup = 0;
  int runs = 1;
  String apiKey = "dev-key";
  String jwtSecret;
  String label;
  // send
  int senders = 64;
  int conversations = 64;
  int durationSeconds = 10;
  // storm
  int perClient = 10;
  int groupSize = 100;
  // cluster / failover: node processes the bench starts itself
  int spawn = 0;
  String dbUrl;
  String nodeHeap = "768m";
  boolean gzip;
  /** Seconds to hold idle connections open before measuring. */
  int holdSeconds = 2;
  // soak
  int nemesisEverySeconds = 60;
  int sampleEverySeconds = 10;

  /** Parses {@code bench <scenario> [options]}; throws {@link IllegalArgumentException} with a clear reason. */
  static BenchOptions parse(List<String> args) {
    if (args.isEmpty() || args.get(0).startsWith("-")) {
      throw new IllegalArgumentException("name a scenario: one of " + String.join(", ", SCENARIOS));
    }
    BenchOptions o = new BenchOptions();
    o.scenario = args.get(0).toLowerCase(Locale.ROOT);
    if (!SCENARIOS.contains(o.scenario)) {
      throw new IllegalArgumentException("unknown scenario '" + args.get(0) + "': one of " + String.join(", ", SCENARIOS));
    }
    o.defaults();
    Set<String> seen = new java.util.HashSet<>();
    for (int i = 1; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--no-heap")) {
        o.heap = false;
        continue;
      }
      if (a.equals("--gzip")) {
        o.gzip = true;
        continue;
      }
      String v = i + 1 < args.size() ? args.get(i + 1) : null;
      if (v == null) {
        throw new IllegalArgumentException("missing value after " + a);
      }
      i++;
      boolean repeatable = a.equals("--pid") || a.equals("--pid-tree");
      if (!repeatable && !seen.add(a)) {
        throw new IllegalArgumentException(a + " given twice");
      }
      switch (a) {
        case "--target" -> o.target = name(a, v);
        case "--url" -> o.urls = urls(v);
        case "--pub" -> o.pub = template(a, v);
        case "--sub" -> o.sub = template(a, v);
        case "--transport" -> o.transport = Transport.parse(v);
        case "--channel" -> o.channel = oneOf(a, v, "topic", "conversation");
        case "--subscribers", "--connections", "--clients" -> o.count = bounded(a, v, 1, 20_000);
        case "--messages" -> o.messages = bounded(a, v, 1, 1_000_000);
        case "--rate" -> o.rate = bounded(a, v, 0, 100_000);
        case "--window" -> o.window = bounded(a, v, 1, 100_000);
        case "--size" -> o.size = bounded(a, v, 16, 60_000);
        case "--pid" -> o.pids.addAll(pids(a, v));
        case "--pid-tree" -> o.pidTrees.addAll(pids(a, v));
        case "--sources" -> o.sources = bounded(a, v, 1, 250);
        case "--open-concurrency" -> o.openConcurrency = bounded(a, v, 1, 20_000);
        case "--timeout" -> o.timeoutSeconds = bounded(a, v, 1, 3600);
        case "--warmup" -> o.warmup = bounded(a, v, 0, 10);
        case "--runs" -> o.runs = bounded(a, v, 1, 100);
        case "--api-key" -> o.apiKey = v;
        case "--jwt-secret" -> o.jwtSecret = v;
        case "--label" -> o.label = v;
        case "--senders" -> o.senders = bounded(a, v, 1, 2000);
        case "--conversations" -> o.conversations = bounded(a, v, 1, 2000);
        case "--duration" -> o.durationSeconds = bounded(a, v, 1, 86_400);
        case "--nemesis-every" -> o.nemesisEverySeconds = bounded(a, v, 0, 86_400);
        case "--sample-every" -> o.sampleEverySeconds = bounded(a, v, 1, 3600);
        case "--per-client" -> o.perClient = bounded(a, v, 1, 100);
        case "--group-size" -> o.groupSize = bounded(a, v, 2, 500);
        case "--spawn", "--nodes" -> o.spawn = bounded(a, v, 0, 5);
        case "--db-url" -> o.dbUrl = v;
        case "--node-heap" -> o.nodeHeap = v;
        case "--hold" -> o.holdSeconds = bounded(a, v, 0, 3600);
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    o.check();
    return o;
  }

  /** Scenario defaults, before the options are read. */
  private void defaults() {
    switch (scenario) {
      case "fanout" -> warmup = 1;
      case "latency" -> {
        rate = 20;
        messages = 200;
        warmup = 1;
      }
      case "idle" -> {
        count = 5000;
        timeoutSeconds = 300;
      }
      case "send" -> {
        // Bounded by --duration; --messages only caps each sender.
        messages = 100_000;
        warmup = 1;
      }
      case "cluster" -> {
        spawn = 3;
        warmup = 1;
      }
      case "storm" -> {
        count = 5000;
        timeoutSeconds = 180;
      }
      case "failover" -> {
        count = 2000;
        spawn = 2;
        rate = 50;
        conversations = 50;
        perClient = 2;
        timeoutSeconds = 180;
      }
      case "soak" -> {
        count = 200;
        spawn = 3;
        senders = 20;
        rate = 20;
        conversations = 20;
        perClient = 2;
        durationSeconds = 300;
        timeoutSeconds = 180;
      }
      default -> {
      }
    }
  }

  private void check() {
    boolean template = !isSwitchboard();
    if (template && (pub == null || sub == null)) {
      throw new IllegalArgumentException("--target " + target + " needs --pub and --sub URL templates with {channel}");
    }
    if (template && !Set.of("fanout", "latency", "idle").contains(scenario)) {
      throw new IllegalArgumentException("scenario " + scenario + " needs --target switchboard");
    }
    if (template && transport == Transport.SOCKJS) {
      throw new IllegalArgumentException("--transport sockjs is Switchboard's event-bus bridge: it needs --target switchboard");
    }
    if (isSwitchboard() && transport == Transport.POLL && scenario.matches("fanout|latency|cluster")) {
      // Topic pushes reach a long-poll client only while one of its polls is open: the durable
      // conversation path is the one a long-poll client can count on.
      channel = "conversation";
    }
    if (scenario.equals("failover")) {
      if (spawn < 2) {
        throw new IllegalArgumentException("failover needs --nodes 2 or more");
      }
      if (dbUrl == null) {
        throw new IllegalArgumentException("failover starts its own nodes: give them a database with --db-url");
      }
      if (transport != Transport.SSE && transport != Transport.WS) {
        throw new IllegalArgumentException("failover resumes SSE or WebSocket clients (--transport sse|ws)");
      }
    }
    if (scenario.equals("soak") && spawn < 2) {
      throw new IllegalArgumentException("soak needs --nodes 2 or more (3 by default)");
    }
    if (scenario.equals("cluster") && urls.size() == 1 && spawn < 2) {
      throw new IllegalArgumentException("cluster needs several nodes: --url A,B,C (with their --pid) or --spawn 3 --db-url URL");
    }
    if (scenario.equals("cluster") && urls.size() > 1) {
      spawn = 0;
    }
    if (spawn > 0 && dbUrl == null && scenario.equals("cluster")) {
      throw new IllegalArgumentException("cluster starts its own nodes (--spawn): give them a database with --db-url");
    }
    if (scenario.equals("storm") && transport == Transport.SOCKJS) {
      throw new IllegalArgumentException("storm drives SSE, WebSocket or long-poll clients");
    }
  }

  boolean isSwitchboard() {
    return "switchboard".equals(target);
  }

  /** Deliveries a fan-out run expects. */
  long expectedDeliveries() {
    return (long) count * messages;
  }

  private static String name(String opt, String v) {
    if (!v.matches("[A-Za-z0-9_.-]{1,40}")) {
      throw new IllegalArgumentException(opt + " must be a short name ([A-Za-z0-9_.-])");
    }
    return v.toLowerCase(Locale.ROOT);
  }

  private static List<URI> urls(String v) {
    List<URI> out = new ArrayList<>();
    for (String s : v.split(",")) {
      URI u;
      try {
        u = URI.create(s.trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--url: not a URL: " + s);
      }
      if (!"http".equals(u.getScheme()) || u.getHost() == null) {
        throw new IllegalArgumentException("--url must be http://host:port (not '" + s + "')");
      }
      out.add(u);
    }
    return out;
  }

  private static String template(String opt, String v) {
    if (!v.contains("{channel}") || !(v.startsWith("http://"))) {
      throw new IllegalArgumentException(opt + " must be an http:// URL template containing {channel}");
    }
    return v;
  }

  private static String oneOf(String opt, String v, String... allowed) {
    for (String a : allowed) {
      if (a.equals(v)) {
        return v;
      }
    }
    throw new IllegalArgumentException(opt + " must be one of " + String.join(", ", allowed));
  }

  private static List<Long> pids(String opt, String v) {
    try {
      return ProcStats.parsePids(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(opt + " must be process ids separated by commas");
    }
  }

  static int bounded(String name, String value, int min, int max) {
    try {
      int n = Integer.parseInt(value.trim());
      if (n < min || n > max) {
        throw new IllegalArgumentException(name + " must be between " + min + " and " + max);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number");
    }
  }
}
