package io.switchboard.message;

import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Timeline;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.switchboard.store.MessageStore;
import io.switchboard.webhook.Outbox;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;

import java.util.UUID;

/**
 * The rules of a message after it was sent (SPEC §3b): who may edit, delete or react, and how
 * each change becomes a timeline item. Each change runs in one transaction under the
 * conversation's row lock (as joins and leaves do), so it gets the next seq in commit order and
 * nothing changes between the checks and the write; the event is published after the commit,
 * built from the stored item by {@link Timeline#event}, as a resume or a gap fill builds it.
 *
 * <p>A command that would change nothing (an edit to the same content, a second delete, a
 * reaction already there) writes no item and publishes nothing; its reply has no {@code seq}.
 */
final class MessageLife {

  /** Different emoji one message may carry. */
  static final int MAX_EMOJI_KINDS = 50;
  static final int MAX_EMOJI = 64;

  /**
   * How the service publishes an event after a commit ({@code ServiceVerticle.publish}), and where
   * it writes webhook events in the change's transaction ({@code ServiceVerticle.outbox}, then
   * {@code webhooksDue} after the commit).
   */
  interface Publisher {
    void publish(String address, String type, JsonObject payload);

    Outbox outbox();

    void webhooksDue();
  }

  private final Pool pool;
  private final int editWindowSeconds;
  private final Publisher publisher;

  MessageLife(Pool pool, int editWindowSeconds, Publisher publisher) {
    this.pool = pool;
    this.editWindowSeconds = editWindowSeconds;
    this.publisher = publisher;
  }

  /** What a locked read found: the caller's role and the message. */
  private record Locked(String kind, String role, MessageStore.Target target) {
  }

  /** The outcome of a change: the stored item, or null when nothing changed (then {@code unchanged} answers). */
  private record Change(JsonObject item, JsonObject unchanged) {
  }

