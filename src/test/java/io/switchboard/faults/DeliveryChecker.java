package io.switchboard.faults;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Accounts for every acknowledged send and every delivery on every client of a fault run, and
 * judges them against what PostgreSQL committed (read back over REST at the end).
 *
 * <p>The guarantee it checks (SPEC §3, §7, README "Resume and cursors"): per conversation, each
 * client's streams deliver every committed item once and in {@code seq} order, across
 * reconnects to any node; a jump in {@code seq} is allowed only after {@code resync_required},
 * and the client then reloads what it missed over REST. A send acknowledged once is committed,
 * and its {@code clientMessageId} names one message for good.
 *
 * <p>Thread-safe: clients and senders report from their event loops, the test thread reads.
 */
final class DeliveryChecker {

  /** The kinds of violation; any one fails a run. */
  enum Violation {
    LOST("an acknowledged message a member's client never received"),
    UNDELIVERED("a committed (unacknowledged) message a member's client never received"),
    DUPLICATE("an item delivered twice on one client's streams"),
    INVERSION("a lower seq after a higher one on one client's streams"),
    GAP("a seq jump without resync_required"),
    CMID_TWO_MESSAGES("an acknowledged clientMessageId answered with two different messages"),
    SEQ_TWO_MESSAGES("one (conversation, seq) seen as two different messages"),
    ACKED_NOT_COMMITTED("an acknowledged message missing from the conversation's history"),
    HISTORY_GAP("a conversation's history with a hole in its seqs"),
    NEVER_ACKED("a send retried until the give-up time without an acknowledgement"),
    SEND_REJECTED("a send answered with an error that no retry can fix"),
    FOREIGN("an item of a conversation the client is not a member of"),
    SSE_NOT_200("an SSE open answered other than 200 (a browser EventSource gives up for good)"),
    SILENT_OPEN("a stream answered 200 / upgraded, then sent no 'connected' in time"),
    NOT_RESUMED("a client with no open stream when the run converged"),
    STALE_RESUME("an item committed after a database restore, delivered on a cursor from before it without"
      + " resync_required (a silent skip or someone else's item)");

    final String meaning;

    Violation(String meaning) {
      this.meaning = meaning;
    }
  }

  /** One acknowledged send. Times are nanos since the run began. */
  record Ack(int sender, String conversationId, String clientMessageId, long seq, String messageId, int node,
             long firstAttempt, long acked) {
  }

  /** One HTTP attempt of a send: the node asked and what came back ({@code 201}, {@code 503}, {@code refused}...). */
  record Attempt(int sender, int node, long start, long end, String outcome) {
    long millis() {
      return (end - start) / 1_000_000;
    }
  }

  /** One client's stream coming back: when it was lost and when {@code connected} arrived. */
  record Resume(int client, int node, long lost, long connected) {
  }

  /** A named moment of the run (fault injected, node back...). */
  record Mark(String what, long at) {
  }

  private static final int EXAMPLES = 8;

  private final long origin = System.nanoTime();
  private final long originWallMs = System.currentTimeMillis();
  private static final java.time.format.DateTimeFormatter CLOCK =
    java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(java.time.ZoneId.systemDefault());
  private final Map<String, Ack> acks = new ConcurrentHashMap<>();
  private final Map<String, String> messageAt = new ConcurrentHashMap<>();
  private final List<Attempt> attempts = new ArrayList<>();
  private final List<Resume> resumes = new ArrayList<>();
  private final List<Mark> marks = new ArrayList<>();
  private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
  private final Map<Violation, AtomicLong> violations = new ConcurrentHashMap<>();
  private final Map<Violation, List<String>> examples = new ConcurrentHashMap<>();
  private final Map<Integer, Track> tracks = new ConcurrentHashMap<>();
  private final Object lagLock = new Object();
  private long[] lags = new long[4096];
  private int lagCount;
  /** Message ids known before a database restore ({@link #restoring}); null when none happened. */
  private volatile Set<String> beforeRestore;
  /** Clients that got resync_required after the restore, and when (nanos). */
  private final Map<Integer, Long> resyncedAfterRestore = new ConcurrentHashMap<>();

