package io.switchboard.auth;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What one node refuses once it knows a revocation (SPEC §10), without I/O. */
class RevocationsTest {

  static Principal token(String user, String jti, long iat) {
    return new Principal(user, null, List.of(), 0, jti, iat, new JsonObject().put("sub", user));
  }

  @Test
  @DisplayName("a jti is refused until its token expires (plus leeway), then forgotten; without exp it is kept")
  void byJti() {
    Revocations r = new Revocations(5);
    r.add(new JsonObject().put("jti", "a").put("exp", 1000L));
    r.add(new JsonObject().put("jti", "b").put("exp", 0L));
    assertThat(r.revoked(token("u", "a", 10))).isTrue();
    assertThat(r.revoked(token("u", "b", 10))).isTrue();
    assertThat(r.revoked(token("u", "c", 10))).isFalse();
    r.prune(1004);
    assertThat(r.revoked(token("u", "a", 10))).isTrue();
    r.prune(1006);
    assertThat(r.revoked(token("u", "a", 10))).as("expired: refused by exp anyway").isFalse();
    assertThat(r.revoked(token("u", "b", 10))).isTrue();
    assertThat(r.size()).isEqualTo(1);
  }

  @Test
  @DisplayName("a user's tokens issued before the time are refused, later ones (and other users') are not; the latest time wins")
  void byUser() {
    Revocations r = new Revocations(5);
    r.add(new JsonObject().put("userId", "alice").put("issuedBefore", 100L));
    assertThat(r.revoked(token("alice", null, 99))).isTrue();
    assertThat(r.revoked(token("alice", null, 0))).as("no iat").isTrue();
    assertThat(r.revoked(token("alice", null, 100))).isFalse();
    assertThat(r.revoked(token("bob", null, 1))).isFalse();
    r.add(new JsonObject().put("userId", "alice").put("issuedBefore", 50L));
    assertThat(r.revoked(token("alice", null, 99))).as("an older revocation does not lift a newer one").isTrue();
    r.add(new JsonObject().put("userId", "alice").put("issuedBefore", 200L));
    assertThat(r.revoked(token("alice", null, 150))).isTrue();
    // The admin API acting for a user has no token: nothing to revoke.
    assertThat(r.revoked(Principal.actingFor("alice"))).isFalse();
  }
}