  /** {@code edit_message {conversationId, messageId, content}}: the sender only, within the edit window. */
  Future<Envelope> edit(Command cmd, Object content) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    UUID messageId = messageId(cmd.payload());
    String userId = cmd.userId();
    return pool.withTransaction(conn -> lock(conn, id, userId, messageId).compose(locked -> {
        MessageStore.Target t = locked.target();
        refuseSystem(t, "edited");
        if (!t.senderId().equals(userId)) {
          throw ServiceException.forbidden("only the sender may edit a message");
        }
        if (t.deleted()) {
          throw new ServiceException(ErrorCode.CONFLICT, "the message was deleted");
        }
        if (editWindowSeconds > 0 && t.ageMillis() > editWindowSeconds * 1000L) {
          throw ServiceException.forbidden("the edit window (" + editWindowSeconds + " s) has passed");
        }
        return MessageStore.edit(conn, id, messageId, content).compose(editedAt -> {
          if (editedAt == null) {
            return MessageStore.one(conn, id, messageId).map(now -> {
              JsonObject same = reference(id, messageId).put("content", now.getValue("content"));
              if (now.getString("editedAt") != null) {
                same.put("editedAt", now.getString("editedAt"));
              }
              return new Change(null, same);
            });
          }
          JsonObject item = new JsonObject().put("event", Types.MESSAGE_EDITED).put("messageId", messageId.toString())
            .put("content", content).put("editedAt", Db.timestamp(editedAt));
          return record(conn, id, userId, item);
        });
      }))
      .recover(Db::failure)
      .map(change -> answer(id, Types.MESSAGE_EDITED, change));
  }

  /**
   * {@code delete_message {conversationId, messageId}}: the sender, or an owner or admin of the
   * group. The content goes, from the message and from its edits; the row stays as a tombstone.
   */
  Future<Envelope> delete(Command cmd) {
    UUID id = Fields.conversationId(cmd.payload(), "conversationId");
    UUID messageId = messageId(cmd.payload());
    String userId = cmd.userId();
    return pool.withTransaction(conn -> lock(conn, id, userId, messageId).compose(locked -> {
        MessageStore.Target t = locked.target();
        refuseSystem(t, "deleted");
        boolean moderator = "group".equals(locked.kind())
          && ("owner".equals(locked.role()) || "admin".equals(locked.role()));
        if (!t.senderId().equals(userId) && !moderator) {
          throw ServiceException.forbidden("only the sender, or an owner or admin of the group, may delete a message");
        }
        if (t.deleted()) {
          return Future.succeededFuture(new Change(null, reference(id, messageId).put("deleted", true)));
        }
        JsonObject item = new JsonObject().put("event", Types.MESSAGE_DELETED).put("messageId", messageId.toString());
        return MessageStore.erase(conn, id, messageId).compose(v -> record(conn, id, userId, item));
      }))
      .recover(Db::failure)
      .map(change -> answer(id, Types.MESSAGE_DELETED, change));
  }

  /** {@code react {conversationId, messageId, emoji, on}}: any member, one reaction per user per emoji. */
  Future<Envelope> react(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    UUID messageId = messageId(p);
    String emoji = emoji(p);
    Boolean on = Fields.optionalBoolean(p, "on");
    if (on == null) {
      throw ServiceException.invalid("'on' is required and must be a boolean");
    }
    String userId = cmd.userId();
    return pool.withTransaction(conn -> lock(conn, id, userId, messageId).compose(locked -> {
        MessageStore.Target t = locked.target();
        if ("system".equals(t.kind())) {
          throw ServiceException.invalid("a system item cannot have reactions");
        }
        if (t.deleted()) {
          throw new ServiceException(ErrorCode.CONFLICT, "the message was deleted");
        }
        return MessageStore.react(conn, messageId, emoji, userId, on)
          .compose(changed -> MessageStore.reactionCounts(conn, messageId, emoji).compose(counts -> {
            JsonObject item = new JsonObject().put("event", Types.REACTION_UPDATED).put("messageId", messageId.toString())
              .put("userId", userId).put("emoji", emoji).put("on", on).put("count", counts[0]);
            if (!changed) {
              JsonObject same = item.copy();
              same.remove("event");
              return Future.succeededFuture(new Change(null, same.put("conversationId", id.toString())));
            }
            if (counts[1] > MAX_EMOJI_KINDS) {
              // Rolls the insert back with the transaction.
              throw new ServiceException(ErrorCode.CONFLICT,
                "a message can carry at most " + MAX_EMOJI_KINDS + " different reactions");
            }
            return record(conn, id, userId, item);
          }));
      }))
      .recover(Db::failure)
      .map(change -> answer(id, Types.REACTION_UPDATED, change));
  }

  /**
   * Locks the conversation row (every timeline change takes it first), then checks: the
   * conversation exists (404), the caller is a current member (403), the message is one of its
   * (404).
   */
  private Future<Locked> lock(SqlConnection conn, UUID id, String userId, UUID messageId) {
    return ConversationStore.lock(conn, id)
      .compose(conversation -> ConversationStore.activeRole(conn, id, userId).compose(role -> {
        if (role == null) {
          return Future.failedFuture(ServiceException.forbidden("not a member of this conversation"));
        }
        return MessageStore.target(conn, id, messageId).map(target -> {
          if (target == null) {
            throw ServiceException.notFound("no such message in this conversation");
          }
          return new Locked(conversation.kind(), role, target);
        });
      }));
  }

  /**
   * Writes the change as the next timeline item, and its webhook event (edits and deletes, SPEC
   * §10) in the same transaction, with the live event's payload.
   */
  private Future<Change> record(SqlConnection conn, UUID id, String actorId, JsonObject content) {
    return ConversationStore.nextSeq(conn, id)
      .compose(seq -> MessageStore.insert(conn, MessageStore.system(id, actorId, content), seq))
      .compose(item -> {
        Envelope event = Timeline.event(item);
        String type = event.type();
        boolean hooked = (Outbox.MESSAGE_EDITED.equals(type) || Outbox.MESSAGE_DELETED.equals(type))
          && publisher.outbox().wants(type);
        return (hooked ? publisher.outbox().add(conn, type, Outbox.conversation(id), event.payload())
          : Future.<Void>succeededFuture()).map(v -> new Change(item, null));
      });
  }

  /** After the commit: publishes the item's event and answers with it; an unchanged state answers as it is. */
  private Envelope answer(UUID id, String type, Change change) {
    if (change.item() == null) {
      return Envelope.of(type, change.unchanged());
    }
    Envelope event = Timeline.event(change.item());
    if (Outbox.MESSAGE_EDITED.equals(event.type()) || Outbox.MESSAGE_DELETED.equals(event.type())) {
      publisher.webhooksDue();
    }
    publisher.publish(Addresses.conversation(id.toString()), event.type(), event.payload());
    return Envelope.of(type, event.payload());
  }

  private static void refuseSystem(MessageStore.Target t, String what) {
    if ("system".equals(t.kind())) {
      throw ServiceException.invalid("a system item cannot be " + what);
    }
  }

  private static JsonObject reference(UUID id, UUID messageId) {
    return new JsonObject().put("conversationId", id.toString()).put("messageId", messageId.toString());
  }

  /** A message id: a UUID; anything else cannot name a message (404, as conversation ids). */
  static UUID messageId(JsonObject p) {
    return Fields.uuid(Fields.requiredString(p, "messageId", 64), "message");
  }

  /**
   * An emoji: a Unicode emoji (a sequence with joiners and variation selectors is one) or a short
   * name such as {@code :party:}; 1 to 64 characters without spaces or control characters.
   */
  static String emoji(JsonObject p) {
    String emoji = Fields.requiredString(p, "emoji", MAX_EMOJI);
    for (int i = 0; i < emoji.length(); ) {
      int c = emoji.codePointAt(i);
      if (Character.isWhitespace(c) || Character.isSpaceChar(c) || Character.getType(c) == Character.CONTROL) {
        throw ServiceException.invalid("'emoji' must not contain spaces or control characters");
      }
      i += Character.charCount(c);
    }
    return emoji;
  }
}
