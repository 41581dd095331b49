package io.switchboard.faults;

/**
 * Sizes and timings of the fault runs. The defaults keep all five scenarios within a few minutes
 * on a small machine; each can be raised with a system property ({@code -Dfaults.clients=300}) for
 * a bigger run.
 */
final class Knobs {

  private Knobs() {
  }

  /** Stream clients (distinct users, half SSE, half WebSocket) in scenarios 1–4. */
  static int clients() {
    return integer("faults.clients", 24);
  }

  /** Group conversations in scenarios 1–4. */
  static int conversations() {
    return integer("faults.conversations", 8);
  }

  /** Conversations each client's user is a member of. */
  static int conversationsPerClient() {
    return integer("faults.conversationsPerClient", 3);
  }

  /** Steady REST senders homed on each node (each a distinct user, member of every group). */
  static int sendersPerNode() {
    return integer("faults.sendersPerNode", 2);
  }

  /** Pause between one sender's acknowledged send and its next. */
  static long sendIntervalMs() {
    return integer("faults.sendIntervalMs", 250);
  }

  /** Acknowledged sends to wait for before a fault and after recovery (steady traffic). */
  static int steadyMessages() {
    return integer("faults.steadyMessages", 40);
  }

  /** How long clients may take to hold every committed item once sending stopped. */
  static int convergeSeconds() {
    return integer("faults.convergeSeconds", 45);
  }

  /** How long a send is retried (same clientMessageId) before it counts as never acknowledged. */
  static int sendGiveUpSeconds() {
    return integer("faults.sendGiveUpSeconds", 60);
  }

  /** Client-side timeout of one send attempt. */
  static long sendTimeoutMs() {
    return integer("faults.sendTimeoutMs", 10_000);
  }

  /** Client-side timeout of a send attempt that probes a node the sender left after a failure. */
  static long probeTimeoutMs() {
    return integer("faults.probeTimeoutMs", 2_000);
  }

  /** A stream that hears nothing (events, heartbeats, pings) this long is given up. */
  static long clientIdleMs() {
    return integer("faults.clientIdleMs", 6_000);
  }

  /** An open with no response head (SSE 200 / WebSocket upgrade) this long is given up. */
  static long headTimeoutMs() {
    return integer("faults.headTimeoutMs", 10_000);
  }

  /** A stream answered 200 (or upgraded) that sends no 'connected' this long is a violation. */
  static long openTimeoutMs() {
    return integer("faults.openTimeoutMs", 20_000);
  }

  /** How long the database stays down in scenario 4. */
  static int outageSeconds() {
    return integer("faults.outageSeconds", 10);
  }

  /**
   * Whether the scenarios that need the harness's default three nodes share one cluster
   * ({@link SharedCluster}); {@code -Dfaults.shareCluster=false} starts a fresh one for each.
   */
  static boolean shareCluster() {
    return !"false".equalsIgnoreCase(System.getProperty("faults.shareCluster", "true").trim());
  }

  /** How long the partition of issue 13's scenario 1 lasts: the 60 s. */
  static int partitionSeconds() {
    return integer("faults.partitionSeconds", 60);
  }

  /** Clients of the storm (scenario 5). */
  static int stormClients() {
    return integer("faults.storm.clients", 3000);
  }

  /** Members of each group of the storm (besides the senders). */
  static int stormGroupSize() {
    return integer("faults.storm.groupSize", 30);
  }

  /** Senders per node during the storm. */
  static int stormSendersPerNode() {
    return integer("faults.storm.sendersPerNode", 1);
  }

  /** How long the storm's clients may take to be connected, before and after the kill. */
  static int stormSeconds() {
    return integer("faults.storm.seconds", 60);
  }

  /** Identical sends fired at once in the commit-race scenario (issue 13, scenario 4). */
  static int racesBurst() {
    return integer("faults.races.burst", 50);
  }

  /** Publishers on one conversation (spread over the nodes) in issue 13, scenario 5. */
  static int racesPublishers() {
    return integer("faults.races.publishers", 30);
  }

  /** Messages the publishers of issue 13, scenario 5 send at full speed. */
  static int racesMessages() {
    return integer("faults.races.messages", 300);
  }

  /** Steady sends whose connection is cut around COMMIT in issue 13, scenario 3. */
  static int racesCuts() {
    return integer("faults.races.cuts", 6);
  }

  /** How long pg_terminate_backend runs in a loop under traffic in issue 13, scenario 3. */
  static int racesTerminateSeconds() {
    return integer("faults.races.terminateSeconds", 5);
  }

  /**
   * How long a node process may take to serve in a full cluster (a loaded machine starts JVMs
   * slowly); one that does not is killed and started once more.
   */
  static int nodeStartSeconds() {
    return integer("faults.nodeStartSeconds", 120);
  }

  /** JVM options of each node process. */
  static String nodeJvmArgs() {
    return System.getProperty("faults.nodeJvmArgs", "-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
  }

  private static int integer(String key, int fallback) {
    String v = System.getProperty(key);
    return v == null || v.isBlank() ? fallback : Integer.parseInt(v.trim());
  }
}
