package io.switchboard.testing;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.util.UUID;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** A real HTTP client for one node's REST API, with blocking helpers for test threads. */
public final class Api {

  private static Vertx clientVertx;
  private final WebClient client;
  private final int port;

  public Api(int port) {
    this.port = port;
    this.client = WebClient.create(clientVertx(),
      new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port).setKeepAlive(true));
  }

  /** One plain Vert.x instance for all test clients. */
  public static synchronized Vertx clientVertx() {
    if (clientVertx == null) {
      clientVertx = Vertx.vertx();
    }
    return clientVertx;
  }

  /** The node's HTTP port. */
  public int port() {
    return port;
  }

  public WebClient client() {
    return client;
  }

  /** A user id no other test uses. */
  public static String user(String name) {
    return name + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** A development token for {@code userId}. */
  public String token(String userId) {
    HttpResponse<Buffer> r = await(client.post("/api/auth/dev-token")
      .sendJsonObject(new JsonObject().put("userId", userId).put("name", userId)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject().getString("token");
  }

  public HttpResponse<Buffer> get(String path, String token) {
    var req = client.get(path);
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return await(req.send());
  }

  public HttpResponse<Buffer> post(String path, String token, JsonObject body) {
    var req = client.post(path);
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return await(body == null ? req.send() : req.sendJsonObject(body));
  }

  /** Any method (PUT, PATCH, DELETE of SPEC §3b) with an optional JSON body. */
  public HttpResponse<Buffer> request(io.vertx.core.http.HttpMethod method, String path, String token, JsonObject body) {
    var req = client.request(method, path);
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return await(body == null ? req.send() : req.sendJsonObject(body));
  }

  /** POSTs raw bytes (malformed JSON, oversize bodies). */
  public HttpResponse<Buffer> postRaw(String path, String token, String raw) {
    var req = client.post(path).putHeader("Content-Type", "application/json");
    if (token != null) {
      req.bearerTokenAuthentication(token);
    }
    return await(req.sendBuffer(Buffer.buffer(raw)));
  }

  /** Creates a group owned by {@code token}'s user with the given members; returns it. */
  public JsonObject group(String token, String name, String... members) {
    JsonObject body = new JsonObject().put("name", name).put("participantIds", new io.vertx.core.json.JsonArray(java.util.List.of(members)));
    HttpResponse<Buffer> r = post("/api/groups", token, body);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject();
  }

  /** Sends a text message; returns the stored message. */
  public JsonObject send(String token, String conversationId, String text) {
    HttpResponse<Buffer> r = post("/api/conversations/" + conversationId + "/messages", token,
      new JsonObject().put("content", text));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject();
  }

  /** This node's open client connections by transport, from {@code GET /api/health}. */
  public JsonObject connections() {
    HttpResponse<Buffer> r = get("/api/health", null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonObject("connections");
  }

  /**
   * Waits until this node's connection counts satisfy {@code condition} (checked every 20 ms, up
   * to 15 s): how a test sees what the server did to a connection its client cannot observe.
   */
  public JsonObject awaitConnections(java.util.function.Predicate<JsonObject> condition, String what) {
    long deadline = System.nanoTime() + 15_000_000_000L;
    JsonObject now = connections();
    while (!condition.test(now)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("connections never became " + what + "; last " + now);
      }
      await(clientVertx().timer(20));
      now = connections();
    }
    return now;
  }

  /** Asserts an error response: status and SPEC §2 error code. */
  public static void assertError(HttpResponse<Buffer> r, int status, String code) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo(code);
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).isNotBlank();
  }
}
