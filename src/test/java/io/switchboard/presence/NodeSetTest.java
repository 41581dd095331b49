package io.switchboard.presence;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The fingerprint a heartbeat carries: a replica matches its owner exactly when it holds the same users. */
class NodeSetTest {

  private static List<String> users(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add("user-" + i);
    }
    return out;
  }

  @Test
  @DisplayName("the digest does not depend on the order users came and went in")
  void orderFree() {
    List<String> all = users(500);
    NodeSet a = new NodeSet();
    all.forEach(a::add);
    List<String> shuffled = new ArrayList<>(all);
    Collections.shuffle(shuffled, new Random(7));
    NodeSet b = new NodeSet();
    // b also sees some users come and go again on the way.
    shuffled.subList(0, 50).forEach(b::add);
    shuffled.subList(0, 50).forEach(b::remove);
    shuffled.forEach(b::add);
    assertThat(b.digest()).isEqualTo(a.digest());
    assertThat(b.matches(a.version(), a.size(), a.digest())).isTrue();
  }

  @Test
  @DisplayName("a replica that missed one join or one leave no longer matches its owner's heartbeat")
  void missedChange() {
    NodeSet owner = new NodeSet();
    NodeSet replica = new NodeSet();
    users(100).forEach(u -> {
      owner.add(u);
      replica.add(u);
    });
    owner.remove("user-3");
    owner.add("ghost-in-owner");
    replica.remove("user-3");
    assertThat(replica.matches(owner.version(), owner.size(), owner.digest())).isFalse();
    replica.add("ghost-in-owner");
    assertThat(replica.matches(owner.version(), owner.size(), owner.digest())).isTrue();
    // Same count, same version, one user swapped for another: the digest tells.
    replica.remove("user-4");
    replica.add("user-x");
    assertThat(replica.size()).isEqualTo(owner.size());
    assertThat(replica.matches(owner.version(), owner.size(), owner.digest())).isFalse();
  }

  @Test
  @DisplayName("a full state replaces the replica and names the users it no longer has")
  void replace() {
    NodeSet replica = new NodeSet();
    List.of("a", "b", "c").forEach(replica::add);
    List<String> gone = replica.replace(List.of("b", "c", "d"), 42);
    assertThat(gone).containsExactly("a");
    assertThat(replica.users()).containsExactlyInAnyOrder("b", "c", "d");
    assertThat(replica.version()).isEqualTo(42);
    NodeSet owner = new NodeSet();
    List.of("d", "c", "b").forEach(owner::add);
    assertThat(replica.digest()).isEqualTo(owner.digest());
  }

  @Test
  @DisplayName("adding a user twice or removing an absent one changes nothing")
  void idempotent() {
    NodeSet s = new NodeSet();
    assertThat(s.add("a")).isTrue();
    long digest = s.digest();
    assertThat(s.add("a")).isFalse();
    assertThat(s.remove("b")).isFalse();
    assertThat(s.digest()).isEqualTo(digest);
    assertThat(s.remove("a")).isTrue();
    assertThat(s.digest()).isZero();
  }
}
