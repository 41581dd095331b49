package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.auth.Authenticator;
import io.switchboard.auth.Principal;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Events;
import io.switchboard.topic.TopicVerticle;
import io.switchboard.http.HttpErrors;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Text;
import io.switchboard.protocol.Types;
import io.switchboard.service.CommandClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * REST under {@code /api} (SPEC §3, REST column): each route authenticates, turns the request
 * into a command payload, sends it on the bus and writes the reply's payload as the body. No
 * rule lives here.
 */
public final class RestApi {

  static final String PRINCIPAL = "sb.principal";

  private final Vertx vertx;
  private final NodeContext node;
  private final Authenticator auth;
  private final CommandClient commands;

  private final Gateway gateway;

  public RestApi(Vertx vertx, NodeContext node, Gateway gateway) {
    this.vertx = vertx;
    this.gateway = gateway;
    this.node = node;
    this.auth = node.authenticator();
    this.commands = node.commands();
  }

  public void mount(Router router) {
    router.route("/api/*").handler(BodyHandler.create(false).setBodyLimit(node.config().limits().frameBytes()));

    HealthHandler health = new HealthHandler(node);
    router.get("/api/health").handler(health::health);
    router.get("/api/health/live").handler(health::live);
    router.get("/api/health/ready").handler(health::ready);
    router.get("/api/stats").handler(ctx -> requireApiKey(ctx, "admin")).handler(new StatsHandler(node, gateway));
    router.get("/api/admin/cluster").handler(ctx -> requireApiKey(ctx, "admin"))
      .handler(new ClusterStatsHandler(vertx, node));
    router.get("/api/openapi.json").handler(OpenApi::serve);
    new AdminApi(node, ctx -> requireApiKey(ctx, "admin")).mount(router);
    if (node.config().auth().devTokens()) {
      router.post("/api/auth/dev-token").handler(this::devToken);
    }

    router.route("/api/conversations*").handler(this::authenticate);
    router.route("/api/groups*").handler(this::authenticate);
    router.route("/api/calls*").handler(this::authenticate);
    router.route("/api/search*").handler(this::authenticate);
    router.route("/api/presence*").handler(this::authenticate);
    router.post("/api/events/subscribe").handler(this::authenticate);
    router.post("/api/events/unsubscribe").handler(this::authenticate);
    router.post("/api/publish").handler(ctx -> requireApiKey(ctx, "publish")).handler(this::publish);
    router.post("/api/events/subscribe").handler(this::subscribeStreams);
    router.post("/api/events/unsubscribe").handler(this::unsubscribeStreams);

    router.get("/api/conversations").handler(command(Types.LOAD_CONVERSATIONS, 200, ctx -> new JsonObject()));
    router.post("/api/conversations").handler(command(Types.CREATE_CONVERSATION, 201, RestApi::body));
    router.get("/api/conversations/:id").handler(command(Types.GET_CONVERSATION, 200, RestApi::pathId));
    router.post("/api/groups").handler(command(Types.CREATE_GROUP, 201, RestApi::body));
    router.post("/api/groups/join").handler(command(Types.JOIN_GROUP, 200, RestApi::body));
    router.post("/api/conversations/:id/leave")
      .handler(command(Types.LEAVE_CONVERSATION, 200, ctx -> pathId(ctx).put("membership", true)));
    router.post("/api/conversations/:id/messages").handler(this::messageRate)
      .handler(command(Types.SEND_MESSAGE, 201, RestApi::bodyWithId));
    router.get("/api/conversations/:id/messages").handler(command(Types.LOAD_MESSAGES, 200, RestApi::pageQuery));
    router.post("/api/conversations/:id/read").handler(command(Types.MARK_READ, 200, RestApi::bodyWithId));
    router.post("/api/conversations/:id/typing").handler(this::typing);

    // SPEC §3b: message lifecycle, threads, search, status and roles.
    router.patch("/api/conversations/:id/messages/:messageId").handler(command(Types.EDIT_MESSAGE, 200,
      ctx -> bodyWithId(ctx).put("messageId", ctx.pathParam("messageId"))));
    router.delete("/api/conversations/:id/messages/:messageId").handler(command(Types.DELETE_MESSAGE, 200,
      ctx -> pathId(ctx).put("messageId", ctx.pathParam("messageId"))));
    router.put("/api/conversations/:id/messages/:messageId/reactions/:emoji").handler(command(Types.REACT, 200,
      ctx -> reaction(ctx, true)));
    router.delete("/api/conversations/:id/messages/:messageId/reactions/:emoji").handler(command(Types.REACT, 200,
      ctx -> reaction(ctx, false)));
    router.get("/api/conversations/:id/threads/:messageId/messages").handler(command(Types.LOAD_THREAD, 200,
      ctx -> pageQuery(ctx).put("threadId", ctx.pathParam("messageId"))));
    router.get("/api/search").handler(command(Types.SEARCH_MESSAGES, 200, RestApi::searchQuery));
    router.put("/api/presence/me").handler(command(Types.SET_STATUS, 200, RestApi::body));
    router.get("/api/presence").handler(command(Types.GET_PRESENCE, 200, RestApi::userIdsQuery));
    router.get("/api/conversations/:id/presence").handler(command(Types.GET_CONVERSATION_PRESENCE, 200, RestApi::pathId));
    router.patch("/api/conversations/:id").handler(command(Types.UPDATE_CONVERSATION, 200, RestApi::bodyWithId));
    router.put("/api/conversations/:id/members/:userId").handler(command(Types.SET_ROLE, 200,
      ctx -> bodyWithId(ctx).put("userId", ctx.pathParam("userId"))));
    router.delete("/api/conversations/:id/members/:userId").handler(command(Types.REMOVE_MEMBER, 200,
      ctx -> pathId(ctx).put("userId", ctx.pathParam("userId"))));
    router.post("/api/conversations/:id/invite-code").handler(command(Types.ROTATE_INVITE, 200, RestApi::pathId));
    router.put("/api/conversations/:id/mute").handler(command(Types.MUTE, 200, RestApi::bodyWithId));

    router.get("/api/calls/ice-servers").handler(command(Types.GET_ICE_SERVERS, 200, ctx -> new JsonObject()));
    router.post("/api/calls/offer").handler(command(Types.CALL_OFFER, RestApi::offerStatus, RestApi::body));
    router.post("/api/calls/answer").handler(command(Types.CALL_ANSWER, 200, RestApi::body));
    router.post("/api/calls/decline").handler(command(Types.CALL_DECLINE, 200, RestApi::body));
    router.post("/api/calls/end").handler(command(Types.CALL_END, 200, RestApi::body));
    router.post("/api/calls/ice-candidate").handler(command(Types.ICE_CANDIDATE, 200, RestApi::body));
    router.get("/api/calls/:id").handler(command(Types.GET_CALL, 200,
      ctx -> new JsonObject().put("callId", ctx.pathParam("id"))));
  }

