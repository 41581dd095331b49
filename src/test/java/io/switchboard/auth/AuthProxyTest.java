package io.switchboard.auth;

import io.switchboard.Node;
import io.switchboard.testing.Api;
import io.switchboard.testing.Clients;
import io.switchboard.testing.Receiver;
import io.switchboard.testing.Receiver.Answer;
import io.switchboard.testing.Receiver.Hit;
import io.switchboard.testing.SseClient;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The authorization proxy (SPEC §10) against a real backend on loopback: on connect (WebSocket
 * and SSE) and on a topic subscribe the node asks it; an allow attaches topics and info, a refusal
 * refuses, and a backend that does not answer within {@code timeoutMillis} refuses the connection
 * on a fail-closed node and lets it in on a fail-open one.
 */
class AuthProxyTest {

  static final int TIMEOUT_MS = 400;
  static Receiver backend;
  /** failOpen false, and failOpen true. */
  static Node closed;
  static Node open;
  static Api closedApi;
  static Api openApi;
  final Clients clients = new Clients();

  @BeforeAll
  static void start() {
    backend = new Receiver()
      .on("/connect", (n, body) -> {
        String user = body.getString("userId", "");
        if (user.startsWith("slow-")) {
          return null;
        }
        if (user.startsWith("no-")) {
          return Answer.json(new JsonObject().put("allow", false));
        }
        if (user.startsWith("broken-")) {
          return new Answer(500, "oops");
        }
        return Answer.json(new JsonObject().put("allow", true)
          .put("topics", new JsonArray().add("vip." + user))
          .put("info", new JsonObject().put("plan", "gold")));
      })
      .on("/subscribe", (n, body) -> {
        String topic = body.getString("topic", "");
        if (topic.startsWith("slow.")) {
          return null;
        }
        return Answer.json(new JsonObject().put("allow", topic.startsWith("granted.")));
      });
    closed = node(false);
    open = node(true);
    closedApi = new Api(TestNodes.port(closed));
    openApi = new Api(TestNodes.port(open));
  }

  static Node node(boolean failOpen) {
    JsonObject proxy = new JsonObject()
      .put("connectUrl", backend.url("/connect"))
      .put("subscribeUrl", backend.url("/subscribe"))
      .put("timeoutMillis", TIMEOUT_MS)
      .put("failOpen", failOpen)
      .put("cacheSeconds", 30);
    return TestNodes.TestCluster.create().start(new JsonObject().put("auth", new JsonObject().put("proxy", proxy)),
      EnumSet.allOf(Node.Role.class));
  }

  @AfterAll
  static void stop() {
    await(closed.stop());
    await(open.stop());
    backend.close();
  }

  @AfterEach
  void close() {
    clients.closeAll();
  }

  static List<Hit> asked(String path, String field, String value) {
    return backend.hits().stream().filter(h -> h.path().equals(path) && value.equals(h.json().getString(field))).toList();
  }

  static void publish(Api api, String topic, String text) {
    var r = await(api.client().post("/api/publish").putHeader("X-API-Key", "dev-key").sendJsonObject(new JsonObject()
      .put("topic", topic).put("event", "note").put("data", new JsonObject().put("text", text))));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
  }

  static WsClient raw(Api api, String token) {
    return await(WsClient.connect(api.port(), "/api/ws", token));
  }

  @Test
  @DisplayName("an allowed connect is asked once (then cached), gets the backend's info in connected and follows its extra topic")
  void allowed() {
    String user = Api.user("ok");
    String token = closedApi.token(user);
    WsClient ws = raw(closedApi, token);
    JsonObject connected = await(ws.next("connected")).getJsonObject("payload");
    assertThat(connected.getJsonObject("info")).isEqualTo(new JsonObject().put("plan", "gold"));
    List<Hit> asked = asked("/connect", "userId", user);
    assertThat(asked).hasSize(1);
    JsonObject question = asked.get(0).json();
    assertThat(question.getString("transport")).isEqualTo("ws");
    assertThat(question.getJsonObject("claims").getString("sub")).isEqualTo(user);

    // The topic the backend attached is followed.
    publish(closedApi, "vip." + user, "hello vip");
    JsonObject note = await(ws.next("note")).getJsonObject("payload");
    assertThat(note.getJsonObject("data").getString("text")).isEqualTo("hello vip");

    // The same token again on a WebSocket: the answer is cached, not asked again.
    WsClient again = clients.track(raw(closedApi, token));
    assertThat(await(again.next("connected")).getJsonObject("payload").getJsonObject("info").getString("plan")).isEqualTo("gold");
    assertThat(asked("/connect", "userId", user)).hasSize(1);
    // On SSE it is a new question (the transport is part of it).
    SseClient sse = clients.sse(closedApi.port(), token);
    assertThat(await(sse.next("connected")).payload().getJsonObject("info").getString("plan")).isEqualTo("gold");
    assertThat(asked("/connect", "userId", user)).hasSize(2);
    assertThat(asked("/connect", "userId", user).get(1).json().getString("transport")).isEqualTo("sse");
    ws.close();
  }

