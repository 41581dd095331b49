package io.switchboard.gateway;

import io.switchboard.protocol.Types;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * One address followed by sessions of this node (DESIGN §2, "the delivery core"): the events of
 * it that reach the node (through its shard, {@link io.switchboard.protocol.Events}), and for a
 * conversation the timeline's order on this node. Everything here runs on the route's
 * {@link #home} loop — the loop of the address's shard — except the {@link Gateway}'s interest
 * count.
 *
 * <p>Ordering: a conversation route forwards timeline events in seq order, each once. An event
 * that is not the next one is held; if the missing ones do not arrive shortly (publishes from
 * different nodes can overtake each other, and a node can die between commit and publish) they
 * are read from PostgreSQL — once for the node, not once per follower. A session attaches at
 * the position its replay reached and gets what the route forwarded since from the route's
 * recent window (or one read), then follows live.
 *
 * <p>Fan-out: followers are grouped by event loop; an event is handed to each loop once
 * ({@link Loop#deliver}), whatever the number of its sessions.
 */
final class Route {

  /** How long a gap may wait for the missing events to arrive live before they are read. */
  static final long GAP_WAIT_MS = 150;
  /** Most timeline items read at once to fill a gap or catch a session up. */
  static final int FILL_PAGE = 200;
  /** Recent timeline events kept for sessions that attach a little behind the route. */
  static final int RECENT = 64;
  /** Events held out of order (or before the first follower's position is known) at most. */
  static final int MAX_HELD = 4096;
  /** At most one receipt per reader per conversation per this interval reaches local clients. */
  static final long RECEIPT_INTERVAL_MS = 1000;

  private static final Group[] NO_GROUPS = new Group[0];

  final String address;
  /** The conversation id of a conversation route, else null. */
  final String conversationId;
  final Loop home;
  private final Gateway gateway;

  // Owned by the gateway's routes map (changed only inside its compute).
  int interest;

  /** Groups of attached sessions by loop; copy-on-write, changed on the home loop. */
  private volatile Group[] groups = NO_GROUPS;

  // Conversation order, home loop only.
  private long position = -1;
  private TreeMap<Long, Frame> held;
  private TreeMap<Long, Frame> recent;
  private boolean filling;
  /** How many times the database started a new epoch while this route lived ({@link #forget}). */
  private int epochs;
  private int fillFailures;
  private List<Attaching> attaching;
  private Map<String, ReceiptSlot> receipts;

  /** Highest timeline seq seen on the bus, and what the sweep suspects is missing (any thread). */
  volatile long seen;
  volatile long suspect;
  /** When the route last saw a timeline event (the sweep looks at busy routes more often). */
  volatile long lastEventAt;
  /** Set when the last interest is gone: late hand-overs are dropped. */
  volatile boolean dead;

  Route(Gateway gateway, String address, String conversationId, Loop home) {
    this.gateway = gateway;
    this.address = address;
    this.conversationId = conversationId;
    this.home = home;
  }

  /** The attached sessions of one loop. */
  static final class Group {
    final Route route;
    final Loop loop;
    /** The sessions, on the group's loop only. */
    final ArrayList<Session> sessions = new ArrayList<>(2);
    /** How many sessions are attached, on the route's home loop only. */
    int members;

    Group(Route route, Loop loop) {
      this.route = route;
      this.loop = loop;
    }

    /** On the group's loop: hands one event to each of its sessions. */
    void deliver(Frame frame) {
      ArrayList<Session> list = sessions;
      for (int i = 0; i < list.size(); i++) {
        list.get(i).fromRoute(route, frame);
      }
    }
  }

  /** A session attaching behind the route, waiting for a read. */
  private record Attaching(Session session, long from, List<Frame> since) {
  }

  private static final class ReceiptSlot {
    long lastSent;
    Frame waiting;
  }

  // ---- events from the bus ----

  /** An event of this route's address, from its shard's consumer, on the home loop. */
  void onEvent(JsonObject body) {
    if (dead) {
      return;
    }
    Frame frame;
    try {
      frame = Frame.of(body);
    } catch (RuntimeException e) {
      Gateway.LOG.warn("dropping a malformed event on {}", address);
      return;
    }
    gateway.node().metrics().eventArrived(body);
    if (conversationId != null && frame.durable()) {
      lastEventAt = System.currentTimeMillis();
      if (frame.seq() > seen) {
        seen = frame.seq();
      }
      accept(frame);
      return;
    }
    if (conversationId != null && Types.RECEIPT.equals(frame.type())) {
      coalesceReceipt(frame);
      return;
    }
    forward(frame);
  }

  private void forward(Frame frame) {
    for (Group g : groups) {
      g.loop.deliver(g, frame);
    }
    if (attaching != null && frame.durable()) {
      for (Attaching a : attaching) {
        a.since().add(frame);
      }
    }
  }

  /** A timeline event: forwarded when it is the next one, else held until the gap closes. */
  private void accept(Frame frame) {
    long seq = frame.seq();
    if (position < 0) {
      hold(frame);
      return;
    }
    if (seq <= position) {
      return;
    }
    if (seq == position + 1) {
      advance(frame);
      releaseHeld();
    } else {
      hold(frame);
    }
    if (held != null && !held.isEmpty()) {
      scheduleFill(GAP_WAIT_MS);
    }
  }

  private void advance(Frame frame) {
    position = frame.seq();
    remember(frame);
    forward(frame);
  }

  private void hold(Frame frame) {
    if (held == null) {
      held = new TreeMap<>();
    }
    held.put(frame.seq(), frame);
    if (held.size() > MAX_HELD) {
      held.pollFirstEntry();
    }
  }

  private void releaseHeld() {
    while (held != null && !held.isEmpty()) {
      long first = held.firstKey();
      if (first <= position) {
        held.pollFirstEntry();
      } else if (first == position + 1) {
        advance(held.pollFirstEntry().getValue());
      } else {
        return;
      }
    }
  }

  private void remember(Frame frame) {
    if (recent == null) {
      recent = new TreeMap<>();
    }
    recent.put(frame.seq(), frame);
    if (recent.size() > RECENT) {
      recent.pollFirstEntry();
    }
  }

  // ---- gaps ----

  private void scheduleFill(long delayMs) {
    if (filling) {
      return;
    }
    filling = true;
    home.eventLoop().schedule(() -> home.context().runOnContext(v -> fill()), delayMs, TimeUnit.MILLISECONDS);
  }

  /** Reads the timeline after the route's position, then releases what was held. */
  private void fill() {
    if (dead || position < 0) {
      filling = false;
      return;
    }
    long from = position;
    int epoch = epochs;
    gateway.readTimeline(conversationId, from, FILL_PAGE).onComplete(ar -> {
      filling = false;
      if (dead || epoch != epochs) {
        // Read before a new database epoch: its items may not be the timeline's any more.
        return;
      }
      if (ar.failed()) {
        if (++fillFailures >= 3) {
          broken("cannot read the timeline: " + ar.cause().getMessage());
        } else {
          scheduleFill(GAP_WAIT_MS * (1L << fillFailures));
        }
        return;
      }
      fillFailures = 0;
      for (Frame frame : ar.result()) {
        if (frame.seq() > seen) {
          seen = frame.seq();
        }
        if (frame.seq() == position + 1) {
          advance(frame);
        } else if (frame.seq() > position + 1) {
          hold(frame);
        }
      }
      releaseHeld();
      if (held != null && !held.isEmpty() && held.firstKey() > position + 1) {
        // Still a gap (a page was not enough): read on.
        scheduleFill(ar.result().size() >= FILL_PAGE ? 0 : GAP_WAIT_MS);
      }
    });
  }

  /**
   * The sweep found items up to {@code last} in PostgreSQL that never came live (their node died
   * between commit and publish): read them, once for the node.
   */
  void nudge(long last) {
    if (!dead && position >= 0 && position < last) {
      scheduleFill(0);
    }
  }

  /** The timeline cannot be read: every attached session resumes from its cursor later. */
  private void broken(String why) {
    Gateway.LOG.warn("conversation {} on this node: {}; its streams reconnect", conversationId, why);
    position = -1;
    held = null;
    recent = null;
    fillFailures = 0;
    for (Group g : groups) {
      g.loop.execute(() -> {
        for (Session s : new ArrayList<>(g.sessions)) {
          s.close(CloseCode.GOING_AWAY, "reconnect");
        }
      });
    }
  }

  /**
   * The database started a new epoch: the seqs this route has seen may have been given to other
   * items since, so it starts again from the next follower's position (its sessions are closed by
   * the gateway).
   */
  void forget() {
    epochs++;
    position = -1;
    held = null;
    recent = null;
    fillFailures = 0;
    seen = 0;
    suspect = 0;
  }

  // ---- attaching and detaching (home loop) ----

  /**
   * Attaches {@code session} at {@code from}, the seq its replay reached. {@code verified} says
   * whether {@code from} was read after this route's consumer was registered: then every later
   * item reaches the route live; if not (a conversation joined while connected), the route reads
   * once to be sure.
   */
  void attach(Session session, long from, boolean verified) {
    if (dead) {
      return;
    }
    if (conversationId == null) {
      join(session, List.of());
      return;
    }
    if (position < 0) {
      position = from;
      if (from > seen) {
        seen = from;
      }
      // Swept closely for a while: an item committed after the follower's read and never
      // published (its node died) is found within a sweep or two.
      lastEventAt = System.currentTimeMillis();
      if (held != null) {
        held.headMap(from, true).forEach((seq, frame) -> remember(frame));
        held.headMap(from, true).clear();
      }
      join(session, List.of());
      releaseHeld();
      if (!verified || (held != null && !held.isEmpty())) {
        scheduleFill(verified ? GAP_WAIT_MS : 0);
      }
      return;
    }
    if (from >= position) {
      join(session, List.of());
      if (!verified && from > position) {
        scheduleFill(GAP_WAIT_MS);
      }
      return;
    }
    List<Frame> catchUp = fromRecent(from);
    if (catchUp != null) {
      join(session, catchUp);
      return;
    }
    // Behind the recent window: one read for this session, live events collected meanwhile.
    Attaching a = new Attaching(session, from, new ArrayList<>());
    if (attaching == null) {
      attaching = new ArrayList<>(2);
    }
    attaching.add(a);
    long upTo = position;
    gateway.readTimeline(conversationId, from, (int) Math.min(Integer.MAX_VALUE, upTo - from)).onComplete(ar -> {
      attaching.remove(a);
      if (dead) {
        return;
      }
      if (ar.failed() || ar.result().isEmpty() || ar.result().get(ar.result().size() - 1).seq() < upTo) {
        session.loop.execute(() -> session.close(CloseCode.GOING_AWAY, "reconnect"));
        return;
      }
      List<Frame> catchUpRead = new ArrayList<>(ar.result());
      catchUpRead.addAll(a.since());
      join(session, catchUpRead);
    });
  }

  /** The events after {@code from} up to the position, when the recent window still has them all. */
  private List<Frame> fromRecent(long from) {
    if (recent == null) {
      return null;
    }
    List<Frame> out = new ArrayList<>((int) Math.min(RECENT, position - from));
    long next = from + 1;
    for (Frame f : recent.tailMap(from, false).values()) {
      if (f.seq() != next) {
        return null;
      }
      out.add(f);
      next++;
    }
    return next == position + 1 ? out : null;
  }

  private void join(Session session, List<Frame> catchUp) {
    Loop loop = session.loop;
    Group group = null;
    for (Group g : groups) {
      if (g.loop == loop) {
        group = g;
        break;
      }
    }
    if (group == null) {
      group = new Group(this, loop);
      Group[] next = Arrays.copyOf(groups, groups.length + 1);
      next[groups.length] = group;
      groups = next;
    }
    group.members++;
    Group joined = group;
    loop.execute(() -> session.attached(this, joined, catchUp));
  }

  /** On the home loop: a session left the group (it has removed itself from the group's list). */
  void detached(Group group) {
    if (--group.members > 0) {
      return;
    }
    Group[] current = groups;
    List<Group> kept = new ArrayList<>(current.length);
    for (Group g : current) {
      if (g != group) {
        kept.add(g);
      }
    }
    groups = kept.toArray(NO_GROUPS);
  }

  /** Sessions attached here on every loop (stats). */
  int attachedSessions() {
    int n = 0;
    for (Group g : groups) {
      n += g.members;
    }
    return n;
  }

  /** The loops and groups now attached (presence fan-out reads it from any thread). */
  Group[] groups() {
    return groups;
  }

  /** On the home loop, when the sweep runs: drops what is no longer worth keeping. */
  void trim(long now) {
    if (receipts != null) {
      receipts.values().removeIf(slot -> slot.waiting == null && slot.lastSent < now - 5 * RECEIPT_INTERVAL_MS);
    }
    if (recent != null && now - lastEventAt > 30_000) {
      recent = null;
    }
  }

  // ---- receipts ----

  /**
   * Receipts are coalesced per node, per conversation and reader: at most one a second reaches
   * local clients, always the newest (read positions only move forward, so nothing is lost).
   */
  private void coalesceReceipt(Frame frame) {
    if (receipts == null) {
      receipts = new HashMap<>();
    }
    String reader = frame.payload().getString("userId");
    ReceiptSlot slot = receipts.computeIfAbsent(reader == null ? "" : reader, k -> new ReceiptSlot());
    long now = System.currentTimeMillis();
    if (slot.waiting == null && now - slot.lastSent >= RECEIPT_INTERVAL_MS) {
      slot.lastSent = now;
      forward(frame);
      return;
    }
    boolean armed = slot.waiting != null;
    if (slot.waiting == null || frame.payload().getLong("seq", 0L) >= slot.waiting.payload().getLong("seq", 0L)) {
      slot.waiting = frame;
    }
    if (!armed) {
      home.eventLoop().schedule(() -> home.context().runOnContext(v -> {
        Frame newest = slot.waiting;
        slot.waiting = null;
        slot.lastSent = System.currentTimeMillis();
        if (newest != null && !dead) {
          forward(newest);
        }
      }), Math.max(1, slot.lastSent + RECEIPT_INTERVAL_MS - now), TimeUnit.MILLISECONDS);
    }
  }
}