  /** {@code POST /api/conversations/{id}/typing {"state":"start"|"stop"}}. */
  private void typing(RoutingContext ctx) {
    String type;
    try {
      String state = Fields.requiredString(body(ctx), "state", 8);
      type = switch (state) {
        case "start" -> Types.TYPING_START;
        case "stop" -> Types.TYPING_STOP;
        default -> throw ServiceException.invalid("'state' must be \"start\" or \"stop\"");
      };
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    command(type, 200, RestApi::pathId).handle(ctx);
  }

  /** The per-user message rate (SPEC §8), counted on this node for every transport. */
  private void messageRate(RoutingContext ctx) {
    Principal principal = ctx.get(PRINCIPAL);
    long retry = gateway.takeMessageToken(principal.userId());
    if (retry > 0) {
      ctx.response().putHeader("Retry-After", String.valueOf(retry));
      HttpErrors.send(ctx, new ServiceException(ErrorCode.RATE_LIMITED, "too many messages; retry in " + retry + " s"));
      return;
    }
    ctx.next();
  }

  /**
   * {@code POST /api/events/subscribe}: checked once by the topic service, then applied to every
   * open stream of the user on every node, through the user's own address.
   */
  private void subscribeStreams(RoutingContext ctx) {
    Principal principal = ctx.get(PRINCIPAL);
    JsonObject b;
    try {
      b = body(ctx);
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    commands.request(principal, Types.SUBSCRIBE, b).onComplete(ar -> {
      if (ar.failed()) {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
        return;
      }
      Events.publish(vertx.eventBus(), Addresses.user(principal.userId()),
        Envelope.of(Types.STREAMS_SUBSCRIBE, ar.result().payload()).toJson());
      reply(ctx, 200, ar.result());
    });
  }

  private void unsubscribeStreams(RoutingContext ctx) {
    Principal principal = ctx.get(PRINCIPAL);
    try {
      JsonObject b = body(ctx);
      Fields.stringList(b, "topics", 1000, 200);
      Events.publish(vertx.eventBus(), Addresses.user(principal.userId()),
        Envelope.of(Types.STREAMS_UNSUBSCRIBE, b).toJson());
      reply(ctx, 200, Envelope.of(Types.UNSUBSCRIBED, b));
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
    }
  }

  /**
   * Server-to-server routes: the API key ({@code X-API-Key}, or {@code ?apiKey=}) must be
   * configured (else 401) and carry {@code scope} (else 403).
   */
  private void requireApiKey(RoutingContext ctx, String scope) {
    String key = ctx.request().getHeader("X-API-Key");
    if (key == null) {
      key = ctx.request().getParam("apiKey");
    }
    var apiKey = auth.apiKey(key);
    if (apiKey.isEmpty()) {
      HttpErrors.send(ctx, new ServiceException(ErrorCode.UNAUTHORIZED, "a valid X-API-Key is required"));
      return;
    }
    if (!apiKey.get().scopes().contains(scope)) {
      HttpErrors.send(ctx, ServiceException.forbidden("this API key has no '" + scope + "' scope"));
      return;
    }
    ctx.next();
  }

  /** {@code POST /api/publish} with an API key of scope {@code publish} (SPEC §6). */
  private void publish(RoutingContext ctx) {
    JsonObject b;
    try {
      b = body(ctx);
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    commands.request(Principal.BACKEND, TopicVerticle.PUBLISH, b).onComplete(ar -> {
      if (ar.succeeded()) {
        reply(ctx, 200, ar.result());
      } else {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
      }
    });
  }


  /** Token from {@code Authorization: Bearer}, {@code X-Auth-Token}, or {@code ?token=}, in that order. */
  public static String token(HttpServerRequest request) {
    String header = request.getHeader("Authorization");
    if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return header.substring(7).trim();
    }
    String x = request.getHeader("X-Auth-Token");
    if (x != null && !x.isBlank()) {
      return x.trim();
    }
    return request.getParam("token");
  }

  private void authenticate(RoutingContext ctx) {
    auth.authenticate(token(ctx.request())).onComplete(ar -> {
      if (ar.succeeded()) {
        // limits.commandsPerSecond for REST: HTTP has no lasting connection, so the bucket is
        // the user's on this node, shared by all their REST calls (SPEC §8: 429 + Retry-After).
        long retry = gateway.takeCommandToken(ar.result().userId());
        if (retry > 0) {
          ctx.response().putHeader("Retry-After", String.valueOf(retry));
          HttpErrors.send(ctx, new ServiceException(ErrorCode.RATE_LIMITED, "too many requests; retry in " + retry + " s"));
          return;
        }
        ctx.put(PRINCIPAL, ar.result());
        ctx.next();
      } else {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
      }
    });
  }

  /** A new call is 201; an offer that met the callee's own ringing call (glare) returns that one, 200. */
  private static int offerStatus(Envelope reply) {
    return reply.payload().getBoolean("glare", false) ? 200 : 201;
  }

  /** A route handler sending {@code type} with the payload built from the request. */
  private io.vertx.core.Handler<RoutingContext> command(String type, int status,
                                                       Function<RoutingContext, JsonObject> payload) {
    return command(type, reply -> status, payload);
  }

  /** As above, with the status chosen by the reply. */
  private io.vertx.core.Handler<RoutingContext> command(String type, ToIntFunction<Envelope> status,
                                                       Function<RoutingContext, JsonObject> payload) {
    return ctx -> {
      JsonObject p;
      try {
        p = payload.apply(ctx);
      } catch (ServiceException e) {
        HttpErrors.send(ctx, e);
        return;
      }
      Principal principal = ctx.get(PRINCIPAL);
      commands.request(principal, type, p).onComplete(ar -> {
        if (ar.succeeded()) {
          reply(ctx, status.applyAsInt(ar.result()), ar.result());
        } else {
          HttpErrors.send(ctx, ServiceException.from(ar.cause()));
        }
      });
    };
  }

  private static void reply(RoutingContext ctx, int status, Envelope envelope) {
    if (ctx.response().closed()) {
      return;
    }
    ctx.response().setStatusCode(status)
      .putHeader("Content-Type", "application/json; charset=utf-8")
      .end(envelope.payload().toBuffer());
  }

  /** {@code POST /api/auth/dev-token}, throttled per client address ({@code auth.devTokensPerMinute}). */
  private void devToken(RoutingContext ctx) {
    var remote = ctx.request().remoteAddress();
    long retry = auth.takeDevTokenSlot(remote == null ? "" : remote.host());
    if (retry > 0) {
      ctx.response().putHeader("Retry-After", String.valueOf(retry));
      HttpErrors.send(ctx, new ServiceException(ErrorCode.RATE_LIMITED,
        "too many development tokens from this address; retry in " + retry + " s"));
      return;
    }
    try {
      JsonObject b = body(ctx);
      String userId = Fields.requiredString(b, "userId", 128);
      if (!Authenticator.validUserId(userId)) {
        throw ServiceException.invalid("'userId' " + Authenticator.USER_ID_RULE);
      }
      String name = Fields.optionalString(b, "name", 200);
      ctx.response().setStatusCode(201)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .end(new JsonObject().put("token", auth.devToken(userId, name)).put("userId", userId).encode());
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
    }
  }

  /** The request body as a JSON object; malformed or non-object JSON is {@code invalid_request}. */
  static JsonObject body(RoutingContext ctx) {
    Buffer buffer = ctx.body().buffer();
    if (buffer == null || buffer.length() == 0) {
      throw ServiceException.invalid("the request body must be a JSON object");
    }
    try {
      Object value = io.vertx.core.json.Json.decodeValue(buffer);
      if (value instanceof JsonObject obj) {
        Text.checkJson("", obj);
        return obj;
      }
    } catch (DecodeException e) {
      throw ServiceException.invalid("malformed JSON in the request body");
    }
    throw ServiceException.invalid("the request body must be a JSON object");
  }

  private static JsonObject pathId(RoutingContext ctx) {
    return new JsonObject().put("conversationId", ctx.pathParam("id"));
  }

  private static JsonObject bodyWithId(RoutingContext ctx) {
    return body(ctx).put("conversationId", ctx.pathParam("id"));
  }

  /** {@code PUT} (on) or {@code DELETE} (off) of {@code /messages/{messageId}/reactions/{emoji}}. */
  private static JsonObject reaction(RoutingContext ctx, boolean on) {
    return pathId(ctx).put("messageId", ctx.pathParam("messageId")).put("emoji", ctx.pathParam("emoji")).put("on", on);
  }

  /** {@code GET /api/search?q=&conversationId=&limit=&cursor=}. */
  private static JsonObject searchQuery(RoutingContext ctx) {
    JsonObject p = new JsonObject();
    for (String name : new String[] {"q", "conversationId", "cursor"}) {
      String raw = ctx.request().getParam(name);
      if (raw != null && !(raw.isEmpty() && !"q".equals(name))) {
        p.put(name, raw);
      }
    }
    String limit = ctx.request().getParam("limit");
    if (limit != null && !limit.isEmpty()) {
      p.put("limit", wholeNumber("limit", limit));
    }
    return p;
  }

  /** {@code GET /api/presence?userIds=a,b}: the ids, comma-separated. */
  private static JsonObject userIdsQuery(RoutingContext ctx) {
    String raw = ctx.request().getParam("userIds");
    io.vertx.core.json.JsonArray ids = new io.vertx.core.json.JsonArray();
    if (raw != null) {
      for (String id : raw.split(",", -1)) {
        ids.add(id);
      }
    }
    return new JsonObject().put("userIds", ids);
  }

  private static long wholeNumber(String name, String raw) {
    try {
      return Long.parseLong(raw);
    } catch (NumberFormatException e) {
      throw new ServiceException(ErrorCode.INVALID_REQUEST, "'" + name + "' must be a whole number");
    }
  }

  private static JsonObject pageQuery(RoutingContext ctx) {
    return wholeNumbers(ctx, pathId(ctx), "before", "after", "limit");
  }

  /** Puts each named query parameter that is present into {@code p} as a whole number; 400 for one that is not. */
  static JsonObject wholeNumbers(RoutingContext ctx, JsonObject p, String... names) {
    for (String name : names) {
      String raw = ctx.request().getParam(name);
      if (raw != null && !raw.isEmpty()) {
        try {
          p.put(name, Long.parseLong(raw));
        } catch (NumberFormatException e) {
          throw new ServiceException(ErrorCode.INVALID_REQUEST, "'" + name + "' must be a whole number");
        }
      }
    }
    return p;
  }

}