  /** What one client has been given, per conversation. */
  private static final class Track {
    final Set<String> conversations;
    final Map<String, BitSet> stream = new HashMap<>();
    final Map<String, BitSet> history = new HashMap<>();
    final Map<String, Long> streamMax = new HashMap<>();
    final Set<String> excused = new java.util.HashSet<>();
    /** The seqs of each conversation in the order the client's streams delivered them. */
    final Map<String, List<Long>> order = new HashMap<>();
    /** Set by {@link #restoring}: what the client holds is of the database before the restore. */
    boolean stale;

    Track(Set<String> conversations) {
      this.conversations = conversations;
    }
  }

  /** Nanos since the run began. */
  long now() {
    return System.nanoTime() - origin;
  }

  // ---- what clients and senders report ----

  /** A client and the conversations it is a member of. */
  void client(int client, Set<String> conversations) {
    tracks.put(client, new Track(Set.copyOf(conversations)));
  }

  void count(String what) {
    counters.computeIfAbsent(what, k -> new AtomicLong()).incrementAndGet();
  }

  long counter(String what) {
    AtomicLong c = counters.get(what);
    return c == null ? 0 : c.get();
  }

  void violation(Violation kind, String example) {
    violations.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    List<String> list = examples.computeIfAbsent(kind, k -> java.util.Collections.synchronizedList(new ArrayList<>()));
    if (list.size() < EXAMPLES) {
      list.add(example);
    }
  }

  /** The wall-clock time (as the node logs print it) of a run time. */
  String clock(long nanos) {
    return CLOCK.format(java.time.Instant.ofEpochMilli(originWallMs + nanos / 1_000_000));
  }

  /** An attempt as a line of a report: who, where, when (wall clock), what came back, how long. */
  String describe(Attempt a) {
    return "sender " + a.sender() + " → node-" + a.node() + " " + clock(a.start()) + ".." + clock(a.end()) + " "
      + a.outcome() + " in " + a.millis() + " ms";
  }

  synchronized List<Mark> marks() {
    return List.copyOf(marks);
  }

  synchronized void mark(String what) {
    marks.add(new Mark(what, now()));
  }

  /** The time of the last mark named {@code what}, or -1. */
  synchronized long markAt(String what) {
    for (int i = marks.size() - 1; i >= 0; i--) {
      if (marks.get(i).what().equals(what)) {
        return marks.get(i).at();
      }
    }
    return -1;
  }

  synchronized void attempt(int sender, int node, long start, long end, String outcome) {
    attempts.add(new Attempt(sender, node, start, end, outcome));
  }

  synchronized List<Attempt> attempts() {
    return List.copyOf(attempts);
  }

  /** A send answered 201: its clientMessageId must keep naming this message. */
  void acked(Ack ack) {
    Ack before = acks.putIfAbsent(ack.clientMessageId(), ack);
    if (before != null && !(before.messageId().equals(ack.messageId()) && before.seq() == ack.seq())) {
      violation(Violation.CMID_TWO_MESSAGES, ack.clientMessageId() + " → " + before.messageId() + "@" + before.seq()
        + " and " + ack.messageId() + "@" + ack.seq());
    }
    sameMessage(ack.conversationId(), ack.seq(), ack.messageId(), "ack of " + ack.clientMessageId());
  }

  int ackCount() {
    return acks.size();
  }

  Collection<Ack> acks() {
    return acks.values();
  }

  synchronized void resumed(int client, int node, long lost, long connected) {
    resumes.add(new Resume(client, node, lost, connected));
  }

  synchronized List<Resume> resumes() {
    return List.copyOf(resumes);
  }

