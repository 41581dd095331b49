package io.switchboard.http.api;

import io.switchboard.NodeContext;
import io.switchboard.admin.AdminVerticle;
import io.switchboard.auth.Authenticator;
import io.switchboard.auth.Principal;
import io.switchboard.conversation.ConversationVerticle;
import io.switchboard.http.HttpErrors;
import io.switchboard.http.QueryParams;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.CommandClient;
import io.switchboard.webhook.WebhookVerticle;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Function;

/**
 * The server API under {@code /api/admin} (SPEC §10), for API keys of scope {@code admin}. An
 * adapter like the rest of REST: the rules are the services'. The admin-only commands go as
 * {@link Principal#BACKEND}; the others run the users' own commands as the user the request names
 * (an admin key may act for any user), so a bot's message or a removal follows the same rules,
 * writes the same timeline items and fires the same events and webhooks as the user's own would.
 */
final class AdminApi {

  private final CommandClient commands;
  private final Handler<RoutingContext> requireAdmin;

  AdminApi(NodeContext node, Handler<RoutingContext> requireAdmin) {
    this.commands = node.commands();
    this.requireAdmin = requireAdmin;
  }

  void mount(Router router) {
    router.route("/api/admin/*").handler(requireAdmin);
    router.post("/api/admin/users/:userId/disconnect").handler(ctx -> run(ctx, Principal.BACKEND,
      AdminVerticle.DISCONNECT, 200, c -> optionalBody(c).put("userId", c.pathParam("userId"))));
    router.post("/api/admin/revocations").handler(ctx -> run(ctx, Principal.BACKEND, AdminVerticle.REVOKE, 201,
      RestApi::body));
    router.post("/api/admin/epoch").handler(ctx -> run(ctx, Principal.BACKEND, AdminVerticle.NEW_EPOCH, 200,
      AdminApi::optionalBody));
    router.get("/api/admin/presence").handler(ctx -> run(ctx, Principal.BACKEND, AdminVerticle.PRESENCE, 200,
      c -> new JsonObject().put("userIds", new JsonArray(QueryParams.list(c.request().getParam("userIds"))))));
    router.post("/api/admin/conversations").handler(this::createConversation);
    router.post("/api/admin/conversations/:id/members/:userId").handler(ctx -> run(ctx, Principal.BACKEND,
      ConversationVerticle.ADD_MEMBER, 200,
      c -> new JsonObject().put("conversationId", c.pathParam("id")).put("userId", c.pathParam("userId"))));
    router.delete("/api/admin/conversations/:id/members/:userId").handler(ctx -> run(ctx,
      () -> actingFor(ctx.pathParam("userId"), "userId"), Types.LEAVE_CONVERSATION, 200,
      c -> new JsonObject().put("conversationId", c.pathParam("id")).put("membership", true)));
    router.post("/api/admin/conversations/:id/messages").handler(this::sendMessage);
    router.get("/api/admin/webhooks").handler(ctx -> run(ctx, Principal.BACKEND, WebhookVerticle.STATS, 200,
      c -> new JsonObject()));
    router.get("/api/admin/webhooks/dead-letters").handler(ctx -> run(ctx, Principal.BACKEND,
      WebhookVerticle.DEAD_LETTERS, 200, AdminApi::deadLetterQuery));
    router.post("/api/admin/webhooks/dead-letters/retry").handler(ctx -> run(ctx, Principal.BACKEND,
      WebhookVerticle.RETRY, 200, AdminApi::optionalBody));
  }

  /**
   * {@code {type, name?, participantIds, ownerId?}}: a direct conversation between the two
   * participants, or a group owned by {@code ownerId} (by default the first participant).
   */
  private void createConversation(RoutingContext ctx) {
    Principal owner;
    JsonObject payload;
    try {
      JsonObject b = RestApi.body(ctx);
      String type = Fields.requiredString(b, "type", 16);
      List<String> ids = new ArrayList<>(new LinkedHashSet<>(Fields.stringList(b, "participantIds", 501, 128)));
      String ownerId = Fields.optionalString(b, "ownerId", 128);
      payload = b.copy();
      payload.remove("ownerId");
      if ("direct".equals(type)) {
        if (ids.size() != 2 || ownerId != null) {
          throw ServiceException.invalid("a direct conversation needs exactly two 'participantIds' (and no 'ownerId')");
        }
        ownerId = ids.get(0);
      } else if (ownerId == null) {
        if (ids.isEmpty()) {
          throw ServiceException.invalid("a group needs 'ownerId' or at least one of 'participantIds'");
        }
        ownerId = ids.get(0);
      }
      owner = actingFor(ownerId, "ownerId");
      ids.remove(ownerId);
      payload.put("participantIds", new JsonArray(ids));
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    send(ctx, owner, Types.CREATE_CONVERSATION, 201, payload);
  }

  /** {@code {senderId, content, kind?, replyTo?, clientMessageId?}}: the sender must be a member. */
  private void sendMessage(RoutingContext ctx) {
    Principal sender;
    JsonObject payload;
    try {
      JsonObject b = RestApi.body(ctx);
      sender = actingFor(Fields.requiredString(b, "senderId", 128), "senderId");
      payload = b.copy();
      payload.remove("senderId");
      payload.put("conversationId", ctx.pathParam("id"));
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    send(ctx, sender, Types.SEND_MESSAGE, 201, payload);
  }

  /** The user an admin request acts for; a user id that could never sign in is refused. */
  private static Principal actingFor(String userId, String field) {
    if (!Authenticator.validUserId(userId)) {
      throw ServiceException.invalid("'" + field + "' " + Authenticator.USER_ID_RULE);
    }
    return Principal.actingFor(userId);
  }

  private void run(RoutingContext ctx, Principal principal, String type, int status,
                   Function<RoutingContext, JsonObject> payload) {
    JsonObject p;
    try {
      p = payload.apply(ctx);
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    send(ctx, principal, type, status, p);
  }

  private void run(RoutingContext ctx, java.util.function.Supplier<Principal> principal, String type, int status,
                   Function<RoutingContext, JsonObject> payload) {
    Principal who;
    try {
      who = principal.get();
    } catch (ServiceException e) {
      HttpErrors.send(ctx, e);
      return;
    }
    run(ctx, who, type, status, payload);
  }

  private void send(RoutingContext ctx, Principal principal, String type, int status, JsonObject payload) {
    Future<Envelope> reply = commands.request(principal, type, payload);
    reply.onComplete(ar -> {
      if (ctx.response().closed()) {
        return;
      }
      if (ar.failed()) {
        HttpErrors.send(ctx, ServiceException.from(ar.cause()));
        return;
      }
      ctx.response().setStatusCode(status)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .end(ar.result().payload().toBuffer());
    });
  }

  /** A body that may be absent (a disconnect without a reason); when present, a JSON object. */
  private static JsonObject optionalBody(RoutingContext ctx) {
    var buffer = ctx.body().buffer();
    return buffer == null || buffer.length() == 0 ? new JsonObject() : RestApi.body(ctx);
  }

  private static JsonObject deadLetterQuery(RoutingContext ctx) {
    return RestApi.wholeNumbers(ctx, new JsonObject(), "after", "limit");
  }
}
