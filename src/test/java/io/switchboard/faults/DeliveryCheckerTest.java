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

/** The checker of the fault scenarios catches what it is there to catch, and nothing else. */
class DeliveryCheckerTest {

  static final String A = "aaaaaaaa-0000-0000-0000-000000000001";
  static final String B = "bbbbbbbb-0000-0000-0000-000000000002";

  private static DeliveryChecker checker() {
    DeliveryChecker c = new DeliveryChecker();
    c.client(0, Set.of(A));
    c.client(1, Set.of(A, B));
    return c;
  }

  private static Map<String, TreeMap<Long, History>> history(String conv, long last) {
    TreeMap<Long, History> items = new TreeMap<>();
    for (long s = 1; s <= last; s++) {
      items.put(s, new History(s, conv + "/m" + s, conv + "/c" + s));
    }
    return new java.util.HashMap<>(Map.of(conv, items));
  }

  private static Ack ack(String conv, long seq) {
    return new Ack(0, conv, conv + "/c" + seq, seq, conv + "/m" + seq, 0, 0, 1);
  }

  @Test
  @DisplayName("in-order deliveries of every committed item are clean")
  void clean() {
    DeliveryChecker c = checker();
    for (long s = 1; s <= 3; s++) {
      c.acked(ack(A, s));
      c.streamDelivery(0, A, s, A + "/m" + s, "");
      c.streamDelivery(1, A, s, A + "/m" + s, "");
    }
    assertThat(c.converged(history(A, 3), i -> true)).isTrue();
    assertThat(c.judge(history(A, 3), i -> true)).isEqualTo(3);
    assertThat(c.violations()).isEmpty();
  }

  @Test
  @DisplayName("a repeat, an inversion and a silent gap are each caught")
  void orderViolations() {
    DeliveryChecker c = checker();
    c.streamDelivery(0, A, 1, null, "");
    c.streamDelivery(0, A, 1, null, "");
    c.streamDelivery(0, A, 3, null, "");
    c.streamDelivery(0, A, 2, null, "");
    assertThat(c.violations()).containsOnlyKeys(Violation.DUPLICATE, Violation.GAP, Violation.INVERSION);
  }

  @Test
  @DisplayName("a jump right after resync_required is allowed, and history fills what the stream skipped")
  void resyncExcusesOneJump() {
    DeliveryChecker c = checker();
    c.streamDelivery(0, A, 1, null, "");
    c.resync(0);
    c.streamDelivery(0, A, 4, null, "");
    assertThat(c.contiguous(0, A)).isEqualTo(1);
    c.historyDelivery(0, A, 2, A + "/m2");
    c.historyDelivery(0, A, 3, A + "/m3");
    assertThat(c.contiguous(0, A)).isEqualTo(4);
    c.streamDelivery(0, A, 6, null, "");
    assertThat(c.violations()).containsOnlyKeys(Violation.GAP);
  }

  @Test
  @DisplayName("an acknowledged message a member never got is lost; one never acknowledged is undelivered")
  void lossAtTheEnd() {
    DeliveryChecker c = checker();
    c.acked(ack(A, 1));
    c.streamDelivery(0, A, 1, A + "/m1", "");
    c.freshStart(1);
    c.streamDelivery(1, A, 2, A + "/m2", "");
    assertThat(c.converged(history(A, 2), i -> true)).isFalse();
    c.judge(history(A, 2), i -> true);
    assertThat(c.violations()).containsOnlyKeys(Violation.LOST, Violation.UNDELIVERED);
    assertThat(c.examples(Violation.LOST)).singleElement().asString().contains("client 1");
  }

  @Test
  @DisplayName("one clientMessageId answered or committed as two messages, and an acknowledgement without a commit")
  void doubleAnswers() {
    DeliveryChecker c = checker();
    c.acked(ack(A, 1));
    c.acked(new Ack(0, A, A + "/c1", 2, A + "/other", 1, 0, 2));
    c.acked(ack(A, 5));
    Map<String, TreeMap<Long, History>> committed = history(A, 1);
    committed.get(A).put(2L, new History(2, A + "/m2", A + "/c1"));
    c.judge(committed, i -> true);
    assertThat(c.violations()).containsKeys(Violation.CMID_TWO_MESSAGES, Violation.ACKED_NOT_COMMITTED,
      Violation.SEQ_TWO_MESSAGES);
  }

  @Test
  @DisplayName("an item of someone else's conversation, a hole in history and a client without a stream")
  void foreignHoleAndAbsent() {
    DeliveryChecker c = checker();
    c.streamDelivery(0, B, 1, null, "");
    TreeMap<Long, History> holed = new TreeMap<>(Map.of(
      1L, new History(1, "m1", null),
      3L, new History(3, "m3", null)));
    c.judge(Map.of(B, holed), i -> i != 1);
    assertThat(c.violations()).containsKeys(Violation.FOREIGN, Violation.HISTORY_GAP, Violation.NOT_RESUMED);
  }
}
