package io.switchboard.http;

import io.switchboard.Node;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Text;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.WsClient;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static io.switchboard.testing.TestNodes.await;
import static net.jqwik.api.Tuple.of;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hostile input, property-based: random and mutated envelopes and REST bodies, aimed at every
 * command, over every transport (REST, WebSocket, SockJS raw frames, TCP bridge frames). Whatever
 * arrives, the node never answers 500 or {@code internal}, stays healthy, and a refused command
 * changes nothing in the database for the user who sent it.
 *
 * <p>Each try starts from a valid payload of its command (real conversation ids of the fuzzing
 * user) and mutates it: fields removed, replaced or added with hostile values (NUL, unpaired
 * surrogates, zero-width characters, huge strings and numbers, wrong types, nesting), or breaks
 * the envelope or the bridge frame around it, or its JSON syntax. Bounded: a few hundred tries.
 */
class HostileInputPropertyTest {

  enum Transport { REST, WEBSOCKET, SOCKJS, TCP }

  /** What is broken around the payload. The bridge kinds act as NONE on REST and WebSocket. */
  enum Breakage { NONE, TYPE, PAYLOAD, REQUEST_ID, SYNTAX, FRAME_TYPE, ADDRESS, TOKEN, REPLY_ADDRESS }

  enum Change { REMOVE, REPLACE, ADD }

  /** JSON null in generated values (jqwik's generators do not hand out Java nulls). */
  enum JsonNull { NULL }

  record Mutation(Change change, String key, Object value) {
    @Override
    public String toString() {
      return change + " " + key + "=" + shorten(value);
    }
  }

  record Attempt(Transport transport, String type, List<Mutation> mutations, Breakage breakage, Object broken) {
    @Override
    public String toString() {
      return transport + " " + type + " " + mutations + " " + breakage + (breakage == Breakage.NONE ? "" : "=" + shorten(broken));
    }
  }

  /** What the node answered: whether it refused, the HTTP status (0 off REST) and the error code. */
  record Outcome(boolean refused, int status, String code, String answer) {
  }

  static final String FINGERPRINT = """
    SELECT (SELECT count(*) FROM messages WHERE sender_id = $1) || '/'
        || (SELECT count(*) FROM conversations WHERE created_by = $1) || '/'
        || (SELECT count(*) || ':' || count(left_seq) || ':' || coalesce(sum(last_read_seq), 0)
              FROM members WHERE user_id = $1) || '/'
        || (SELECT count(*) FROM calls WHERE caller_id = $1 OR callee_id = $1) || '/'
        || (SELECT coalesce(sum(c.last_seq), 0) FROM conversations c JOIN members m ON m.conversation_id = c.id
              WHERE m.user_id = $1)""";

  static final List<String> COMMANDS = List.of(Types.LOAD_CONVERSATIONS, Types.GET_CONVERSATION,
    Types.CREATE_CONVERSATION, Types.CREATE_GROUP, Types.JOIN_GROUP, Types.JOIN_CONVERSATION,
    Types.LEAVE_CONVERSATION, Types.SEND_MESSAGE, Types.LOAD_MESSAGES, Types.LOAD_MORE_MESSAGES, Types.MARK_READ,
    Types.TYPING_START, Types.TYPING_STOP, Types.SUBSCRIBE, Types.UNSUBSCRIBE, Types.PING, Types.RESUME, Types.AUTH,
    Types.CALL_OFFER, Types.CALL_ANSWER, Types.CALL_DECLINE, Types.CALL_END, Types.ICE_CANDIDATE, Types.GET_CALL,
    Types.GET_ICE_SERVERS);

  static final List<String> KEYS = List.of("conversationId", "content", "kind", "replyTo", "clientMessageId", "name",
    "participantIds", "type", "inviteCode", "seq", "before", "after", "limit", "topics", "callId", "calleeId", "sdp",
    "media", "candidate", "reason", "state", "cursor", "token");

