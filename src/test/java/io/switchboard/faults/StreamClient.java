package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Violation;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One simulated user's real-time client that behaves as a well-written application does: it
 * keeps one stream open on some node, and when the stream ends, fails or falls silent it opens a
 * new one on another node with its cursor, after the delay the server or the transport asks for
 * (SSE {@code retry:}, the {@code reconnect} event, close 1012 / 1013, the SSE {@code unavailable}
 * error of SPEC §7). On {@code resync_required} it reloads what it missed over REST. Everything it
 * is given goes to the {@link DeliveryChecker}.
 *
 * <p>All state is confined to the client's own Vert.x context; each open attempt has a
 * generation, and callbacks of an abandoned attempt are ignored (their connection closed).
 */
abstract class StreamClient {

  /** The durable event types: they carry {@code conversationId} and {@code seq} (SPEC §4). */
  static final Set<String> DURABLE = Set.of("message_received", "member_joined", "member_left", "message_edited",
    "message_deleted", "reaction_updated", "conversation_updated");

  /** Why a stream went away, and how soon (at the earliest) the client may open the next. */
  record Loss(String why, long delayMs) {
  }

  final int index;
  final String userId;
  final String token;
  final List<String> conversations;
  final int home;
  protected final Harness harness;
  protected final DeliveryChecker checker;
  protected final Context context;
  private final Population population;

  // Confined to the context.
  protected int gen;
  protected int node = -1;
  private boolean live;
  private boolean stopped;
  private boolean pinned;
  private int failures;
  private long attemptStarted;
  private long headAt;
  private long lastHeard;
  private long lostAt = -1;
  private boolean freshOpen;
  private long reconnectTimer = -1;

  // Read by the test thread and the watchdog.
  private volatile boolean liveNow;
  private volatile int nodeNow = -1;
  private volatile long connectedAt = -1;
  /** The {@code id}s of the {@link #PROBE} pushes received, by any stream of this client. */
  final java.util.Set<String> probes = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The event name of the pushes a scenario sends through {@code POST /api/publish} to test an address. */
  static final String PROBE = "faults_probe";

  StreamClient(int index, String userId, List<String> conversations, int home, Harness harness,
               DeliveryChecker checker, Population population) {
    this.index = index;
    this.userId = userId;
    this.token = Harness.token(userId);
    this.conversations = List.copyOf(conversations);
    this.home = home;
    this.harness = harness;
    this.checker = checker;
    this.population = population;
    this.context = harness.vertx().getOrCreateContext();
  }

  abstract String transport();

  /** Opens attempt {@code g} on {@code node}, resuming from the client's cursor if it has one. */
  protected abstract void open(int node, int g);

  /** Drops whatever connection the current attempt holds. */
  protected abstract void closeTransport();

  /** Whether the next open resumes from a cursor (else it starts at a fresh snapshot). */
  protected abstract boolean hasCursor();

  /** Called on {@code connected} before anything else of the stream (WebSocket: the session). */
  protected void onConnectedPayload(JsonObject payload) {
  }

  /**
   * Called on {@code resync_required}: the cursor's seqs are of a session that cannot be resumed
   * (after a database restore they may even name other items), so a client that builds its
   * cursor (WebSocket) starts again from {@code connected.cursor}.
   */
  protected void onResync() {
  }

  /** Called for each durable item delivered on the stream (WebSocket: its cursor). */
  protected void onDurable(String conv, long seq) {
  }

  // ---- what the test thread asks ----

  /** Opens the first stream on {@code node}; a pinned client reconnects only there. */
  void start(int node, boolean pinned) {
    context.runOnContext(v -> {
      this.pinned = pinned;
      failures = 0;
      connect(node);
    });
  }

  /** Lets a pinned client go to other nodes again. */
  void unpin() {
    context.runOnContext(v -> pinned = false);
  }

