package io.switchboard.presence;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One node's set of connected users as presence replicates it (Phoenix Tracker's idea): the
 * users, a version that moves by one with each delta, and a digest, the XOR of the users' 64-bit
 * hashes. Count and digest change in O(1) per user and do not depend on order, so a heartbeat
 * of three numbers tells a replica whether it holds exactly what the owner holds.
 *
 * <p>It also holds which of its users are idle on that node (no command there for
 * {@code presence.awaySeconds}): a user idle on every node that has them is away. Idle changes
 * travel in the same versioned deltas, so a replica that misses one sees the version gap.
 */
final class NodeSet {

  private final Set<String> users = new HashSet<>();
  private final Set<String> idle = new HashSet<>();
  private long version;
  private long digest;

  /** Adds a user; false when it was there already. */
  boolean add(String userId) {
    if (!users.add(userId)) {
      return false;
    }
    digest ^= hash(userId);
    return true;
  }

  /** Removes a user; false when it was not there. */
  boolean remove(String userId) {
    if (!users.remove(userId)) {
      return false;
    }
    idle.remove(userId);
    digest ^= hash(userId);
    return true;
  }

  /** Marks one of the set's users idle or active here; false when nothing changed (or not in the set). */
  boolean idle(String userId, boolean isIdle) {
    if (!users.contains(userId)) {
      return false;
    }
    return isIdle ? idle.add(userId) : idle.remove(userId);
  }

  boolean isIdle(String userId) {
    return idle.contains(userId);
  }

  /** The idle users (a read-only view). */
  Set<String> idleUsers() {
    return Collections.unmodifiableSet(idle);
  }

  boolean contains(String userId) {
    return users.contains(userId);
  }

  int size() {
    return users.size();
  }

  long version() {
    return version;
  }

  void version(long version) {
    this.version = version;
  }

  long digest() {
    return digest;
  }

  /** The users (a read-only view). */
  Set<String> users() {
    return Collections.unmodifiableSet(users);
  }

  /** Replaces the whole set (a full state at {@code version}); returns the users no longer in it. */
  List<String> replace(Collection<String> next, long version) {
    return replace(next, List.of(), version);
  }

  /** As above, with the users of the state that are idle there. */
  List<String> replace(Collection<String> next, Collection<String> idleNext, long version) {
    Set<String> incoming = new HashSet<>(next);
    List<String> gone = new ArrayList<>();
    for (String u : users) {
      if (!incoming.contains(u)) {
        gone.add(u);
      }
    }
    users.clear();
    idle.clear();
    digest = 0;
    incoming.forEach(this::add);
    idleNext.forEach(u -> idle(u, true));
    this.version = version;
    return gone;
  }

  /** True when a heartbeat's clock and fingerprint are this set's. */
  boolean matches(long version, int count, long digest) {
    return this.version == version && users.size() == count && this.digest == digest;
  }

  /** FNV-1a over the UTF-8 bytes, then MurmurHash3's finaliser: the same on every node and JVM. */
  static long hash(String userId) {
    long h = 0xcbf29ce484222325L;
    for (byte b : userId.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }
}
