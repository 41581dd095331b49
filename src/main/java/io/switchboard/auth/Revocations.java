package io.switchboard.auth;

import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The revoked tokens one node knows (SPEC §10): single tokens by {@code jti}, and every token of a
 * user issued before a time. Checked on every authentication without I/O; filled from PostgreSQL
 * at start and every half minute, and at once from the cluster-wide revocation events
 * ({@code admin/ControlVerticle}). Revocations are never lifted, so what a node learns is only
 * ever added to; a {@code jti} is forgotten once its token has expired.
 */
public final class Revocations {

  /** jti → the token's exp in epoch seconds (0: unknown, kept for good). */
  private final Map<String, Long> tokens = new ConcurrentHashMap<>();
  /** user id → epoch seconds: tokens issued before it are refused. */
  private final Map<String, Long> users = new ConcurrentHashMap<>();
  private final long leewaySeconds;

  public Revocations(long leewaySeconds) {
    this.leewaySeconds = leewaySeconds;
  }

  /**
   * True when the principal's token is revoked. A principal that did not come from a token (the
   * admin API acting for a user) has nothing to revoke. A token without {@code iat} cannot show it
   * was issued after a user's revocation, so it is refused by one.
   */
  public boolean revoked(Principal p) {
    if (p.claims() == null) {
      return false;
    }
    if (p.jti() != null && tokens.containsKey(p.jti())) {
      return true;
    }
    Long before = users.get(p.userId());
    return before != null && p.issuedAt() < before;
  }

  /** Adds one revocation: {@code {jti, exp?}} or {@code {userId, issuedBefore}} (epoch seconds). */
  public void add(JsonObject revocation) {
    if (revocation.getValue("jti") instanceof String jti) {
      tokens.merge(jti, revocation.getLong("exp", 0L), (a, b) -> a == 0 || b == 0 ? 0 : Math.max(a, b));
    } else if (revocation.getValue("userId") instanceof String userId) {
      users.merge(userId, revocation.getLong("issuedBefore", 0L), Math::max);
    }
  }

  /** Forgets the jtis whose tokens have expired (past the leeway): they are refused anyway. */
  public void prune(long nowSeconds) {
    tokens.values().removeIf(exp -> exp > 0 && exp + leewaySeconds < nowSeconds);
  }

  /** How many revocations this node holds (stats). */
  public int size() {
    return tokens.size() + users.size();
  }
}