  /**
   * A message's way from its commit ({@code createdAt}, stamped by PostgreSQL; one machine, one
   * clock) to a client's stream, in ms.
   */
  void lag(long millis) {
    synchronized (lagLock) {
      if (lagCount == lags.length) {
        lags = java.util.Arrays.copyOf(lags, lags.length * 2);
      }
      lags[lagCount++] = millis;
    }
  }

  /** Delivery lags at the given quantiles (0.5, 0.99, 1.0 …), in ms. */
  long[] lagQuantiles(double... quantiles) {
    long[] sorted;
    synchronized (lagLock) {
      sorted = java.util.Arrays.copyOf(lags, lagCount);
    }
    java.util.Arrays.sort(sorted);
    long[] out = new long[quantiles.length];
    for (int i = 0; i < quantiles.length; i++) {
      out[i] = sorted.length == 0 ? 0
        : sorted[(int) Math.min(sorted.length - 1, Math.ceil(quantiles[i] * sorted.length) - 1)];
    }
    return out;
  }

  /** One item a client got on a stream, as told to a {@link #onDelivery} listener; {@code at} in checker time. */
  record Delivery(int client, String conversationId, long seq, String messageId, long at) {
  }

  private volatile java.util.function.Consumer<Delivery> deliveryListener;

  /** Tells {@code listener} of every item on every client's streams (a scenario's own figures). */
  void onDelivery(java.util.function.Consumer<Delivery> listener) {
    deliveryListener = listener;
  }

  /** An item on one of a client's streams (live or replayed). */
  void streamDelivery(int client, String conv, long seq, String messageId, String where) {
    java.util.function.Consumer<Delivery> listener = deliveryListener;
    if (listener != null) {
      listener.accept(new Delivery(client, conv, seq, messageId, now()));
    }
    count("deliveries");
    Track t = tracks.get(client);
    synchronized (t) {
      if (!t.conversations.contains(conv)) {
        violation(Violation.FOREIGN, "client " + client + " got " + conv + "#" + seq + where);
        return;
      }
      if (t.stale && messageId != null && beforeRestore != null && !beforeRestore.contains(messageId)) {
        violation(Violation.STALE_RESUME, "client " + client + " got " + conv + "#" + seq + " " + messageId
          + " before any resync_required after the restore" + where);
        return;
      }
      BitSet seen = t.stream.computeIfAbsent(conv, k -> new BitSet());
      long max = t.streamMax.getOrDefault(conv, 0L);
      if (seen.get((int) seq)) {
        violation(Violation.DUPLICATE, "client " + client + " got " + conv + "#" + seq + " again" + where);
        return;
      }
      if (seq < max) {
        violation(Violation.INVERSION, "client " + client + " got " + conv + "#" + seq + " after #" + max + where);
      } else if (seq > max + 1 && !t.excused.contains(conv)) {
        violation(Violation.GAP, "client " + client + " got " + conv + "#" + seq + " after #" + max
          + " without resync_required" + where);
      }
      t.excused.remove(conv);
      seen.set((int) seq);
      t.order.computeIfAbsent(conv, k -> new ArrayList<>()).add(seq);
      t.streamMax.put(conv, Math.max(max, seq));
    }
    sameMessage(conv, seq, messageId, "delivery to client " + client);
  }

  /** {@code resync_required} on a client: its next item of each conversation may jump. */
  void resync(int client) {
    count("resyncs");
    Track t = tracks.get(client);
    synchronized (t) {
      t.excused.addAll(t.conversations);
      if (t.stale) {
        // The first resync after a restore: the client drops what it held (it may name items the
        // database no longer has) and reloads its history from the start.
        t.stale = false;
        t.stream.clear();
        t.history.clear();
        t.streamMax.clear();
        resyncedAfterRestore.put(client, now());
      }
    }
  }

  // ---- a database restored from an older backup ----

  /**
   * The database is about to be restored from a backup (the senders have stopped): every client's
   * holdings are of the old database until its next {@code resync_required}, and an item it is
   * given before that which the checker has not seen yet is a {@link Violation#STALE_RESUME}.
   */
  void restoring() {
    Set<String> known = ConcurrentHashMap.newKeySet();
    known.addAll(messageAt.values());
    acks.values().forEach(a -> known.add(a.messageId()));
    beforeRestore = known;
    for (Track t : tracks.values()) {
      synchronized (t) {
        t.stale = true;
      }
    }
  }

