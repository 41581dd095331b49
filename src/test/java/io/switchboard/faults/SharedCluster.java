package io.switchboard.faults;

import java.time.Duration;
import java.util.Map;

/**
 * One cluster of the harness's default three nodes, shared by the fault scenarios that need
 * nothing else: starting three node JVMs and a PostgreSQL costs more on two cores than most
 * scenarios' faults take. Each scenario gets it whole ({@link Harness#heal}: frozen nodes
 * continued, killed ones started again, PostgreSQL running, one cluster of three) and peoples it
 * with users and groups of its own, so what one scenario did is not what the next one judges. A
 * cluster that cannot be made whole is closed and a fresh one started. It is closed when a
 * scenario starts a cluster of its own (only one runs at a time) and when the JVM exits.
 */
final class SharedCluster {

  static final int NODES = 3;

  private static Harness harness;

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(SharedCluster::close, "shared-fault-cluster"));
  }

  private SharedCluster() {
  }

  /** The shared cluster, whole: healed if it ran a scenario before, started if there is none. */
  static synchronized Harness acquire() {
    if (harness != null) {
      try {
        harness.heal(Duration.ofSeconds(Knobs.nodeStartSeconds()));
      } catch (RuntimeException | AssertionError e) {
        System.out.println("shared fault cluster: could not be made whole again (" + e + "); starting a fresh one");
        close();
      }
    }
    if (harness == null) {
      harness = Harness.start(NODES, Map.of());
    }
    return harness;
  }

  /** Stops the shared cluster's nodes and PostgreSQL, if it runs. */
  static synchronized void close() {
    if (harness != null) {
      Harness h = harness;
      harness = null;
      h.close();
    }
  }
}
