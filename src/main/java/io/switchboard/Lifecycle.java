package io.switchboard;

/**
 * Where a node is in its life, for the readiness probe ({@code GET /api/health/ready}): it takes
 * traffic only while {@link Phase#SERVING}. Written by {@link Node}, read by any thread.
 */
public final class Lifecycle {

  /** The phases, in order; a node never goes back. */
  public enum Phase {
    /** Deploying its verticles: the HTTP port may already answer, the node is not complete yet. */
    STARTING,
    /** Started; serving. */
    SERVING,
    /** Stopping: clients are being sent to other nodes. */
    DRAINING
  }

  private volatile Phase phase = Phase.STARTING;

  public Phase phase() {
    return phase;
  }

  void serving() {
    if (phase == Phase.STARTING) {
      phase = Phase.SERVING;
    }
  }

  void draining() {
    phase = Phase.DRAINING;
  }
}
