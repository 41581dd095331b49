package io.switchboard.conversation;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Timeline;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.switchboard.store.MessageStore;
import io.switchboard.webhook.Outbox;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Owns the conversation rules (SPEC §3, §3b): who is a member, direct conversations one per pair,
 * groups with invite codes, joining and leaving as timeline items; group roles (owner, admin,
 * member) and what each may do: rename, set roles, remove members, rotate the invite code; and
 * per-member mute. Answers {@code sb.cmd.*} for its commands, commits, and only then publishes
 * the events.
 */
public final class ConversationVerticle extends ServiceVerticle {

  /** Internal command of the admin API: add a user to a group (SPEC §10). */
  public static final String ADD_MEMBER = "~add_member";

  static final int MAX_PARTICIPANTS = 500;
  static final int MAX_NAME = 200;
  static final int MAX_USER_ID = 128;
  private static final int LIST_LIMIT = 1000;
  private static final Set<String> ROLES = Set.of("owner", "admin", "member");
  private static final String INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Pool pool;

  public ConversationVerticle(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<?> start() {
    handle(Types.LOAD_CONVERSATIONS, this::loadConversations);
    handle(Types.GET_CONVERSATION, this::getConversation);
    handle(Types.CREATE_CONVERSATION, this::createConversation);
    handle(Types.CREATE_GROUP, this::createGroup);
    handle(Types.JOIN_GROUP, this::joinGroup);
    handle(Types.LEAVE_CONVERSATION, this::leave);
    handle(Types.JOIN_CONVERSATION, this::joinRoom);
    handle(Types.UPDATE_CONVERSATION, this::update);
    handle(Types.SET_ROLE, this::setRole);
    handle(Types.REMOVE_MEMBER, this::removeMember);
    handle(Types.ROTATE_INVITE, this::rotateInvite);
    handle(Types.MUTE, this::mute);
    handle(ADD_MEMBER, this::addMember);
    return registered();
  }

  /** Following a room's ephemeral events (typing) is for members only. */
  private Future<Envelope> joinRoom(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    return ConversationStore.requireMember(pool, id, cmd.userId()).recover(Db::failure)
      .map(v -> Envelope.of(Types.CONVERSATION_JOINED, new JsonObject().put("conversationId", id.toString())));
  }

  private Future<Envelope> loadConversations(Command cmd) {
    return ConversationStore.list(pool, cmd.userId(), LIST_LIMIT)
      .recover(Db::failure)
      .map(list -> Envelope.of(Types.CONVERSATIONS_LOADED, new JsonObject().put("conversations", list)));
  }

  private Future<Envelope> getConversation(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    return ConversationStore.get(pool, id, cmd.userId())
      .recover(Db::failure)
      .map(c -> Envelope.of(Types.CONVERSATION, c));
  }

  private Future<Envelope> createConversation(Command cmd) {
    String type = Fields.requiredString(cmd.payload(), "type", 16);
    return switch (type) {
      case "direct" -> createDirect(cmd);
      case "group" -> createGroup(cmd);
      default -> Future.failedFuture(ServiceException.invalid("'type' must be \"direct\" or \"group\""));
    };
  }

  private Future<Envelope> createDirect(Command cmd) {
    List<String> others = participants(cmd);
    if (others.size() != 1) {
      throw ServiceException.invalid("a direct conversation needs exactly one other participant in 'participantIds'");
    }
    String other = others.get(0);
    return recordUsers(cmd, others)
      .compose(v -> pool.withTransaction(conn -> ConversationStore.createDirect(conn, cmd.userId(), other)))
      .recover(Db::failure)
      .compose(created -> ConversationStore.get(pool, created.id(), cmd.userId()).recover(Db::failure)
        .map(view -> {
          if (created.isNew()) {
            announceCreated(view, List.of(cmd.userId(), other));
          }
          return Envelope.of(Types.CONVERSATION_CREATED, view);
        }));
  }

  private Future<Envelope> createGroup(Command cmd) {
    String name = Fields.requiredString(cmd.payload(), "name", MAX_NAME).strip();
    List<String> others = participants(cmd);
    String invite = inviteCode();
    return recordUsers(cmd, others)
      .compose(v -> pool.withTransaction(conn -> ConversationStore.createGroup(conn, name, invite, cmd.userId(), others)))
      .recover(Db::failure)
      .compose(id -> ConversationStore.get(pool, id, cmd.userId()).recover(Db::failure))
      .map(view -> {
        List<String> all = new ArrayList<>(others);
        all.add(cmd.userId());
        announceCreated(view, all);
        return Envelope.of(Types.CONVERSATION_CREATED, view);
      });
  }

  private Future<Envelope> joinGroup(Command cmd) {
    String code = Fields.requiredString(cmd.payload(), "inviteCode", 64);
    String userId = cmd.userId();
    return pool.withTransaction(conn -> ConversationStore.upsertUser(conn, userId, cmd.principal().name())
        .compose(v -> ConversationStore.lockByInvite(conn, code))
        .compose(locked -> ConversationStore.activeRole(conn, locked.id(), userId).compose(role -> {
          if (role != null) {
            // Already a member: joining again changes nothing and publishes nothing.
            return Future.succeededFuture(new Joined(locked.id(), null));
          }
          return ConversationStore.nextSeq(conn, locked.id())
            .compose(seq -> MessageStore.insert(conn, MessageStore.system(locked.id(), userId, Types.MEMBER_JOINED), seq)
              .compose(msg -> ConversationStore.join(conn, locked.id(), userId, seq).map(msg)))
            .compose(msg -> memberWebhook(conn, Outbox.MEMBER_JOINED, msg, userId))
            .map(msg -> new Joined(locked.id(), msg));
        })))
      .recover(Db::failure)
      .compose(joined -> ConversationStore.get(pool, joined.id(), userId).recover(Db::failure).map(view -> {
        if (joined.event() != null) {
          webhooksDue();
          JsonObject event = joined.event().copy().put("userId", userId);
          publish(Addresses.conversation(joined.id().toString()), Types.MEMBER_JOINED, event);
          publish(Addresses.user(userId), Types.MEMBER_JOINED, event);
        }
        return Envelope.of(Types.CONVERSATION_JOINED, view);
      }));
  }

  /** Leaving a group is a timeline item; the last owner must hand over first, unless nobody else is left. */
  private Future<Envelope> leave(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    Boolean membership = Fields.optionalBoolean(cmd.payload(), "membership");
    String userId = cmd.userId();
    if (!Boolean.TRUE.equals(membership)) {
      // Without membership:true, leaving only unsubscribes a connection; the service just checks access.
      return ConversationStore.requireMember(pool, id, userId).recover(Db::failure)
        .map(v -> Envelope.of(Types.CONVERSATION_LEFT, new JsonObject().put("conversationId", id.toString())));
    }
    return pool.withTransaction(conn -> ConversationStore.lock(conn, id)
        .compose(locked -> ConversationStore.activeRole(conn, id, userId).compose(role -> {
          if (role == null) {
            return Future.failedFuture(ServiceException.forbidden("not a member of this conversation"));
          }
          if (!"group".equals(locked.kind())) {
            return Future.failedFuture(ServiceException.invalid("a direct conversation cannot be left"));
          }
          return lastOwnerCheck(conn, id, role, "leave", false)
            .compose(v -> ConversationStore.nextSeq(conn, id))
            .compose(seq -> MessageStore.insert(conn, MessageStore.system(id, userId, Types.MEMBER_LEFT), seq)
              .compose(msg -> ConversationStore.leave(conn, id, userId, seq).map(msg)))
            .compose(msg -> memberWebhook(conn, Outbox.MEMBER_LEFT, msg, userId));
        })))
      .recover(Db::failure)
      .map(msg -> {
        webhooksDue();
        JsonObject event = msg.copy().put("userId", userId);
        publish(Addresses.conversation(id.toString()), Types.MEMBER_LEFT, event);
        publish(Addresses.user(userId), Types.MEMBER_LEFT, event);
        return Envelope.of(Types.CONVERSATION_LEFT,
          new JsonObject().put("conversationId", id.toString()).put("seq", msg.getLong("seq")));
      });
  }

  // ---- roles (SPEC §3b) ----

  /** {@code update_conversation {conversationId, name}}: an owner or admin renames the group. */
  private Future<Envelope> update(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    String name = Fields.requiredString(cmd.payload(), "name", MAX_NAME).strip();
    String userId = cmd.userId();
    return pool.withTransaction(conn -> moderator(conn, id, userId, "rename the group")
        .compose(role -> ConversationStore.rename(conn, id, name))
        .compose(renamed -> renamed
          ? record(conn, id, userId, new JsonObject().put("event", Types.CONVERSATION_UPDATED).put("name", name))
          : Future.succeededFuture((JsonObject) null)))
      .recover(Db::failure)
      .map(item -> item == null
        ? Envelope.of(Types.CONVERSATION_UPDATED, new JsonObject().put("conversationId", id.toString()).put("name", name))
        : Envelope.of(Types.CONVERSATION_UPDATED, published(id, item)));
  }

  /**
   * {@code set_role {conversationId, userId, role}}: owners and admins set roles; only an owner
   * makes an owner or changes an owner's role; the last owner cannot be demoted.
   */
  private Future<Envelope> setRole(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    String target = Fields.requiredString(p, "userId", MAX_USER_ID);
    String role = Fields.requiredString(p, "role", 16);
    if (!ROLES.contains(role)) {
      throw ServiceException.invalid("'role' must be \"owner\", \"admin\" or \"member\"");
    }
    String userId = cmd.userId();
    return pool.withTransaction(conn -> moderator(conn, id, userId, "set roles")
        .compose(callerRole -> ConversationStore.activeRole(conn, id, target).compose(current -> {
          if (current == null) {
            return Future.failedFuture(ServiceException.notFound("no such member of this conversation"));
          }
          if (("owner".equals(role) || "owner".equals(current)) && !"owner".equals(callerRole)) {
            return Future.failedFuture(ServiceException.forbidden("only an owner makes owners or changes an owner's role"));
          }
          if (current.equals(role)) {
            return Future.succeededFuture((JsonObject) null);
          }
          return ("owner".equals(current) ? lastOwnerCheck(conn, id, current, "be demoted", true)
            : Future.<Void>succeededFuture())
            .compose(v -> ConversationStore.setRole(conn, id, target, role))
            .compose(v -> record(conn, id, userId, new JsonObject().put("event", Types.CONVERSATION_UPDATED)
              .put("members", new JsonArray().add(new JsonObject().put("userId", target).put("role", role)))));
        })))
      .recover(Db::failure)
      .map(item -> {
        JsonObject ack = new JsonObject().put("conversationId", id.toString()).put("userId", target).put("role", role);
        if (item != null) {
          ack.put("seq", published(id, item).getLong("seq"));
        }
        return Envelope.of(Types.ACK, ack);
      });
  }

  /**
   * {@code remove_member {conversationId, userId}}: an owner or admin removes someone else (an
   * owner only by an owner); a {@code member_left} item with {@code by}, as a leave is.
   */
  private Future<Envelope> removeMember(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    String target = Fields.requiredString(p, "userId", MAX_USER_ID);
    String userId = cmd.userId();
    if (target.equals(userId)) {
      throw ServiceException.invalid("to leave a group yourself, use leave_conversation");
    }
    return pool.withTransaction(conn -> moderator(conn, id, userId, "remove members")
        .compose(callerRole -> ConversationStore.activeRole(conn, id, target).compose(current -> {
          if (current == null) {
            return Future.failedFuture(ServiceException.notFound("no such member of this conversation"));
          }
          if ("owner".equals(current) && !"owner".equals(callerRole)) {
            return Future.failedFuture(ServiceException.forbidden("only an owner removes an owner"));
          }
          JsonObject content = new JsonObject().put("event", Types.MEMBER_LEFT).put("userId", target).put("by", userId);
          return ConversationStore.nextSeq(conn, id)
            .compose(seq -> MessageStore.insert(conn, MessageStore.system(id, userId, content), seq)
              .compose(msg -> ConversationStore.leave(conn, id, target, seq).map(msg)))
            .compose(msg -> outbox().add(conn, Outbox.MEMBER_LEFT, Outbox.conversation(id),
              Timeline.event(msg).payload()).map(msg));
        })))
      .recover(Db::failure)
      .map(msg -> {
        webhooksDue();
        JsonObject event = published(id, msg);
        // The removed user hears of it on their own address too, as a user who leaves does.
        publish(Addresses.user(target), Types.MEMBER_LEFT, event);
        return Envelope.of(Types.ACK, new JsonObject().put("conversationId", id.toString()).put("userId", target)
          .put("seq", event.getLong("seq")));
      });
  }

  /** {@code rotate_invite {conversationId}}: an owner or admin replaces the invite code; the old one stops working. */
  private Future<Envelope> rotateInvite(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    String code = inviteCode();
    return pool.withTransaction(conn -> moderator(conn, id, cmd.userId(), "rotate the invite code")
        .compose(role -> ConversationStore.setInviteCode(conn, id, code)))
      .recover(Db::failure)
      .map(v -> Envelope.of(Types.ACK, new JsonObject().put("conversationId", id.toString()).put("inviteCode", code)));
  }

  /** {@code mute {conversationId, muted}}: a member's own setting, shown in their conversation list; delivery is unchanged. */
  private Future<Envelope> mute(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    Boolean muted = Fields.optionalBoolean(cmd.payload(), "muted");
    if (muted == null) {
      throw ServiceException.invalid("'muted' is required and must be a boolean");
    }
    String userId = cmd.userId();
    return ConversationStore.mute(pool, id, userId, muted)
      .compose(done -> done ? Future.<Void>succeededFuture() : ConversationStore.requireMember(pool, id, userId)
        .compose(v -> Future.failedFuture(ServiceException.forbidden("not a member of this conversation"))))
      .recover(Db::failure)
      .map(v -> Envelope.of(Types.ACK, new JsonObject().put("conversationId", id.toString()).put("muted", muted)));
  }

  /**
   * Locks the conversation row and checks that the caller is an owner or admin of a group:
   * 404 (no such conversation), 403 (not a member, or a member without the role), 400 (a direct
   * conversation, which has no roles). Completes with the caller's role.
   */
  private Future<String> moderator(SqlConnection conn, UUID id, String userId, String what) {
    return ConversationStore.lock(conn, id)
      .compose(locked -> ConversationStore.activeRole(conn, id, userId).compose(role -> {
        if (role == null) {
          return Future.failedFuture(ServiceException.forbidden("not a member of this conversation"));
        }
        if (!"group".equals(locked.kind())) {
          return Future.failedFuture(ServiceException.invalid("a direct conversation has no name, roles or invite code"));
        }
        if (!"owner".equals(role) && !"admin".equals(role)) {
          return Future.failedFuture(ServiceException.forbidden("only an owner or admin of the group may " + what));
        }
        return Future.succeededFuture(role);
      }));
  }

  /**
   * Refuses, with {@code conflict}, to leave a group without an owner: the last owner may not be
   * demoted, nor leave while others are in the group (the last member of all may leave).
   */
  private Future<Void> lastOwnerCheck(SqlConnection conn, UUID id, String role, String what, boolean demotion) {
    if (!"owner".equals(role)) {
      return Future.succeededFuture();
    }
    return ConversationStore.headcount(conn, id).compose(count -> count[0] <= 1 && (demotion || count[1] > 1)
      ? Future.failedFuture(new ServiceException(ErrorCode.CONFLICT,
        "the last owner cannot " + what + ": make another member owner first (set_role)"))
      : Future.succeededFuture());
  }

  /** Writes a change of the conversation as the next timeline item. */
  private Future<JsonObject> record(SqlConnection conn, UUID id, String actorId, JsonObject content) {
    return ConversationStore.nextSeq(conn, id)
      .compose(seq -> MessageStore.insert(conn, MessageStore.system(id, actorId, content), seq));
  }

  /** After the commit: publishes the item's event to the conversation; returns its payload. */
  private JsonObject published(UUID id, JsonObject item) {
    Envelope event = Timeline.event(item);
    publish(Addresses.conversation(id.toString()), event.type(), event.payload());
    return event.payload();
  }

  /**
   * {@code ~add_member {conversationId, userId}}, from the admin API only: adds a user to a group
   * as a {@code member}, as a join by invite would (a {@code member_joined} timeline item, the
   * same events). Adding a current member changes nothing. Direct conversations have no room for
   * a third user.
   */
  private Future<Envelope> addMember(Command cmd) {
    if (!Principal.BACKEND.userId().equals(cmd.userId())) {
      throw ServiceException.forbidden("internal command");
    }
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    String userId = Fields.requiredString(cmd.payload(), "userId", MAX_USER_ID);
    if (!io.switchboard.auth.Authenticator.validUserId(userId)) {
      throw ServiceException.invalid("'userId' " + io.switchboard.auth.Authenticator.USER_ID_RULE);
    }
    return ConversationStore.ensureUsers(pool, List.of(userId))
      .compose(v -> pool.withTransaction(conn -> ConversationStore.lock(conn, id)
        .compose(locked -> ConversationStore.activeRole(conn, id, userId).compose(role -> {
          if (!"group".equals(locked.kind())) {
            return Future.failedFuture(ServiceException.invalid("members can be added to groups only"));
          }
          if (role != null) {
            return Future.succeededFuture((JsonObject) null);
          }
          return ConversationStore.nextSeq(conn, id)
            .compose(seq -> MessageStore.insert(conn, MessageStore.system(id, userId, Types.MEMBER_JOINED), seq)
              .compose(msg -> ConversationStore.join(conn, id, userId, seq).map(msg)))
            .compose(msg -> memberWebhook(conn, Outbox.MEMBER_JOINED, msg, userId));
        }))))
      .recover(Db::failure)
      .compose(msg -> ConversationStore.get(pool, id, userId).recover(Db::failure).map(view -> {
        if (msg != null) {
          webhooksDue();
          JsonObject event = msg.copy().put("userId", userId);
          publish(Addresses.conversation(id.toString()), Types.MEMBER_JOINED, event);
          publish(Addresses.user(userId), Types.MEMBER_JOINED, event);
        }
        return Envelope.of(Types.CONVERSATION_JOINED, view.put("added", msg != null));
      }));
  }

  /** The webhook of a membership change, in its transaction: the live event's payload. */
  private Future<JsonObject> memberWebhook(io.vertx.sqlclient.SqlConnection conn, String type, JsonObject msg,
                                           String userId) {
    return outbox().add(conn, type, Outbox.conversation(msg.getString("conversationId")),
      msg.copy().put("userId", userId)).map(msg);
  }

  /**
   * Records the caller's display name and makes sure the other users exist, each statement on its
   * own, before the conversation's transaction. Inside it, two users creating a conversation with
   * each other at the same moment deadlocked: each transaction held its caller's user row and
   * waited for the other's.
   */
  private Future<Void> recordUsers(Command cmd, List<String> others) {
    return ConversationStore.upsertUser(pool, cmd.userId(), cmd.principal().name())
      .compose(v -> ConversationStore.ensureUsers(pool, others));
  }

  /** Tells every member of a new conversation, on their user address (they follow no room yet). */
  private void announceCreated(JsonObject view, List<String> members) {
    JsonObject event = view.copy().put("conversationId", view.getString("id")).put("seq", view.getLong("lastSeq"));
    // Per-user fields of the creator's view mean nothing to the others.
    event.remove("lastReadSeq");
    event.remove("unreadCount");
    event.remove("muted");
    for (String member : new LinkedHashSet<>(members)) {
      publish(Addresses.user(member), Types.CONVERSATION_CREATED, event);
    }
  }

  /** The other participants: distinct, without the caller, each a valid user id. */
  private static List<String> participants(Command cmd) {
    List<String> ids = Fields.stringList(cmd.payload(), "participantIds", MAX_PARTICIPANTS, MAX_USER_ID);
    Set<String> others = new LinkedHashSet<>(ids);
    others.remove(cmd.userId());
    for (String id : others) {
      if (!io.switchboard.auth.Authenticator.validUserId(id)) {
        throw ServiceException.invalid("'participantIds' contains an invalid user id");
      }
    }
    return new ArrayList<>(others);
  }

  private static String inviteCode() {
    StringBuilder sb = new StringBuilder(12);
    for (int i = 0; i < 12; i++) {
      sb.append(INVITE_ALPHABET.charAt(RANDOM.nextInt(INVITE_ALPHABET.length())));
    }
    return sb.toString();
  }

  /** The outcome of a join: the conversation and the timeline item, null when already a member. */
  private record Joined(UUID id, JsonObject event) {
  }
}