  /** Moves the stream to {@code node} now (a client-side choice, e.g. back home after recovery). */
  void moveTo(int target) {
    context.runOnContext(v -> {
      if (stopped || (live && node == target)) {
        return;
      }
      if (live && lostAt < 0) {
        lostAt = checker.now();
      }
      abandon();
      checker.count("moves");
      failures = 0;
      connect(target);
    });
  }

  /** Closes the stream for good. */
  Future<Void> stop() {
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    context.runOnContext(v -> {
      stopped = true;
      abandon();
      done.complete();
    });
    return done.future();
  }

  boolean isLive() {
    return liveNow;
  }

  /** The node of the open stream, or -1. */
  int liveNode() {
    return liveNow ? nodeNow : -1;
  }

  /** Checker time of the last {@code connected}, or -1. */
  long connectedAt() {
    return connectedAt;
  }

  // ---- attempts ----

  private void connect(int target) {
    if (stopped) {
      return;
    }
    reconnectTimer = -1;
    gen++;
    node = target;
    nodeNow = target;
    live = false;
    liveNow = false;
    headAt = 0;
    attemptStarted = System.nanoTime();
    lastHeard = attemptStarted;
    checker.count("opens");
    freshOpen = !hasCursor();
    open(target, gen);
  }

  private void abandon() {
    gen++;
    live = false;
    liveNow = false;
    if (reconnectTimer >= 0) {
      harness.vertx().cancelTimer(reconnectTimer);
      reconnectTimer = -1;
    }
    closeTransport();
  }

  /** The response head (SSE 200) or the upgrade of attempt {@code g} arrived. */
  protected final void onHead(int g) {
    if (g == gen) {
      headAt = System.nanoTime();
      lastHeard = headAt;
    }
  }

  /** Bytes of attempt {@code g} arrived (events, comments, pings). */
  protected final void onBytes(int g) {
    if (g == gen) {
      lastHeard = System.nanoTime();
    }
  }

  /** Attempt {@code g} is over; the client opens the next after the loss's delay. */
  protected final void onLost(int g, Loss loss) {
    if (g != gen || stopped) {
      return;
    }
    checker.count("lost: " + loss.why());
    if (live) {
      lostAt = checker.now();
    } else {
      failures++;
    }
    abandon();
    int next = nextNode();
    reconnectTimer = harness.vertx().setTimer(Math.max(1, loss.delayMs()), id -> connect(next));
  }

  /**
   * Another node than the one that failed: after losing a live stream, one spread by client;
   * after a failed open, the next node in turn, so that a client whose first choices are all
   * down walks through every node (with two of three down it would otherwise go back and forth
   * between the two dead ones).
   */
  private int nextNode() {
    int n = harness.size();
    if (pinned || n == 1) {
      return pinned ? home : node;
    }
    int step = failures == 0 ? 1 + Math.floorMod(index, n - 1) : 1;
    return (node + step) % n;
  }

  /** Counts why an open failed before any answer (refused, reset, timeout...). */
  protected final void countCause(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = String.valueOf(root.getMessage());
    checker.count("open error: " + root.getClass().getSimpleName() + " "
      + message.substring(0, Math.min(40, message.length())).replaceAll("[0-9./:]+", "…"));
  }

  /** A random delay in [0, {@code max}] ms: a client's own jitter before reconnecting. */
  static long jitter(long max) {
    return ThreadLocalRandom.current().nextLong(max + 1);
  }

  /**
   * Once a second, on the client's context: an attempt with no answer, a stream with no
   * {@code connected}, or an open stream that fell silent is given up.
   */
  void watchdog() {
    context.runOnContext(v -> {
      if (stopped || reconnectTimer >= 0 || node < 0) {
        return;
      }
      long now = System.nanoTime();
      int g = gen;
      if (!live && headAt == 0 && now - attemptStarted > Knobs.headTimeoutMs() * 1_000_000) {
        onLost(g, new Loss("no answer", jitter(500)));
      } else if (!live && headAt != 0 && now - headAt > Knobs.openTimeoutMs() * 1_000_000) {
        String head = transport().equals("SSE") ? "200" : "upgrade";
        checker.violation(Violation.SILENT_OPEN, transport() + " client " + index + " on node " + node
          + ": no connected " + Knobs.openTimeoutMs() + " ms after the " + head);
        onLost(g, new Loss("silent open", jitter(500)));
      } else if (live && now - lastHeard > Knobs.clientIdleMs() * 1_000_000) {
        onLost(g, new Loss("silent stream", jitter(500)));
      }
    });
  }