  @Test
  @DisplayName("a refused connect gets forbidden on WebSocket (close 1008) and on SSE, and no stream")
  void refused() {
    String user = Api.user("no");
    String token = closedApi.token(user);
    WsClient ws = clients.track(raw(closedApi, token));
    JsonObject error = await(ws.next("error")).getJsonObject("payload");
    assertThat(error.getString("code")).isEqualTo("forbidden");
    await(ws.closed());
    assertThat(ws.closeStatus()).isEqualTo((short) 1008);
    assertThat(ws.received()).noneMatch(e -> "connected".equals(e.getString("type")));

    SseClient sse = clients.track(await(SseClient.open(closedApi.port(), "/api/events", token)));
    // SSE answers 200 before the stream opens: the refusal is an error event, then the end.
    assertThat(sse.status()).isEqualTo(200);
    assertThat(await(sse.next("error")).payload().getString("code")).isEqualTo("forbidden");
    await(sse.ended());
    assertThat(sse.events()).noneMatch(e -> e.type().equals("connected"));
    // Long-poll: the poll is answered with the refusal.
    Api.assertError(closedApi.get("/api/events/poll?timeout=1", token), 403, "forbidden");
    // The same refusal on the fail-open node: a "no" is a no whatever failOpen says.
    WsClient other = clients.track(raw(openApi, openApi.token(user)));
    assertThat(await(other.next("error")).getJsonObject("payload").getString("code")).isEqualTo("forbidden");
  }

  @Test
  @DisplayName("a backend that does not answer in timeoutMillis: refused (try again) when fail-closed, let in when fail-open")
  void timeout() {
    String user = Api.user("slow");
    long t0 = System.currentTimeMillis();
    WsClient ws = clients.track(raw(closedApi, closedApi.token(user)));
    await(ws.closed());
    long took = System.currentTimeMillis() - t0;
    assertThat(ws.received()).noneMatch(e -> "connected".equals(e.getString("type")));
    // Not a refusal for good: the client is told to come back (close 1013, reconnect).
    assertThat(ws.closeStatus()).isEqualTo((short) 1013);
    assertThat(took).as("bounded by the timeout").isGreaterThanOrEqualTo(TIMEOUT_MS).isLessThan(15_000);

    WsClient in = clients.track(raw(openApi, openApi.token(user)));
    JsonObject connected = await(in.next("connected")).getJsonObject("payload");
    assertThat(connected.containsKey("info")).isFalse();
    assertThat(asked("/connect", "userId", user)).hasSize(2);

    // A backend answering 500 is a failure too: fail-closed refuses (try again), fail-open lets in.
    String broken = Api.user("broken");
    WsClient b1 = clients.track(raw(closedApi, closedApi.token(broken)));
    await(b1.closed());
    assertThat(b1.closeStatus()).isEqualTo((short) 1013);
    WsClient b2 = clients.track(raw(openApi, openApi.token(broken)));
    await(b2.next("connected"));
  }

  @Test
  @DisplayName("a subscribe to a topic no rule grants is asked: allowed, refused, and on timeout refused or allowed by failOpen")
  void subscribe() {
    String user = Api.user("ok");
    WsClient ws = clients.ws(closedApi.port(), closedApi.token(user));
    String granted = "granted." + user;
    JsonObject ok = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add(granted))));
    assertThat(ok.getString("type")).isEqualTo("subscribed");
    assertThat(asked("/subscribe", "topic", granted)).hasSize(1);
    assertThat(asked("/subscribe", "topic", granted).get(0).json().getString("userId")).isEqualTo(user);
    publish(closedApi, granted, "granted news");
    assertThat(await(ws.next("note")).getJsonObject("payload").getJsonObject("data").getString("text"))
      .isEqualTo("granted news");

    JsonObject no = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add("denied." + user))));
    assertThat(no.getString("type")).isEqualTo("error");
    assertThat(no.getJsonObject("payload").getString("code")).isEqualTo("forbidden");

    // A public topic is granted by topics.public: the backend is not asked.
    JsonObject pub = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add("public." + user))));
    assertThat(pub.getString("type")).isEqualTo("subscribed");
    assertThat(asked("/subscribe", "topic", "public." + user)).isEmpty();

    String slow = "slow." + user;
    JsonObject timedOut = await(ws.request("subscribe", new JsonObject().put("topics", new JsonArray().add(slow))));
    assertThat(timedOut.getString("type")).isEqualTo("error");
    assertThat(timedOut.getJsonObject("payload").getString("code")).isEqualTo("unavailable");

    WsClient other = clients.ws(openApi.port(), openApi.token(user));
    JsonObject let = await(other.request("subscribe", new JsonObject().put("topics", new JsonArray().add(slow))));
    assertThat(let.getString("type")).isEqualTo("subscribed");
    // The connection is still served after all of it.
    assertThat(await(ws.request("ping", new JsonObject())).getString("type")).isEqualTo("pong");
  }
}
