package io.switchboard.http;

import io.switchboard.Node;
import io.switchboard.config.ConfigException;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.Handshakes;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue scenario 7: connections that never authenticate or never send a byte (raw TCP on the HTTP
 * port, WebSocket upgrades without a token and no {@code auth}, TCP bridge sockets, SockJS
 * sessions that never register) are all closed after {@code limits.handshakeSeconds}, the health
 * endpoint answering meanwhile; past {@code limits.unauthenticatedPerIp} from one address the
 * rest get 429 (HTTP) or are closed (TCP bridge), and authenticated connections are neither
 * counted nor refused. Real sockets on loopback, as an attacker opens them.
 */
class UnauthenticatedConnectionsTest {

  static final int HANDSHAKE_SECONDS = 2;
  /** Each kind of connection the timeout test opens, all at once. */
  static final int PER_KIND = 150;
  static final int SOCKJS_XHR = 20;
  static final int CAP = 8;
  static final String LOCAL = "127.0.0.1";

  static Node timed;
  static Node capped;
  static NetClient client;
  static NetClient otherAddress;

  @BeforeAll
  static void start() {
    timed = TestNodes.TestCluster.create().start(new JsonObject()
        .put("bridge", new JsonObject().put("tcpPort", TestNodes.freePort()))
        // The cap counts every connection here, far above what the test opens at once.
        .put("limits", new JsonObject().put("handshakeSeconds", HANDSHAKE_SECONDS).put("unauthenticatedPerIp", 5000)),
      EnumSet.allOf(Node.Role.class));
    capped = TestNodes.TestCluster.create().start(new JsonObject()
        .put("bridge", new JsonObject().put("tcpPort", TestNodes.freePort()))
        // Long enough that the connections filling the cap stay while the test runs.
        .put("limits", new JsonObject().put("handshakeSeconds", 60).put("unauthenticatedPerIp", CAP)),
      EnumSet.allOf(Node.Role.class));
    client = Api.clientVertx().createNetClient(new NetClientOptions().setConnectTimeout(10_000));
    // Another loopback address: another client as far as the per-address cap is concerned.
    otherAddress = Api.clientVertx().createNetClient(new NetClientOptions().setLocalAddress("127.0.0.2"));
  }

  @AfterAll
  static void stop() {
    await(client.close());
    await(otherAddress.close());
    await(timed.stop());
    await(capped.stop());
  }

  // ---------------------------------------------------------------- the handshake timeout