  /**
   * The database is back with the backup's history, {@code lastSeqs} per conversation: the acks
   * of sends acknowledged at or after {@code backupAt} (nanos) are lost by the restore and no
   * longer judged (answers how many); those before must all be in the restored history, as the
   * final judgement checks. The seqs above the restored ones may name other messages from now.
   */
  int restored(long backupAt, Map<String, Long> lastSeqs) {
    int dropped = 0;
    for (var it = acks.entrySet().iterator(); it.hasNext(); ) {
      if (it.next().getValue().acked() >= backupAt) {
        it.remove();
        dropped++;
      }
    }
    messageAt.keySet().removeIf(key -> {
      int hash = key.lastIndexOf('#');
      return Long.parseLong(key.substring(hash + 1)) > lastSeqs.getOrDefault(key.substring(0, hash), 0L);
    });
    return dropped;
  }

  /** Clients that got {@code resync_required} after {@link #restoring}, with when. */
  Map<Integer, Long> resyncedAfterRestore() {
    return Map.copyOf(resyncedAfterRestore);
  }

  /** A stream opened without a cursor after sending began: it starts at a snapshot, so may jump. */
  void freshStart(int client) {
    count("fresh starts");
    Track t = tracks.get(client);
    synchronized (t) {
      t.excused.addAll(t.conversations);
    }
  }

  /** An item the client loaded over REST after a resync (or on its first connect). */
  void historyDelivery(int client, String conv, long seq, String messageId) {
    count("history loads");
    Track t = tracks.get(client);
    synchronized (t) {
      t.history.computeIfAbsent(conv, k -> new BitSet()).set((int) seq);
    }
    sameMessage(conv, seq, messageId, "history of client " + client);
  }

  /** The seqs of {@code conv} in the order the client's streams delivered them (duplicates left out). */
  List<Long> streamOrder(int client, String conv) {
    Track t = tracks.get(client);
    synchronized (t) {
      return List.copyOf(t.order.getOrDefault(conv, List.of()));
    }
  }

  /** Whether the client holds {@code conv#seq}, from a stream or from history. */
  boolean has(int client, String conv, long seq) {
    Track t = tracks.get(client);
    synchronized (t) {
      return have(t, conv).get((int) seq);
    }
  }

  /** Whether a stream of the client delivered {@code conv#seq}. */
  boolean streamed(int client, String conv, long seq) {
    Track t = tracks.get(client);
    synchronized (t) {
      BitSet s = t.stream.get(conv);
      return s != null && s.get((int) seq);
    }
  }

  /** The highest seq below which the client has everything of {@code conv}, by any path. */
  long contiguous(int client, String conv) {
    Track t = tracks.get(client);
    synchronized (t) {
      BitSet all = have(t, conv);
      return all.nextClearBit(1) - 1L;
    }
  }

  private static BitSet have(Track t, String conv) {
    BitSet all = new BitSet();
    BitSet s = t.stream.get(conv);
    if (s != null) {
      all.or(s);
    }
    BitSet h = t.history.get(conv);
    if (h != null) {
      all.or(h);
    }
    return all;
  }

  private void sameMessage(String conv, long seq, String messageId, String where) {
    if (messageId == null) {
      return;
    }
    String before = messageAt.putIfAbsent(conv + "#" + seq, messageId);
    if (before != null && !before.equals(messageId)) {
      violation(Violation.SEQ_TWO_MESSAGES,
        conv + "#" + seq + " is " + before + " and " + messageId + " (" + where + ")");
    }
  }

  // ---- judging ----

