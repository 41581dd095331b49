package io.switchboard.faults;

import io.switchboard.faults.DeliveryChecker.Ack;
import io.switchboard.faults.DeliveryChecker.History;
import io.switchboard.faults.DeliveryChecker.Violation;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The checker's accounting of a database restored from an older backup (scenario 6). */
class DeliveryCheckerRestoreTest {

  static final String A = "aaaaaaaa-0000-0000-0000-000000000001";

  /** Items 1..last of A; those above {@code era} are the messages sent after the restore. */
  private static Map<String, TreeMap<Long, History>> history(long last, long era) {
    TreeMap<Long, History> items = new TreeMap<>();
    for (long s = 1; s <= last; s++) {
      items.put(s, new History(s, id(s, s > era), null));
    }
    return Map.of(A, items);
  }

  private static String id(long seq, boolean after) {
    return (after ? "new/m" : "old/m") + seq;
  }

  /** Client 0 held items 1-5 and acks 1-5 exist (3-5 acknowledged after the backup at t=10); restored to 2. */
  private static DeliveryChecker restoredAtTwo() {
    DeliveryChecker c = new DeliveryChecker();
    c.client(0, Set.of(A));
    for (long s = 1; s <= 5; s++) {
      c.acked(new Ack(0, A, "c" + s, s, id(s, false), 0, 0, s <= 2 ? 5 : 20));
      c.streamDelivery(0, A, s, id(s, false), "");
    }
    c.restoring();
    assertThat(c.restored(10, Map.of(A, 2L))).isEqualTo(3);
    return c;
  }

  @Test
  @DisplayName("after a restore, a client that resyncs and reloads the restored history plus new sends is clean")
  void resyncedClient() {
    DeliveryChecker c = restoredAtTwo();
    c.resync(0);
    assertThat(c.contiguous(0, A)).isZero();
    for (long s = 1; s <= 4; s++) {
      c.historyDelivery(0, A, s, id(s, s > 2));
    }
    c.streamDelivery(0, A, 5, id(5, true), "");
    assertThat(c.resyncedAfterRestore()).containsOnlyKeys(0);
    assertThat(c.converged(history(5, 2), i -> true)).isTrue();
    c.judge(history(5, 2), i -> true);
    assertThat(c.violations()).isEmpty();
  }

  @Test
  @DisplayName("an item sent after the restore, delivered on an old cursor without resync_required, is a stale resume")
  void staleResume() {
    DeliveryChecker c = restoredAtTwo();
    c.streamDelivery(0, A, 6, id(6, true), "");
    assertThat(c.violations()).containsKey(Violation.STALE_RESUME);
    assertThat(c.resyncedAfterRestore()).isEmpty();
  }

  @Test
  @DisplayName("an ack from before the backup missing from the restored history is still caught")
  void ackBeforeBackupLost() {
    DeliveryChecker c = restoredAtTwo();
    c.resync(0);
    c.historyDelivery(0, A, 1, id(1, false));
    c.judge(history(1, 1), i -> true);
    assertThat(c.violations()).containsKey(Violation.ACKED_NOT_COMMITTED);
  }
}