  @Test
  @DisplayName("connections that never authenticate, on every transport, are all closed after limits.handshakeSeconds; /api/health answers meanwhile")
  void allClosedAfterTheHandshakeTimeout() {
    int port = TestNodes.port(timed);
    int bridgePort = timed.context().config().bridge().tcpPort();
    Handshakes handshakes = timed.gateway().handshakes();
    long began = System.nanoTime();

    List<Future<Conn>> silentHttp = new ArrayList<>();
    List<Future<Conn>> webSockets = new ArrayList<>();
    List<Future<Conn>> bridge = new ArrayList<>();
    List<Future<Conn>> sockJsWs = new ArrayList<>();
    List<Future<Conn>> sockJsXhr = new ArrayList<>();
    for (int i = 0; i < PER_KIND; i++) {
      silentHttp.add(Conn.open(client, port, null, null, null));
      webSockets.add(Conn.open(client, port, upgrade("/api/ws"), Conn::hasWsClose, null));
      bridge.add(Conn.open(client, bridgePort, null, null, null));
      sockJsWs.add(Conn.open(client, port, upgrade("/eventbus/websocket"), Conn::hasWsClose, null));
    }
    for (int i = 0; i < SOCKJS_XHR; i++) {
      // A SockJS session over XHR polling: opened ("o"), then polled, and never a frame sent.
      String path = "/eventbus/000/" + UUID.randomUUID().toString().replace("-", "") + "/xhr";
      String poll = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
      sockJsXhr.add(xhrSession(port, poll, System.nanoTime(), new StringBuilder(), 6));
    }
    int total = 4 * PER_KIND + SOCKJS_XHR;

    // Every one of them is held as unauthenticated at once (none closed early)...
    awaitCondition(() -> handshakes.held(LOCAL) >= total, "all " + total + " connections held as unauthenticated, held "
      + handshakes.held(LOCAL));
    long heldAt = System.nanoTime();
    // ...while the health endpoint answers.
    long healthBegan = System.nanoTime();
    Conn health = await(Conn.open(client, port, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", null, null));
    long healthMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - healthBegan);
    assertThat(health.text()).startsWith("HTTP/1.1 200");
    assertThat(TimeUnit.NANOSECONDS.toMillis(heldAt - began))
      .as("all connections were open before the first could time out").isLessThan(HANDSHAKE_SECONDS * 1000L);

    long lastMs = 0;
    List<String> names = List.of("silent HTTP", "WebSocket", "TCP bridge", "SockJS WebSocket", "SockJS XHR");
    List<List<Future<Conn>>> kinds = List.of(silentHttp, webSockets, bridge, sockJsWs, sockJsXhr);
    for (int k = 0; k < kinds.size(); k++) {
      for (Conn c : await(Future.all(kinds.get(k))).<Conn>list()) {
        long afterMs = TimeUnit.NANOSECONDS.toMillis(c.endedAt - c.openedAt);
        assertThat(afterMs).as("%s closed no earlier than the handshake timeout: %s", names.get(k), c.text())
          .isGreaterThanOrEqualTo(HANDSHAKE_SECONDS * 1000L - 50);
        lastMs = Math.max(lastMs, afterMs);
      }
    }
    // A silent HTTP connection is just closed: no request, nothing owed.
    for (Future<Conn> f : silentHttp) {
      assertThat(f.result().text()).isEmpty();
    }
    // An upgraded WebSocket is told why (auth_error) and closed with 4401.
    for (Future<Conn> f : webSockets) {
      Conn c = f.result();
      assertThat(c.text()).startsWith("HTTP/1.1 101").contains("\"auth_error\"").contains("authentication timeout");
      assertThat(c.wsCloseCode()).isEqualTo(4401);
      assertThat(c.wsCloseReason()).isEqualTo("authentication timeout");
    }
    // A TCP bridge socket gets an err frame, then the close.
    for (Future<Conn> f : bridge) {
      JsonObject err = new JsonObject(f.result().bytes.getString(4, f.result().bytes.length()));
      assertThat(err.getString("type")).isEqualTo("err");
      assertThat(err.getInteger("failureCode")).isEqualTo(4401);
      assertThat(err.getString("failureType")).isEqualTo("auth_timeout");
    }
    // SockJS: the session is closed (its WebSocket with the code, XHR polling with an err frame, then closed).
    for (Future<Conn> f : sockJsWs) {
      assertThat(f.result().wsCloseCode()).isEqualTo(4401);
    }
    for (Future<Conn> f : sockJsXhr) {
      // The err frame tells why; SockJS then answers the closed session's next poll with its close frame.
      assertThat(f.result().text()).contains("\\\"failureCode\\\":4401").contains("auth_timeout").contains("c[");
    }
    // Each was counted once and released once.
    awaitCondition(() -> handshakes.held(LOCAL) == 0, "every ticket released, held " + handshakes.held(LOCAL));
    System.out.printf("scenario 7: %d unauthenticated connections, all closed within %d ms of opening"
      + " (handshake %d s); /api/health answered in %d ms meanwhile%n", total, lastMs, HANDSHAKE_SECONDS, healthMs);
  }

  // ---------------------------------------------------------------- the cap per address

  @Test
  @DisplayName("past limits.unauthenticatedPerIp from one address: 429 on HTTP and WebSocket upgrades, the TCP bridge closed; authenticated clients and other addresses unaffected")
  void capPerAddress() throws Exception {
    int port = TestNodes.port(capped);
    int bridgePort = capped.context().config().bridge().tcpPort();
    Handshakes handshakes = capped.gateway().handshakes();
    Api api = new Api(port);
    String user = Api.user("ivy");
    String token = api.token(user);
    awaitCondition(() -> handshakes.held(LOCAL) == 0, "the token request released its place");

    // An authenticated WebSocket, opened before the cap fills: never counted, never closed.
    Conn authenticated = await(Conn.openUntil(client, port, upgrade("/api/ws?token=" + token), c -> c.text().contains("\"connected\"")));
    assertThat(authenticated.text()).startsWith("HTTP/1.1 101");
    assertThat(handshakes.held(LOCAL)).isZero();
    // Two keep-alive connections that made a request (so hold no place), upgraded later.
    Conn keptForWs = await(Conn.openUntil(client, port, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", c -> c.text().contains("\"status\"")));
    Conn keptForSockJs = await(Conn.openUntil(client, port, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", c -> c.text().contains("\"status\"")));

