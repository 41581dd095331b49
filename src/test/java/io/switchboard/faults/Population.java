package io.switchboard.faults;

import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.IntUnaryOperator;
import java.util.function.Predicate;

/**
 * The users of a fault run: stream clients (each a distinct user in several groups, SSE and
 * WebSocket alternately, each homed on a node) and steady senders (distinct users, members of
 * every group). Groups are created over REST before any client connects, so every client starts
 * at seq 0 of each of its conversations.
 */
final class Population implements AutoCloseable {

  /**
   * How a run is peopled.
   *
   * @param clients                stream clients
   * @param conversations          groups
   * @param conversationsPerClient groups per client
   * @param sendersPerNode         steady senders homed on each node
   * @param home                   the node of client {@code i}
   */
  record Plan(int clients, int conversations, int conversationsPerClient, int sendersPerNode, IntUnaryOperator home) {

    /** The scenarios' default: {@link Knobs} sizes, clients spread over the nodes. */
    static Plan spread(int nodes) {
      return new Plan(Knobs.clients(), Knobs.conversations(), Knobs.conversationsPerClient(), Knobs.sendersPerNode(),
        i -> i % nodes);
    }
  }

  private static final int CREATE_IN_FLIGHT = 8;

  final String run = UUID.randomUUID().toString().substring(0, 6);
  final List<StreamClient> clients = new ArrayList<>();
  final List<Sender> senders = new ArrayList<>();
  final List<String> groups = new ArrayList<>();
  private final Harness harness;
  private final DeliveryChecker checker;
  private long watchdog = -1;
  private volatile boolean sendingStarted;

  private Population(Harness harness, DeliveryChecker checker) {
    this.harness = harness;
    this.checker = checker;
  }

  /** Creates the users and groups of {@code plan}; nobody is connected or sending yet. */
  static Population create(Harness harness, DeliveryChecker checker, Plan plan) {
    Population p = new Population(harness, checker);
    int nodes = harness.size();
    int k = Math.min(plan.conversationsPerClient(), plan.conversations());
    List<String> senderIds = new ArrayList<>();
    for (int j = 0; j < plan.sendersPerNode() * nodes; j++) {
      senderIds.add("s" + j + "-" + p.run);
    }
    List<List<Integer>> membersOf = new ArrayList<>();
    for (int g = 0; g < plan.conversations(); g++) {
      membersOf.add(new ArrayList<>());
    }
    List<List<Integer>> groupsOf = new ArrayList<>();
    for (int i = 0; i < plan.clients(); i++) {
      List<Integer> mine = new ArrayList<>();
      for (int j = 0; j < k; j++) {
        int g = (int) (((long) i * k + j) % plan.conversations());
        mine.add(g);
        membersOf.get(g).add(i);
      }
      groupsOf.add(mine);
    }
    String owner = senderIds.get(0);
    String ownerToken = Harness.token(owner);
    for (int from = 0; from < plan.conversations(); from += CREATE_IN_FLIGHT) {
      List<Future<String>> batch = new ArrayList<>();
      for (int g = from; g < Math.min(plan.conversations(), from + CREATE_IN_FLIGHT); g++) {
        JsonArray participants = new JsonArray();
        senderIds.stream().skip(1).forEach(participants::add);
        membersOf.get(g).forEach(i -> participants.add(clientUser(i, p.run)));
        JsonObject body = new JsonObject()
          .put("name", "faults " + p.run + " #" + g)
          .put("participantIds", participants);
        batch.add(harness.call(g % nodes, HttpMethod.POST, "/api/groups", ownerToken, body, 30_000).map(r -> {
          if (r.status() != 201) {
            throw new AssertionError("creating a group answered " + r.status() + " " + r.body());
          }
          return r.json().getString("id");
        }));
      }
      batch.forEach(f -> p.groups.add(Harness.await(f, Duration.ofSeconds(60))));
    }
    for (int i = 0; i < plan.clients(); i++) {
      List<String> convs = groupsOf.get(i).stream().map(p.groups::get).toList();
      int home = plan.home().applyAsInt(i);
      StreamClient c = i % 2 == 0
        ? new SseStreamClient(i, clientUser(i, p.run), convs, home, harness, checker, p)
        : new WsStreamClient(i, clientUser(i, p.run), convs, home, harness, checker, p);
      checker.client(i, new HashSet<>(convs));
      p.clients.add(c);
    }
    for (int j = 0; j < senderIds.size(); j++) {
      p.senders.add(new Sender(j, senderIds.get(j), j % nodes, p.groups, p.run, harness, checker));
    }
    List<StreamClient> all = List.copyOf(p.clients);
    p.watchdog = harness.vertx().setPeriodic(1000, id -> all.forEach(StreamClient::watchdog));
    return p;
  }

  private static String clientUser(int i, String run) {
    return "c" + i + "-" + run;
  }

  /** Opens every client's first stream on its home node, all at once. */
  void connectAll(boolean pinned) {
    clients.forEach(c -> c.start(c.home, pinned));
  }

  void unpinAll() {
    clients.forEach(StreamClient::unpin);
  }

  /** Waits until every client has an open stream; answers how long it took. */
  Duration awaitAllLive(Duration timeout) {
    return Harness.awaitCondition("every client connected (" + liveCount() + "/" + clients.size() + " now)", timeout,
      () -> clients.stream().allMatch(StreamClient::isLive));
  }

  long liveCount() {
    return clients.stream().filter(StreamClient::isLive).count();
  }

  /** The clients whose stream is open on {@code node} now. */
  List<StreamClient> liveOn(int node) {
    return clients.stream().filter(c -> c.liveNode() == node).toList();
  }

  /** Every client not on its home node goes back there (after a node recovered). */
  void sendHome(Predicate<StreamClient> which) {
    clients.stream().filter(which).forEach(c -> c.moveTo(c.home));
  }

  void startSending() {
    sendingStarted = true;
    senders.forEach(Sender::start);
  }

  boolean sendingStarted() {
    return sendingStarted;
  }

  /**
   * Replaces the stopped senders by new ones for the same users, whose {@code clientMessageId}s
   * carry {@code era} so that none repeats an earlier one (after a database restore the server
   * may no longer know them), and starts them.
   */
  void resumeSending(String era) {
    List<Sender> next = new ArrayList<>();
    for (Sender s : senders) {
      next.add(new Sender(s.index, s.userId, s.home, groups, run + era, harness, checker));
    }
    senders.clear();
    senders.addAll(next);
    senders.forEach(Sender::start);
  }

  /** Stops the senders, each after its send in flight is acknowledged or given up. */
  void stopSending() {
    List<Future<Void>> all = senders.stream().map(Sender::stop).toList();
    Harness.await(Future.all(all), Duration.ofSeconds(Knobs.sendGiveUpSeconds() + 30L));
  }

  /** Client indexes whose stream is open. */
  Set<Integer> live() {
    Set<Integer> out = new HashSet<>();
    clients.forEach(c -> {
      if (c.isLive()) {
        out.add(c.index);
      }
    });
    return out;
  }

  @Override
  public void close() {
    harness.vertx().cancelTimer(watchdog);
    senders.forEach(Sender::stop);
    List<Future<Void>> stops = clients.stream().map(StreamClient::stop).toList();
    try {
      Harness.await(Future.join(stops), Duration.ofSeconds(30));
    } catch (AssertionError | RuntimeException e) {
      // closing the harness closes the client side anyway
    }
  }
}
