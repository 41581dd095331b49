package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A WebSocket opened by hand (the HTTP upgrade, then the raw server frames), for a server that
 * closes right after the handshake: when the close frame comes in the same read as the 101,
 * Vert.x's WebSocket client fails to set its handlers ("WebSocket is closed") and the close code
 * is lost. Only what a test needs: server text and close frames, unfragmented, short.
 */
public final class RawWebSocket {

  /** What the server sent before closing. */
  public record Closed(int code, String reason, List<String> texts) {
  }

  private RawWebSocket() {
  }

  /** Upgrades {@code uri} with extra headers and completes with the server's close frame. */
  public static Future<Closed> openUntilClose(int port, String uri, String... headers) {
    HttpClient client = Api.clientVertx().createHttpClient(new HttpClientOptions());
    byte[] key = new byte[16];
    ThreadLocalRandom.current().nextBytes(key);
    MultiMap h = MultiMap.caseInsensitiveMultiMap()
      .add("Upgrade", "websocket")
      .add("Connection", "Upgrade")
      .add("Sec-WebSocket-Key", Base64.getEncoder().encodeToString(key))
      .add("Sec-WebSocket-Version", "13");
    for (int i = 0; i + 1 < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    Promise<Closed> closed = Promise.promise();
    client.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(port).setURI(uri)
        .setHeaders(h))
      .compose(req -> req.connect().compose(resp -> {
        if (resp.statusCode() != 101) {
          return Future.failedFuture("upgrade refused with " + resp.statusCode());
        }
        List<String> texts = new ArrayList<>();
        Buffer[] pending = {Buffer.buffer()};
        resp.netSocket().handler(chunk -> {
          pending[0].appendBuffer(chunk);
          // Server frames are unmasked; lengths up to 65535 (7-bit or 16-bit).
          while (true) {
            Buffer b = pending[0];
            if (b.length() < 2 || ((b.getByte(1) & 0x7f) == 126 && b.length() < 4)) {
              break;
            }
            int len = b.getByte(1) & 0x7f;
            int header = 2;
            if (len == 126) {
              len = b.getUnsignedShort(2);
              header = 4;
            }
            if (b.length() < header + len) {
              break;
            }
            int opcode = b.getByte(0) & 0x0f;
            Buffer payload = b.getBuffer(header, header + len);
            pending[0] = b.getBuffer(header + len, b.length());
            if (opcode == 1) {
              texts.add(payload.toString(StandardCharsets.UTF_8));
            } else if (opcode == 8) {
              int code = payload.length() >= 2 ? payload.getUnsignedShort(0) : 1005;
              String reason = payload.length() > 2 ? payload.getString(2, payload.length()) : "";
              closed.tryComplete(new Closed(code, reason, texts));
            }
          }
        });
        return Future.succeededFuture();
      }))
      .onFailure(closed::tryFail);
    return closed.future().eventually(client::close);
  }
}
