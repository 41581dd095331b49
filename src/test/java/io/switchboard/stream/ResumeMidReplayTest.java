package io.switchboard.stream;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * DESIGN §4: a stream that dies half-way through its replay resumes from the cursor of the last
 * event it got, and gets the rest of the replay — whether the resumed stream went on with its
 * session or was given a new one (a cursor naming many conversations).
 */
class ResumeMidReplayTest {

  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
  }

  @Test
  @DisplayName("a resume cut after its first replayed event gets the rest of the replay on the next resume")
  void sameSession() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String x = api.group(aliceToken, "x", bob).getString("id");
    String y = api.group(aliceToken, "y", bob).getString("id");
    String cursor = connectedCursor(bobToken);
    cutAfterFirstReplayed(aliceToken, bobToken, cursor, x, y);
  }

  @Test
  @DisplayName("the same holds when the resumed stream was given a new session (a cursor of many conversations)")
  void renewedSession() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    List<String> conversations = new ArrayList<>();
    for (int i = 0; i < StreamVerticle.REUSE_MAX_ENTRIES + 2; i++) {
      conversations.add(api.group(aliceToken, "many " + i, bob).getString("id"));
    }
    SseClient live = await(SseClient.open(api.port(), "/api/events", bobToken));
    await(live.next("connected"));
    for (String c : conversations) {
      api.send(aliceToken, c, "one each");
    }
    for (int i = 0; i < conversations.size(); i++) {
      await(live.next("message_received"));
    }
    // A cursor naming every one of them: the resume gets a new session.
    String cursor = live.lastEventId();
    live.close();
    assertThat(cursor.split(",")).hasSizeGreaterThan(StreamVerticle.REUSE_MAX_ENTRIES);
    cutAfterFirstReplayed(aliceToken, bobToken, cursor, conversations.get(0), conversations.get(1));
  }

  private static String connectedCursor(String token) {
    SseClient sse = await(SseClient.open(api.port(), "/api/events", token));
    String cursor = await(sse.next("connected")).id();
    sse.close();
    return cursor;
  }

  /** Two missed messages in each of x and y; the stream is cut after the first replayed one. */
  private static void cutAfterFirstReplayed(String aliceToken, String bobToken, String cursor, String x, String y) {
    List<String> missed = new ArrayList<>();
    for (String c : List.of(x, y)) {
      for (int i = 0; i < 2; i++) {
        missed.add(api.send(aliceToken, c, "missed").getString("id"));
      }
    }
    SseClient first = await(SseClient.open(api.port(), "/api/events", bobToken, "Last-Event-ID", cursor));
    await(first.next("connected"));
    SseClient.Event one = await(first.next("message_received"));
    first.close();

    SseClient second = await(SseClient.open(api.port(), "/api/events", bobToken, "Last-Event-ID", one.id()));
    await(second.next("connected"));
    List<String> got = new ArrayList<>(List.of(one.payload().getString("id")));
    for (int i = 0; i < missed.size() - 1; i++) {
      got.add(await(second.next("message_received")).payload().getString("id"));
    }
    second.close();
    assertThat(got).containsExactlyInAnyOrderElementsOf(missed);
  }
}
