package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.auth.Authenticator;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.EnumSet;

import static io.switchboard.testing.Api.assertError;
import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Development tokens: minting is throttled per client address ({@code auth.devTokensPerMinute},
 * 429 with {@code Retry-After}), and the user id follows the one user-id rule (DECISIONS.md).
 */
class DevTokenTest {

  static final int PER_MINUTE = 3;
  static Node node;
  static Api api;

  @BeforeAll
  static void start() {
    node = TestNodes.TestCluster.create()
      .start(new JsonObject().put("auth", new JsonObject().put("devTokensPerMinute", PER_MINUTE)),
        EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
  }

  @AfterAll
  static void stop() {
    await(node.stop());
  }

  static HttpResponse<Buffer> mint(String userId) {
    return api.post("/api/auth/dev-token", null, new JsonObject().put("userId", userId));
  }

  @Test
  @DisplayName("minting past auth.devTokensPerMinute from one address is 429 rate_limited with Retry-After")
  void throttled() {
    // The first of this node's mints from this address: the whole burst is there.
    for (int i = 0; i < PER_MINUTE; i++) {
      HttpResponse<Buffer> ok = mint(Api.user("burst"));
      assertThat(ok.statusCode()).as(ok.bodyAsString()).isEqualTo(201);
    }

    HttpResponse<Buffer> refused = mint(Api.user("one-too-many"));

    assertError(refused, 429, "rate_limited");
    assertThat(Long.parseLong(refused.getHeader("Retry-After"))).isBetween(1L, 60L);
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"*", "zero\u200Bwidth", "joiner\u200Dx", "\uFEFFbom", "rtl\u202Emark", "tab\tbed",
    "nb\u00A0space", "line\u2028sep", "filler\u3164", "bell\u0007", "", " "})
  @DisplayName("user ids that are '*', or hold whitespace, control, format or zero-width characters, are refused")
  void invisibleOrWildcardIdsRefused(String userId) {
    assertThat(Authenticator.validUserId(userId)).isFalse();
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"alice", "bob-42", "émile", "李雷", "user@example.com", "a*b", "smile\uD83D\uDE00"})
  @DisplayName("visible user ids, in any script, are accepted")
  void visibleIdsAccepted(String userId) {
    assertThat(Authenticator.validUserId(userId)).isTrue();
  }

  @Test
  @DisplayName("POST /api/auth/dev-token refuses a '*' or zero-width user id with 400 naming 'userId'")
  void devTokenRefusesInvisibleIds() {
    Api shared = new Api(TestNodes.port(TestNodes.shared()));
    for (String userId : new String[] {"*", "mallory\u200B", "\u2060"}) {
      HttpResponse<Buffer> r = shared.post("/api/auth/dev-token", null, new JsonObject().put("userId", userId));
      assertError(r, 400, "invalid_request");
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("userId");
    }
  }
}