  /** Whether every client has every committed item of its conversations. */
  boolean converged(Map<String, TreeMap<Long, History>> committed, Predicate<Integer> live) {
    for (Map.Entry<Integer, Track> e : tracks.entrySet()) {
      if (!live.test(e.getKey())) {
        return false;
      }
      Track t = e.getValue();
      synchronized (t) {
        for (String conv : t.conversations) {
          TreeMap<Long, History> items = committed.get(conv);
          if (items != null && !items.isEmpty() && have(t, conv).nextClearBit(1) <= items.lastKey()) {
            return false;
          }
        }
      }
    }
    return true;
  }

  /** One committed item, as history returns it. */
  record History(long seq, String messageId, String clientMessageId) {
  }

  /**
   * The final judgement: history against acknowledgements, then every client against history.
   * Adds the violations it finds; answers the number of committed items.
   */
  long judge(Map<String, TreeMap<Long, History>> committed, Predicate<Integer> live) {
    long total = 0;
    for (Map.Entry<String, TreeMap<Long, History>> e : committed.entrySet()) {
      TreeMap<Long, History> items = e.getValue();
      total += items.size();
      long expect = 1;
      for (long seq : items.keySet()) {
        if (seq != expect) {
          violation(Violation.HISTORY_GAP, e.getKey() + " goes from #" + (expect - 1) + " to #" + seq);
        }
        expect = seq + 1;
      }
      items.values().forEach(h -> sameMessage(e.getKey(), h.seq(), h.messageId(), "history"));
    }
    // A retried send must never have committed twice: one clientMessageId, one message.
    Map<String, History> byClientId = new HashMap<>();
    for (TreeMap<Long, History> items : committed.values()) {
      for (History h : items.values()) {
        if (h.clientMessageId() == null) {
          continue;
        }
        History before = byClientId.putIfAbsent(h.clientMessageId(), h);
        if (before != null) {
          violation(Violation.CMID_TWO_MESSAGES, h.clientMessageId() + " committed twice: #" + before.seq() + " "
            + before.messageId() + " and #" + h.seq() + " " + h.messageId());
        }
      }
    }
    Map<String, Ack> byCmid = new HashMap<>(acks);
    Set<String> ackedKeys = ConcurrentHashMap.newKeySet();
    for (Ack a : byCmid.values()) {
      History h = committed.getOrDefault(a.conversationId(), new TreeMap<>()).get(a.seq());
      if (h == null || !h.messageId().equals(a.messageId())) {
        violation(Violation.ACKED_NOT_COMMITTED, a.clientMessageId() + " acked as " + a.conversationId() + "#" + a.seq()
          + " but history has " + h);
      }
      ackedKeys.add(a.conversationId() + "#" + a.seq());
    }
    for (Map.Entry<Integer, Track> e : tracks.entrySet()) {
      int client = e.getKey();
      if (!live.test(client)) {
        violation(Violation.NOT_RESUMED, "client " + client);
      }
      Track t = e.getValue();
      synchronized (t) {
        for (String conv : t.conversations) {
          BitSet has = have(t, conv);
          for (History h : committed.getOrDefault(conv, new TreeMap<>()).values()) {
            if (!has.get((int) h.seq())) {
              boolean acked = ackedKeys.contains(conv + "#" + h.seq());
              violation(acked ? Violation.LOST : Violation.UNDELIVERED, "client " + client + " never got " + conv + "#"
                + h.seq() + " (" + h.clientMessageId() + ")");
            }
          }
        }
      }
    }
    return total;
  }

  Map<Violation, Long> violations() {
    Map<Violation, Long> out = new LinkedHashMap<>();
    for (Violation v : Violation.values()) {
      AtomicLong n = violations.get(v);
      if (n != null) {
        out.put(v, n.get());
      }
    }
    return out;
  }

  List<String> examples(Violation v) {
    List<String> list = examples.get(v);
    if (list == null) {
      return List.of();
    }
    synchronized (list) {
      return List.copyOf(list);
    }
  }

  Map<String, Long> counters() {
    Map<String, Long> out = new TreeMap<>();
    counters.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }
}