  static final AtomicInteger TRIES = new AtomicInteger();

  static Node node;
  static Api api;
  static String fuzzer;
  static String token;
  static String peer;
  static String group;
  static String direct;
  static String inviteCode;
  static WsClient ws;
  static RawBridge sockJs;
  static RawBridge tcp;

  @BeforeContainer
  static void start() {
    JsonObject unlimited = new JsonObject()
      .put("bridge", new JsonObject().put("tcpPort", TestNodes.freePort()))
      .put("limits", new JsonObject()
        .put("messagesPerSecond", 100_000).put("messageBurst", 100_000)
        .put("commandsPerSecond", 100_000).put("commandBurst", 100_000));
    node = TestNodes.TestCluster.create().start(unlimited, EnumSet.allOf(Node.Role.class));
    api = new Api(TestNodes.port(node));
    fuzzer = Api.user("fuzzer");
    peer = Api.user("peer");
    token = api.token(fuzzer);
    JsonObject g = api.group(token, "Fuzzed", peer);
    group = g.getString("id");
    inviteCode = g.getString("inviteCode");
    api.send(token, group, "first");
    HttpResponse<Buffer> d = api.post("/api/conversations", token,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(peer)));
    assertThat(d.statusCode()).as(d.bodyAsString()).isEqualTo(201);
    direct = d.bodyAsJsonObject().getString("id");
  }

  @AfterContainer
  static void stop() {
    try {
      if (node != null) {
        assertHealthy("after every try");
      }
    } finally {
      release();
    }
  }

  static void release() {
    if (ws != null) {
      ws.close();
    }
    for (RawBridge b : new RawBridge[] {sockJs, tcp}) {
      if (b != null) {
        b.close();
      }
    }
    if (node != null) {
      await(node.stop());
    }
  }

  @Property(tries = 300, shrinking = ShrinkingMode.OFF, afterFailure = AfterFailureMode.RANDOM_SEED)
  void hostileInputIsRefusedCleanly(@ForAll("attempts") Attempt attempt) {
    int n = TRIES.incrementAndGet();
    String before = fingerprint();

    Outcome outcome = switch (attempt.transport()) {
      case REST -> rest(attempt);
      case WEBSOCKET -> webSocket(attempt, n);
      case SOCKJS -> bridge(sockJs(), attempt, n);
      case TCP -> bridge(tcp(), attempt, n);
    };

    assertThat(outcome.status()).as("HTTP status for %s: %s", attempt, outcome.answer()).isNotEqualTo(500);
    assertThat(outcome.code()).as("error code for %s: %s", attempt, outcome.answer()).isNotEqualTo("internal");
    if (outcome.refused()) {
      assertThat(fingerprint()).as("database after the refused %s: %s", attempt, outcome.answer()).isEqualTo(before);
    }
    Statistics.label("transport and outcome").collect(attempt.transport(), outcome.refused() ? "refused" : "accepted");
    // Every tenth try, and after the last (AfterContainer): the node still says it is healthy.
    if (n % 10 == 0) {
      assertHealthy("after " + attempt);
    }
  }

  static void assertHealthy(String when) {
    HttpResponse<Buffer> health = api.get("/api/health", null);
    assertThat(health.statusCode()).as("health %s: %s", when, health.bodyAsString()).isEqualTo(200);
  }

  // ---- generators ----

  @Provide
  Arbitrary<Attempt> attempts() {
    Arbitrary<String> types = Arbitraries.frequencyOf(
      of(12, Arbitraries.of(COMMANDS)),
      of(1, Arbitraries.strings().all().ofMaxLength(20)));
    Arbitrary<Mutation> mutation = Combinators.combine(Arbitraries.of(Change.class), keys(), values())
      .as(Mutation::new);
    Arbitrary<Breakage> breakage = Arbitraries.frequencyOf(
      of(10, Arbitraries.just(Breakage.NONE)),
      of(6, Arbitraries.of(Breakage.class)));
    return Combinators.combine(Arbitraries.of(Transport.class), types, mutation.list().ofMaxSize(3), breakage, values())
      .as(Attempt::new);
  }

  static Arbitrary<String> keys() {
    return Arbitraries.frequencyOf(
      of(6, Arbitraries.of(KEYS)),
      of(1, Arbitraries.strings().all().ofMaxLength(12)));
  }

  /** Any JSON value, hostile strings and numbers first, nested up to two levels. */
  static Arbitrary<Object> values() {
    return Arbitraries.recursive(HostileInputPropertyTest::leaves, inner -> Arbitraries.frequencyOf(
      of(4, leaves()),
      of(1, inner.list().ofMaxSize(3).map(l -> new JsonArray(new ArrayList<>(l)))),
      of(1, Combinators.combine(keys(), inner).as(Map::entry).list().ofMaxSize(3).map(entries -> {
        JsonObject o = new JsonObject();
        entries.forEach(e -> o.put(e.getKey(), json(e.getValue())));
        return (Object) o;
      }))), 2);
  }

  static Arbitrary<Object> leaves() {
    Arbitrary<Object> nasty = Arbitraries.of("", " ", "a\u0000b", "\u0000", "\ud800", "x\udc00y", "\udbff\udbff",
      "\u200b", "*", "\uFEFF", "\u202Ealert", "\uD83D\uDE00", "'; DROP TABLE messages; --", "%00", "\\u0000", "null",
      "{\"nested\":true}", "é", "\r\n", "v=0", "public.fuzz", "public.*", "audio", "video", "group", "direct",
      UUID.randomUUID().toString(), "00000000-0000-0000-0000-000000000000", "x".repeat(70_000), "y".repeat(300));
    Arbitrary<Object> numbers = Arbitraries.of(0, -1, 1, 2, 201, Integer.MAX_VALUE, Long.MAX_VALUE, Long.MIN_VALUE,
      9_007_199_254_740_993L, 1.5, -0.0, 1e300, 3.0);
    return Arbitraries.frequencyOf(
      of(6, nasty),
      of(3, Arbitraries.strings().all().ofMaxLength(30).map(s -> (Object) s)),
      of(3, numbers),
      of(1, Arbitraries.integers().between(-3, 300).map(i -> (Object) i)),
      of(1, Arbitraries.of(true, false)),
      of(1, Arbitraries.just(JsonNull.NULL)));
  }

  static Object json(Object generated) {
    return generated == JsonNull.NULL ? null : generated;
  }

  // ---- building the input ----

  /** A valid payload of {@code type} for the fuzzing user, before mutation. */
  static JsonObject template(String type) {
    JsonObject p = new JsonObject();
    String call = UUID.randomUUID().toString();
    switch (type) {
      case Types.GET_CONVERSATION, Types.JOIN_CONVERSATION, Types.TYPING_START, Types.TYPING_STOP ->
        p.put("conversationId", group);
      // The direct conversation, which cannot be left: the fuzzing user stays in the group.
      case Types.LEAVE_CONVERSATION -> p.put("conversationId", direct);
      case Types.CREATE_CONVERSATION -> p.put("type", "group").put("name", "fz").put("participantIds", new JsonArray().add(peer));
      case Types.CREATE_GROUP -> p.put("name", "fz").put("participantIds", new JsonArray().add(peer));
      case Types.JOIN_GROUP -> p.put("inviteCode", inviteCode);
      case Types.SEND_MESSAGE -> p.put("conversationId", group).put("content", "fz");
      case Types.LOAD_MESSAGES, Types.LOAD_MORE_MESSAGES -> p.put("conversationId", group).put("limit", 5);
      case Types.MARK_READ -> p.put("conversationId", group).put("seq", 1);
      case Types.SUBSCRIBE, Types.UNSUBSCRIBE -> p.put("topics", new JsonArray().add("public.fuzz"));
      case Types.RESUME -> p.put("cursor", "x.");
      case Types.AUTH -> p.put("token", "not-a-token");
      case Types.CALL_OFFER -> p.put("conversationId", direct).put("calleeId", peer).put("sdp", "v=0").put("media", "audio");
      case Types.CALL_ANSWER -> p.put("callId", call).put("sdp", "v=0");
      case Types.CALL_DECLINE, Types.CALL_END, Types.GET_CALL -> p.put("callId", call);
      case Types.ICE_CANDIDATE -> p.put("callId", call).put("candidate", "candidate:1 1 udp 1 127.0.0.1 9 typ host");
      default -> {
      }
    }
    return p;
  }

  static JsonObject payload(Attempt a) {
    JsonObject p = template(a.type());
    for (Mutation m : a.mutations()) {
      if (m.change() == Change.REMOVE) {
        p.remove(m.key());
      } else {
        p.put(m.key(), json(m.value()));
      }
    }
    return p;
  }

  /** The envelope of an attempt, broken as it says (the bridge kinds are the frame's). */
  static JsonObject envelope(Attempt a, String requestId) {
    JsonObject env = new JsonObject().put("type", a.type()).put("payload", payload(a)).put("requestId", requestId);
    Object broken = json(a.broken());
    switch (a.breakage()) {
      case TYPE -> env.put("type", broken);
      case PAYLOAD -> env.put("payload", broken instanceof JsonObject ? new JsonArray().add(broken) : broken);
      case REQUEST_ID -> env.put("requestId", broken);
      default -> {
      }
    }
    return env;
  }

  /**
   * JSON text as a hostile client writes it: NULs and every surrogate as {@code \\u} escapes, so
   * that an unpaired one reaches the server as such (UTF-8 cannot carry it raw). With {@code
   * syntax}, the text is cut short and garbage follows, so it is not JSON at all.
   */
  static String text(Object json, boolean syntax) {
    String encoded = Json.encode(json);
    StringBuilder sb = new StringBuilder(encoded.length() + 16);
    for (int i = 0; i < encoded.length(); i++) {
      char c = encoded.charAt(i);
      if (Character.isSurrogate(c)) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    if (syntax) {
      sb.setLength(Math.max(0, sb.length() - 1));
      sb.append("\u0001{\"");
    }
    return sb.toString();
  }

  /** The requestId the node can still read off {@code text} (as it answers a refused envelope). */
  static String recoverableRequestId(String text) {
    try {
      Object id = new JsonObject(text).getValue("requestId");
      return id instanceof String s && s.length() <= 128 && Text.problem(s) == null ? s : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  // ---- transports ----

  static Outcome rest(Attempt a) {
    JsonObject p = payload(a);
    String id = enc(p.getValue("conversationId"));
    HttpMethod method = HttpMethod.POST;
    String path;
    JsonObject body = p.copy();
    body.remove("conversationId");
    switch (a.type()) {
      case Types.LOAD_CONVERSATIONS -> {
        method = HttpMethod.GET;
        path = "/api/conversations";
      }
      case Types.GET_CONVERSATION -> {
        method = HttpMethod.GET;
        path = "/api/conversations/" + id;
      }
      case Types.CREATE_CONVERSATION -> {
        path = "/api/conversations";
        body = p;
      }
      case Types.CREATE_GROUP -> {
        path = "/api/groups";
        body = p;
      }
      case Types.JOIN_GROUP -> {
        path = "/api/groups/join";
        body = p;
      }
      case Types.LEAVE_CONVERSATION -> path = "/api/conversations/" + id + "/leave";
      case Types.SEND_MESSAGE -> path = "/api/conversations/" + id + "/messages";
      case Types.LOAD_MESSAGES, Types.LOAD_MORE_MESSAGES -> {
        method = HttpMethod.GET;
        StringBuilder q = new StringBuilder();
        for (String k : new String[] {"before", "after", "limit"}) {
          if (p.containsKey(k)) {
            q.append(q.length() == 0 ? "?" : "&").append(k).append('=').append(enc(p.getValue(k)));
          }
        }
        path = "/api/conversations/" + id + "/messages" + q;
      }
      case Types.MARK_READ -> path = "/api/conversations/" + id + "/read";
      case Types.TYPING_START, Types.TYPING_STOP -> {
        path = "/api/conversations/" + id + "/typing";
        if (!body.containsKey("state")) {
          body.put("state", Types.TYPING_START.equals(a.type()) ? "start" : "stop");
        }
      }
      case Types.SUBSCRIBE -> path = "/api/events/subscribe";
      case Types.UNSUBSCRIBE -> path = "/api/events/unsubscribe";
      case Types.CALL_OFFER -> {
        path = "/api/calls/offer";
        body = p;
      }
      case Types.CALL_ANSWER -> path = "/api/calls/answer";
      case Types.CALL_DECLINE -> path = "/api/calls/decline";
      case Types.CALL_END -> path = "/api/calls/end";
      case Types.ICE_CANDIDATE -> path = "/api/calls/ice-candidate";
      case Types.GET_CALL -> {
        method = HttpMethod.GET;
        path = "/api/calls/" + enc(p.getValue("callId"));
      }
      case Types.GET_ICE_SERVERS -> {
        method = HttpMethod.GET;
        path = "/api/calls/ice-servers";
      }
      // WebSocket-only and unknown types: a route that does not exist.
      default -> path = "/api/" + enc(a.type());
    }
    Object sent = a.breakage() == Breakage.PAYLOAD ? json(a.broken()) : body;
    var request = api.client().request(method, path).bearerTokenAuthentication(token)
      .putHeader("Content-Type", "application/json");
    HttpResponse<Buffer> r = await(method == HttpMethod.GET
      ? request.send()
      : request.sendBuffer(Buffer.buffer(text(sent, a.breakage() == Breakage.SYNTAX))));
    String answer = r.statusCode() + " " + r.bodyAsString();
    if (r.statusCode() < 400) {
      return new Outcome(false, r.statusCode(), null, answer);
    }
    JsonObject error = new JsonObject(r.bodyAsString()).getJsonObject("error");
    return new Outcome(true, r.statusCode(), error.getString("code"), answer);
  }

  static Outcome webSocket(Attempt a, int n) {
    if (ws == null || ws.socket().isClosed()) {
      int room = 4 * node.context().config().limits().frameBytes();
      ws = await(WsClient.connect(new io.vertx.core.http.WebSocketClientOptions().setMaxFrameSize(room).setMaxMessageSize(room),
        new io.vertx.core.http.WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
          .setURI("/api/ws?token=" + token).setAllowOriginHeader(false)));
      await(ws.next("connected"));
    }
    String text = text(envelope(a, "fz-" + n), a.breakage() == Breakage.SYNTAX);
    if (text.getBytes(StandardCharsets.UTF_8).length > node.context().config().limits().frameBytes()) {
      // Over limits.frameBytes: close 1009, and the next try opens a new socket.
      await(ws.sendText(text));
      await(ws.closed());
      assertThat(ws.closeStatus()).as("oversize frame after %s", a).isEqualTo((short) 1009);
      return new Outcome(true, 0, "too_large", "closed 1009");
    }
    String requestId = recoverableRequestId(text);
    await(ws.sendText(text));
    JsonObject reply = await(requestId != null
      ? ws.reply(requestId)
      : ws.next(e -> Types.ERROR.equals(e.getString("type")) && e.getValue("requestId") == null, "an error without requestId"));
    return envelopeOutcome(reply);
  }

  static Outcome envelopeOutcome(JsonObject reply) {
    boolean refused = Types.ERROR.equals(reply.getString("type"));
    return new Outcome(refused, 0, refused ? reply.getJsonObject("payload").getString("code") : null, reply.encode());
  }

  static Outcome bridge(RawBridge b, Attempt a, int n) {
    String replyAddress = "fz-" + n;
    JsonObject frame = new JsonObject().put("type", "send").put("address", Addresses.BRIDGE_COMMANDS)
      .put("body", envelope(a, replyAddress)).put("replyAddress", replyAddress)
      .put("headers", new JsonObject().put("token", token));
    Object broken = json(a.broken());
    boolean wellFormed = true;
    switch (a.breakage()) {
      case FRAME_TYPE -> {
        frame.put("type", broken);
        wellFormed = false;
      }
      case ADDRESS -> {
        frame.put("address", broken instanceof String s && s.equals(Addresses.BRIDGE_COMMANDS) ? Addresses.user(peer) : broken);
        wellFormed = false;
      }
      case TOKEN -> {
        frame.put("headers", broken instanceof JsonObject o ? o : new JsonObject().put("token", broken));
        wellFormed = false;
      }
      case REPLY_ADDRESS -> {
        frame.put("replyAddress", broken);
        // A string of 1-128 characters is a reply address like any other: the frame is well formed
        // and answered there.
        wellFormed = broken instanceof String s && !s.isEmpty() && s.length() <= 128;
      }
      case SYNTAX -> wellFormed = false;
      default -> {
      }
    }
    String sentText = text(frame, a.breakage() == Breakage.SYNTAX);
    List<JsonObject> seen = new ArrayList<>();
    if (sentText.getBytes(StandardCharsets.UTF_8).length > node.context().config().limits().frameBytes()) {
      // Over limits.frameBytes: refused as too_large and the socket closed (its framing may be
      // lost); the next try opens a new one.
      b.send(sentText);
      JsonObject err = b.next(f -> "err".equals(f.getString("type")), seen);
      assertThat(err.getString("failureType")).as("oversize frame after %s", a).isEqualTo("too_large");
      return new Outcome(true, 0, "too_large", err.encode());
    }
    b.send(sentText);
    JsonObject answer = null;
    if (wellFormed) {
      // As the node reads it: the frame goes out as UTF-8, where a lone surrogate becomes '?'.
      String answerAt = new String(frame.getString("replyAddress").getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
      answer = b.next(f -> answerAt.equals(f.getString("address")), seen);
    }
    // A probe after it: once it is answered, the frame before it has been read and refused.
    String probe = "probe-" + n;
    b.send(new JsonObject().put("type", "send").put("address", Addresses.BRIDGE_COMMANDS).put("replyAddress", probe)
      .put("headers", new JsonObject().put("token", token))
      .put("body", new JsonObject().put("type", Types.PING).put("payload", new JsonObject()).put("requestId", probe))
      .encode());
    JsonObject pong = b.next(f -> probe.equals(f.getString("address")), seen);
    assertThat(pong.getJsonObject("body").getString("type")).as("probe after %s: %s", a, seen).isEqualTo(Types.PONG);
    for (JsonObject f : seen) {
      boolean internal = "err".equals(f.getString("type"))
        ? "internal".equals(f.getString("failureType")) || f.getInteger("failureCode", 0) == 500
        : f.getValue("body") instanceof JsonObject body && Types.ERROR.equals(body.getString("type"))
          && "internal".equals(body.getJsonObject("payload", new JsonObject()).getString("code"));
      assertThat(internal).as("frame %s after %s", f, a).isFalse();
    }
    if (answer == null) {
      return new Outcome(true, 0, null, "refused frame; frames: " + seen);
    }
    if ("err".equals(answer.getString("type"))) {
      return new Outcome(true, 0, answer.getString("failureType"), answer.encode());
    }
    return envelopeOutcome(answer.getJsonObject("body"));
  }

  static RawBridge sockJs() {
    if (sockJs == null || sockJs.closed()) {
      sockJs = RawBridge.webSocket(TestNodes.port(node));
    }
    return sockJs;
  }

  static RawBridge tcp() {
    if (tcp == null || tcp.closed()) {
      tcp = RawBridge.tcp(node.context().config().bridge().tcpPort());
    }
    return tcp;
  }

  // ---- the database, as the fuzzing user's rows ----

  static String fingerprint() {
    Row row = await(node.context().pool().preparedQuery(FINGERPRINT).execute(Tuple.of(fuzzer))).iterator().next();
    return row.getString(0);
  }

  static String enc(Object value) {
    return URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8);
  }

  static String shorten(Object value) {
    String s = String.valueOf(value);
    return s.length() > 60 ? s.substring(0, 60) + "…(" + s.length() + ")" : s;
  }

  /** A raw event-bus bridge client: frames as text out, frames as JSON in (SockJS raw WebSocket or TCP). */
  static final class RawBridge {
    private final LinkedBlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
    private final List<JsonObject> backlog = new ArrayList<>();
    private final java.util.function.Consumer<String> writer;
    private final Runnable closer;
    private volatile boolean closed;

    private RawBridge(java.util.function.Consumer<String> writer, Runnable closer) {
      this.writer = writer;
      this.closer = closer;
    }

    static RawBridge webSocket(int port) {
      Vertx vertx = Api.clientVertx();
      // Room for answers as large as the frames the node accepts (an error may name a long value):
      // the client's default 64 KiB frame limit would close the socket on one.
      int room = 4 * node.context().config().limits().frameBytes();
      WebSocket socket = await(vertx.createWebSocketClient(new io.vertx.core.http.WebSocketClientOptions()
          .setMaxFrameSize(room).setMaxMessageSize(room)).connect(new WebSocketConnectOptions()
        .setHost("127.0.0.1").setPort(port).setURI("/eventbus/websocket").setAllowOriginHeader(false)));
      RawBridge b = new RawBridge(socket::writeTextMessage, () -> socket.close());
      socket.textMessageHandler(t -> b.frames.add(new JsonObject(t)));
      socket.closeHandler(v -> b.closed = true);
      return b;
    }

    static RawBridge tcp(int port) {
      NetSocket socket = await(Api.clientVertx().createNetClient().connect(port, "127.0.0.1"));
      RawBridge[] self = new RawBridge[1];
      self[0] = new RawBridge(text -> {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        socket.write(Buffer.buffer().appendInt(bytes.length).appendBytes(bytes));
      }, () -> socket.close());
      RecordParser parser = RecordParser.newFixed(4);
      parser.handler(new Handler<>() {
        private int expected = -1;

        @Override
        public void handle(Buffer b) {
          if (expected < 0) {
            expected = b.getInt(0);
            parser.fixedSizeMode(expected);
          } else {
            self[0].frames.add(new JsonObject(b));
            expected = -1;
            parser.fixedSizeMode(4);
          }
        }
      });
      socket.handler(parser);
      socket.closeHandler(v -> self[0].closed = true);
      return self[0];
    }

    boolean closed() {
      return closed;
    }

    void send(String text) {
      writer.accept(text);
    }

    /** The first frame matching {@code which} within 15 s; every frame looked at goes to {@code seen}. */
    JsonObject next(Predicate<JsonObject> which, List<JsonObject> seen) {
      for (var it = backlog.iterator(); it.hasNext(); ) {
        JsonObject f = it.next();
        if (which.test(f)) {
          it.remove();
          seen.add(f);
          return f;
        }
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      try {
        while (true) {
          long left = deadline - System.nanoTime();
          JsonObject f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
          if (f == null) {
            throw new AssertionError("no matching frame within 15 s; seen " + seen + ", closed: " + closed);
          }
          seen.add(f);
          if (which.test(f)) {
            return f;
          }
          backlog.add(f);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }

    void close() {
      closer.run();
    }
  }
}