    // Fill the cap with silent connections.
    List<Future<Conn>> silent = new ArrayList<>();
    for (int i = 0; i < CAP; i++) {
      silent.add(Conn.open(client, port, null, null, (c, s) -> { }));
    }
    awaitCondition(() -> handshakes.held(LOCAL) == CAP, "the cap filled, held " + handshakes.held(LOCAL));

    // One more plain request: 429, the SPEC error body, Retry-After, and the connection closed.
    Conn refused = await(Conn.open(client, port, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", null, null));
    assertThat(refused.text()).startsWith("HTTP/1.1 429").containsIgnoringCase("Retry-After: " + Handshakes.RETRY_AFTER_SECONDS);
    assertThat(new JsonObject(refused.body()).getJsonObject("error").getString("code")).isEqualTo("rate_limited");
    // One more silent connection: answered 429 too, within a second or so, not held.
    Conn refusedSilent = await(Conn.open(client, port, null, null, null));
    assertThat(refusedSilent.text()).startsWith("HTTP/1.1 429");
    // A WebSocket upgrade without a token, on a new connection: 429, never upgraded.
    Conn refusedWs = await(Conn.open(client, port, upgrade("/api/ws"), null, null));
    assertThat(refusedWs.text()).startsWith("HTTP/1.1 429");
    // ... and on a connection that was already in use: 429 from the WebSocket route.
    Promise<Void> wsRefused = Promise.promise();
    keptForWs.until(c -> c.text().contains("HTTP/1.1 429"), wsRefused);
    keptForWs.socket.write(upgrade("/api/ws"));
    await(wsRefused.future());
    assertThat(keptForWs.text()).contains("rate_limited");
    // The SockJS raw WebSocket on a connection already in use: the session closed at once.
    Promise<Void> sockJsRefused = Promise.promise();
    keptForSockJs.until(Conn::hasWsClose, sockJsRefused);
    keptForSockJs.socket.write(upgrade("/eventbus/websocket"));
    await(sockJsRefused.future());
    assertThat(keptForSockJs.wsCloseCode()).isEqualTo(4429);
    // The TCP bridge: an err frame and the socket closed at once.
    Conn refusedBridge = await(Conn.open(client, bridgePort, null, null, null));
    JsonObject err = new JsonObject(refusedBridge.bytes.getString(4, refusedBridge.bytes.length()));
    assertThat(err.getString("failureType")).isEqualTo("rate_limited");
    assertThat(err.getInteger("failureCode")).isEqualTo(429);
    assertThat(TimeUnit.NANOSECONDS.toMillis(refusedBridge.endedAt - refusedBridge.openedAt)).isLessThan(30_000);
    assertThat(handshakes.held(LOCAL)).isEqualTo(CAP);

    // Authenticated requests and upgrades from the same address still go through.
    Conn rest = await(Conn.open(client, port, "GET /api/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
      + "\r\nConnection: close\r\n\r\n", null, null));
    assertThat(rest.text()).startsWith("HTTP/1.1 200");
    Conn secondWs = await(Conn.openUntil(client, port, upgrade("/api/ws?token=" + token), c -> c.text().contains("\"connected\"")));
    assertThat(secondWs.text()).startsWith("HTTP/1.1 101");
    // Another address is not concerned by this one's cap.
    Conn other = await(Conn.open(otherAddress, port, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", null, null));
    assertThat(other.text()).startsWith("HTTP/1.1 200");
    // The authenticated WebSocket opened first is still open.
    assertThat(authenticated.ended.future().isComplete()).isFalse();
    assertThat(handshakes.held(LOCAL)).isEqualTo(CAP);

    // The silent connections go: their places are freed, and a plain request passes again.
    Conn.closeAll();
    await(Future.all(silent));
    awaitCondition(() -> handshakes.held(LOCAL) == 0, "places freed, held " + handshakes.held(LOCAL));
    Conn again = await(Conn.open(client, port, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", null, null));
    assertThat(again.text()).startsWith("HTTP/1.1 200");
  }

  /**
   * A SockJS XHR-polling session: each poll is a request on a new connection (the server closes
   * it after its answer), the first answered with the open frame; polled until the close frame.
   */
  private static Future<Conn> xhrSession(int port, String poll, long openedAt, StringBuilder got, int polls) {
    return Conn.open(client, port, poll, null, null).compose(c -> {
      got.append(c.text());
      if (got.indexOf("c[") >= 0 || polls <= 1) {
        c.openedAt = openedAt;
        c.bytes = Buffer.buffer(got.toString());
        return Future.succeededFuture(c);
      }
      return xhrSession(port, poll, openedAt, got, polls - 1);
    });
  }

  // ---------------------------------------------------------------- configuration

  @Test
  @DisplayName("limits.handshakeSeconds and limits.unauthenticatedPerIp: defaults, and bad values refused at start naming the key")
  void configuration() {
    SwitchboardConfig defaults = ConfigLoader.fromOverrides(new JsonObject());
    assertThat(defaults.limits().handshakeSeconds()).isEqualTo(10);
    assertThat(defaults.limits().unauthenticatedPerIp()).as("off by default").isZero();
    assertThat(ConfigLoader.fromOverrides(limits("unauthenticatedPerIp", 0)).limits().unauthenticatedPerIp()).isZero();

    for (Object bad : List.of("10", 0, -1, 1.5, true)) {
      assertThatThrownBy(() -> ConfigLoader.fromOverrides(limits("handshakeSeconds", bad)))
        .as("handshakeSeconds %s", bad).isInstanceOf(ConfigException.class).hasMessageContaining("limits.handshakeSeconds");
    }
    for (Object bad : List.of("256", -1, 2.5, false)) {
      assertThatThrownBy(() -> ConfigLoader.fromOverrides(limits("unauthenticatedPerIp", bad)))
        .as("unauthenticatedPerIp %s", bad).isInstanceOf(ConfigException.class).hasMessageContaining("limits.unauthenticatedPerIp");
    }
  }

  private static JsonObject limits(String key, Object value) {
    return new JsonObject().put("limits", new JsonObject().put(key, value));
  }

  // ---------------------------------------------------------------- helpers

  static String upgrade(String uri) {
    byte[] key = new byte[16];
    ThreadLocalRandom.current().nextBytes(key);
    return "GET " + uri + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }

  /** Waits (bounded) for a condition on the server's state that the test cannot be told of by an event. */
  static void awaitCondition(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 30 s: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  /** One raw client connection: everything the server sent, and when it ended. */
  static final class Conn {
    private static final List<NetSocket> OPEN = new ArrayList<>();

    long openedAt = System.nanoTime();
    volatile Buffer bytes = Buffer.buffer();
    final Promise<Conn> ended = Promise.promise();
    volatile long endedAt;
    NetSocket socket;
    private Predicate<Conn> until;
    private Promise<Void> reached;

    /**
     * Connects, writes {@code send} (nothing when null) and completes when the server closes, or
     * when {@code done} holds of what it sent (then closes); {@code onData} sees every chunk.
     */
    static Future<Conn> open(NetClient client, int port, String send, Predicate<Conn> done, BiConsumer<Conn, NetSocket> onData) {
      Conn c = new Conn();
      client.connect(port, LOCAL).onFailure(c.ended::tryFail).onSuccess(socket -> {
        c.socket = socket;
        synchronized (OPEN) {
          OPEN.add(socket);
        }
        socket.handler(b -> {
          c.bytes.appendBuffer(b);
          if (onData != null) {
            onData.accept(c, socket);
          }
          if (c.until != null && c.until.test(c)) {
            c.until = null;
            c.reached.tryComplete();
          }
          if (done != null && done.test(c)) {
            c.end();
            socket.close();
          }
        });
        socket.closeHandler(v -> c.end());
        if (send != null) {
          socket.write(send);
        }
      });
      return c.ended.future();
    }

    /** Connects, writes {@code send}, and completes (the connection left open) once {@code reached} holds. */
    static Future<Conn> openUntil(NetClient client, int port, String send, Predicate<Conn> reached) {
      Promise<Conn> p = Promise.promise();
      Conn[] holder = new Conn[1];
      Future<Conn> ended = open(client, port, send, null, (c, s) -> {
        holder[0] = c;
        if (reached.test(c)) {
          p.tryComplete(c);
        }
      });
      ended.onComplete(ar -> p.tryFail("closed before the expected answer: " + (holder[0] == null ? "" : holder[0].text())));
      return p.future();
    }

    /** Completes {@code promise} when {@code condition} holds of what the server sent from now on. */
    void until(Predicate<Conn> condition, Promise<Void> promise) {
      bytes = Buffer.buffer();
      reached = promise;
      until = condition;
      ended.future().onComplete(ar -> promise.tryFail("closed before: " + text()));
    }

    static void closeAll() {
      synchronized (OPEN) {
        OPEN.forEach(NetSocket::close);
        OPEN.clear();
      }
    }

    private void end() {
      if (endedAt == 0) {
        endedAt = System.nanoTime();
      }
      ended.tryComplete(this);
    }

    String text() {
      return bytes.toString(StandardCharsets.ISO_8859_1);
    }

    String body() {
      String t = text();
      return t.substring(t.indexOf("\r\n\r\n") + 4);
    }

    /** The WebSocket frames after the 101 head: [opcode, payload] pairs. */
    List<Object[]> wsFrames() {
      String t = text();
      int at = t.indexOf("\r\n\r\n");
      List<Object[]> frames = new ArrayList<>();
      if (!t.startsWith("HTTP/1.1 101") || at < 0) {
        return frames;
      }
      int i = at + 4;
      while (i + 2 <= bytes.length()) {
        int opcode = bytes.getByte(i) & 0x0f;
        int len = bytes.getByte(i + 1) & 0x7f;
        int header = 2;
        if (len == 126) {
          if (i + 4 > bytes.length()) {
            break;
          }
          len = bytes.getUnsignedShort(i + 2);
          header = 4;
        }
        if (i + header + len > bytes.length()) {
          break;
        }
        frames.add(new Object[] {opcode, bytes.getBuffer(i + header, i + header + len)});
        i += header + len;
      }
      return frames;
    }

    static boolean hasWsClose(Conn c) {
      return c.wsClose() != null;
    }

    private Buffer wsClose() {
      for (Object[] f : wsFrames()) {
        if ((int) f[0] == 8) {
          return (Buffer) f[1];
        }
      }
      return null;
    }

    int wsCloseCode() {
      Buffer b = wsClose();
      return b == null ? -1 : b.length() >= 2 ? b.getUnsignedShort(0) : 1005;
    }

    String wsCloseReason() {
      Buffer b = wsClose();
      return b == null || b.length() <= 2 ? "" : b.getString(2, b.length(), "UTF-8");
    }
  }
}
