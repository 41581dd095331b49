package io.switchboard.http;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.RawHttp;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Slowloris and idle connections (http.headerTimeoutSeconds, http.idleTimeoutSeconds): a client
 * that trickles its headers, or a body, or holds a connection without a request, is answered 408
 * or closed; the streams (SSE, WebSocket, long-poll) live on past both timeouts. Raw sockets, as
 * an attacker writes.
 */
class ConnectionTimeoutTest {

  static final int HEADER_TIMEOUT = 1;
  static final int IDLE_TIMEOUT = 2;
  /** Well past either timeout, and short of "for ever" on a loaded machine. */
  static final int READ_TIMEOUT_MS = 20_000;

  static Node node;
  static int port;
  static Api api;

  @BeforeAll
  static void start() {
    JsonObject config = new JsonObject()
      .put("http", new JsonObject().put("headerTimeoutSeconds", HEADER_TIMEOUT).put("idleTimeoutSeconds", IDLE_TIMEOUT))
      .put("sse", new JsonObject().put("heartbeatSeconds", 1))
      .put("ws", new JsonObject().put("pingSeconds", 1));
    node = TestNodes.TestCluster.create().start(config, EnumSet.allOf(Node.Role.class));
    port = TestNodes.port(node);
    api = new Api(port);
  }

  @AfterAll
  static void stop() {
    await(node.stop());
  }

  @Test
  @DisplayName("a client that trickles header lines gets 408 with a JSON body, and the connection is closed")
  void trickledHeaders() throws Exception {
    try (RawHttp http = RawHttp.connect(port, READ_TIMEOUT_MS)) {
      http.write("GET /api/health HTTP/1.1\r\nHost: x\r\n");
      AtomicBoolean open = new AtomicBoolean(true);
      // The attacker's pace: one more header line well within any per-read timeout, for ever.
      Thread trickler = new Thread(() -> {
        for (int i = 0; i < 60 && open.get(); i++) {
          if (!http.tryWrite("X-Trickle-" + i + ": 1\r\n")) {
            return;
          }
          try {
            Thread.sleep(250);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      trickler.start();
      long began = System.nanoTime();
      try {
        String answer = http.awaitClose();

        assertThat(answer).startsWith("HTTP/1.1 408");
        assertThat(new JsonObject(answer.substring(answer.indexOf("\r\n\r\n") + 4)).getJsonObject("error")
          .getString("code")).isEqualTo("invalid_request");
        assertThat((System.nanoTime() - began) / 1_000_000).as("ms until closed").isLessThan(READ_TIMEOUT_MS);
      } finally {
        open.set(false);
        trickler.join();
      }
    }
  }

  @Test
  @DisplayName("a connection that opens and sends nothing is closed")
  void silentConnection() {
    try (RawHttp http = RawHttp.connect(port, READ_TIMEOUT_MS)) {
      assertThat(http.awaitClose()).isEmpty();
    }
  }

  @Test
  @DisplayName("a keep-alive connection left idle after its response is closed after the idle timeout")
  void idleKeepAlive() {
    try (RawHttp http = RawHttp.connect(port, READ_TIMEOUT_MS)) {
      RawHttp.Response health = http.write("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").read();
      assertThat(health.status()).isEqualTo(200);

      long idleFrom = System.nanoTime();
      assertThat(http.awaitClose()).isEmpty();
      assertThat((System.nanoTime() - idleFrom) / 1_000_000).as("ms idle before the close")
        .isGreaterThanOrEqualTo(IDLE_TIMEOUT * 1000L - 200);
    }
  }

  @Test
  @DisplayName("a request whose body stops arriving gets 408 and the connection is closed")
  void stalledBody() {
    try (RawHttp http = RawHttp.connect(port, READ_TIMEOUT_MS)) {
      http.write("POST /api/auth/dev-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: 100\r\n\r\n{\"userId\":");

      String answer = http.awaitClose();

      assertThat(answer).startsWith("HTTP/1.1 408");
      assertThat(answer).contains("\"code\":\"invalid_request\"");
    }
  }

  @Test
  @DisplayName("an SSE stream with a short heartbeat outlives the header and idle timeouts")
  void sseOutlivesTimeouts() {
    String token = api.token(Api.user("sse"));
    try (RawHttp http = RawHttp.connect(port, READ_TIMEOUT_MS)) {
      http.write("GET /api/events?token=" + token + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
      String status = http.readLine();
      assertThat(status).startsWith("HTTP/1.1 200");
      int heartbeats = 0;
      long began = System.nanoTime();
      // One heartbeat a second: twice the idle timeout's worth of them, each line awaited.
      while (heartbeats < IDLE_TIMEOUT * 2 + HEADER_TIMEOUT) {
        String line = http.readLine();
        assertThat(line).as("the stream is still open after %d heartbeats", heartbeats).isNotNull();
        if (line.equals(":")) {
          heartbeats++;
        }
      }
      assertThat((System.nanoTime() - began) / 1_000_000).isGreaterThan(IDLE_TIMEOUT * 1000L);
    }
  }

  @Test
  @DisplayName("a WebSocket outlives the header and idle timeouts")
  void webSocketOutlivesTimeouts() {
    String token = api.token(Api.user("ws"));
    WsClient ws = await(WsClient.connect(port, "/api/ws", token));
    try {
      await(ws.next("connected"));
      // Quiet for longer than both timeouts: only the server's pings cross the connection.
      await(Api.clientVertx().timer((IDLE_TIMEOUT + HEADER_TIMEOUT) * 1000L + 1000));

      assertThat(await(ws.request("ping", new JsonObject())).getString("type")).isEqualTo("pong");
    } finally {
      ws.close();
    }
  }

  @Test
  @DisplayName("a long-poll that waits longer than the idle timeout is answered, not cut")
  void longPollOutlivesTimeouts() {
    String token = api.token(Api.user("poll"));
    HttpResponse<Buffer> r = await(api.client().get("/api/events/poll?timeout=" + (IDLE_TIMEOUT + 2))
      .bearerTokenAuthentication(token).timeout(READ_TIMEOUT_MS).send());

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.bodyAsJsonObject().getJsonArray("events")).isNotNull();
  }
}
