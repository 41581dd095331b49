package io.switchboard.testing;

import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;

/** The SSE and WebSocket clients a test opened, closed together after it (an {@code @AfterEach}). */
public final class Clients {

  private final List<AutoCloseable> open = new ArrayList<>();

  /** Opens an SSE stream on {@code /api/events} with a bearer token and waits for the response head. */
  public SseClient sse(int port, String token) {
    return sse(port, "/api/events", token);
  }

  public SseClient sse(int port, String uri, String token, String... headers) {
    return track(await(SseClient.open(port, uri, token, headers)));
  }

  /** Opens a WebSocket on {@code /api/ws?token=} and waits for its {@code connected}. */
  public WsClient ws(int port, String token) {
    WsClient ws = track(await(WsClient.connect(port, "/api/ws", token)));
    await(ws.next("connected"));
    return ws;
  }

  /** Keeps a client opened some other way. */
  public <T extends AutoCloseable> T track(T client) {
    synchronized (open) {
      open.add(client);
    }
    return client;
  }

  /** Keeps the client a future completes with. */
  public <T extends AutoCloseable> Future<T> track(Future<T> client) {
    return client.onSuccess(this::track);
  }

  public void closeAll() {
    List<AutoCloseable> all;
    synchronized (open) {
      all = new ArrayList<>(open);
      open.clear();
    }
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception ignored) {
        // already closed
      }
    }
  }
}
