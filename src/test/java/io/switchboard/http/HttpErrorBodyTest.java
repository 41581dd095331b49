package io.switchboard.http;

import io.switchboard.testing.RawHttp;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC §2: every error answer is JSON, {@code {"error":{"code","message"}}}, also those the HTTP
 * decoder gives before any route runs (a URI or headers over their limits, a request it cannot
 * read), which Vert.x would send with an empty body. Raw requests, as no client library sends them.
 */
class HttpErrorBodyTest {

  static int port;

  @BeforeAll
  static void start() {
    port = TestNodes.port(TestNodes.shared());
  }

  static RawHttp.Response send(String request) {
    try (RawHttp http = RawHttp.connect(port, 15_000)) {
      return http.write(request).read();
    }
  }

  static void assertJsonError(RawHttp.Response r, int status, String code) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().get("content-type")).startsWith("application/json");
    JsonObject error = r.json().getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("message")).isNotBlank();
  }

  @Test
  @DisplayName("a request line over the limit is 414 with a JSON too_large body")
  void uriTooLong() {
    RawHttp.Response r = send("GET /api/health?x=" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n");

    assertJsonError(r, 414, "too_large");
  }

  @Test
  @DisplayName("headers over the limit are 431 with a JSON too_large body")
  void headersTooLarge() {
    RawHttp.Response r = send("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(10_000) + "\r\n\r\n");

    assertJsonError(r, 431, "too_large");
  }

  @Test
  @DisplayName("a request the HTTP decoder cannot read is 400 with a JSON invalid_request body")
  void malformedRequest() {
    RawHttp.Response r = send("GET /api/health NOT-HTTP\r\nHost: x\r\n\r\n");

    assertJsonError(r, 400, "invalid_request");
  }

  @Test
  @DisplayName("a body over limits.frameBytes is 413 with a JSON too_large body")
  void bodyTooLarge() {
    String body = "{\"userId\":\"" + "x".repeat(200_000) + "\"}";
    RawHttp.Response r = send("POST /api/auth/dev-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      + "Content-Length: " + body.length() + "\r\n\r\n" + body);

    assertJsonError(r, 413, "too_large");
  }

  @Test
  @DisplayName("an unknown route is 404 with a JSON not_found body")
  void unknownRoute() {
    RawHttp.Response r = send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");

    assertJsonError(r, 404, "not_found");
  }

  @Test
  @DisplayName("a plain GET of /api/ws is 426 Upgrade Required with Upgrade: websocket and a JSON body")
  void plainGetOfWebSocketEndpoint() {
    RawHttp.Response r = send("GET /api/ws HTTP/1.1\r\nHost: x\r\n\r\n");

    assertJsonError(r, 426, "invalid_request");
    assertThat(r.headers().get("upgrade")).isEqualToIgnoringCase("websocket");
  }
}