  // ---- events ----

  /** One envelope of attempt {@code g}. */
  protected final void onEnvelope(int g, String type, JsonObject payload) {
    if (g != gen || stopped) {
      return;
    }
    switch (type) {
      case "connected" -> connected(payload);
      case "resync_required" -> {
        onResync();
        checker.resync(index);
        reload("resync_required");
      }
      case "reconnect" -> {
        checker.count("reconnect events");
        onLost(g, new Loss("reconnect event", jitter(250)));
      }
      case PROBE -> {
        JsonObject data = payload == null ? null : payload.getJsonObject("data");
        if (data != null && data.getString("id") != null) {
          probes.add(data.getString("id"));
        }
      }
      default -> {
        if (DURABLE.contains(type) && payload != null && payload.getString("conversationId") != null) {
          long seq = payload.getLong("seq", 0L);
          if (seq > 0) {
            String conv = payload.getString("conversationId");
            String id = "message_received".equals(type) ? payload.getString("id") : null;
            String created = payload.getString("createdAt");
            if (id != null && created != null) {
              try {
                checker.lag(System.currentTimeMillis() - java.time.Instant.parse(created).toEpochMilli());
              } catch (java.time.format.DateTimeParseException e) {
                checker.count("unparsable createdAt");
              }
            }
            checker.streamDelivery(index, conv, seq, id, " (" + transport() + " client on node " + node + ")");
            onDurable(conv, seq);
          }
        }
      }
    }
  }

  private void connected(JsonObject payload) {
    onConnectedPayload(payload);
    live = true;
    liveNow = true;
    failures = 0;
    long now = checker.now();
    connectedAt = now;
    if (lostAt >= 0) {
      checker.resumed(index, node, lostAt, now);
      checker.count("resumes");
      lostAt = -1;
    }
    if (freshOpen && population.sendingStarted()) {
      // A stream opened without a cursor after sending began starts at a snapshot the client
      // cannot see: like an application starting up, it loads the history it does not have,
      // and its first item of each conversation may come after a jump.
      checker.freshStart(index);
      reload("fresh start");
    }
  }

  /** Loads, per conversation, every item after what the client holds, from the node it is on. */
  private void reload(String why) {
    checker.count("reloads: " + why);
    for (String conv : conversations) {
      loadAfter(conv, checker.contiguous(index, conv), 0);
    }
  }

  private void loadAfter(String conv, long after, int failed) {
    if (stopped) {
      return;
    }
    int target = node >= 0 ? Math.floorMod(node + failed, harness.size()) : home;
    harness.call(target, HttpMethod.GET, "/api/conversations/" + conv + "/messages?limit=200&after=" + after, token,
        null, Knobs.sendTimeoutMs())
      .onComplete(ar -> {
        if (ar.succeeded() && ar.result().status() == 200) {
          JsonArray items = ar.result().json().getJsonArray("messages", new JsonArray());
          long last = after;
          for (Object o : items) {
            JsonObject m = (JsonObject) o;
            last = Math.max(last, m.getLong("seq"));
            checker.historyDelivery(index, conv, m.getLong("seq"), m.getString("id"));
          }
          if (items.size() == 200) {
            loadAfter(conv, last, 0);
          }
        } else if (failed < 60) {
          // As an application would: keep trying, a little slower each time, on the next node.
          long delay = Math.min(5000, 250L * (failed + 1));
          harness.vertx().setTimer(delay, id -> loadAfter(conv, after, failed + 1));
        } else {
          checker.count("history loads given up");
        }
      });
  }
}
