package io.switchboard.message;

import io.switchboard.config.SwitchboardConfig;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.switchboard.store.MessageStore;
import io.switchboard.webhook.Outbox;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Owns the timeline rules (SPEC §3, §3b): only members write or read, a gapless per-conversation
 * seq allocated in the transaction of the insert, idempotent sends per (sender, clientMessageId),
 * history pages, read positions that never go backwards; and a message's later life: edits,
 * deletes (the content erased), reactions and threads, each change a timeline item of its own,
 * and full-text search over what the reader can read.
 */
public final class MessageVerticle extends ServiceVerticle {

  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 200;
  static final int MAX_CLIENT_MESSAGE_ID = 128;
  private static final Pattern KIND = Pattern.compile("[a-z][a-z0-9_.-]{0,31}");

  /** The typing service runs on every node that runs this one. */
  private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);

  private final Pool pool;
  private final SwitchboardConfig.Limits limits;
  private final MessageLife life;
  private final Search search;

  /**
   * @param editWindowSeconds how long after sending a message its sender may edit it
   *                          ({@code messages.editWindowSeconds}; 0 = always)
   */
  public MessageVerticle(Pool pool, SwitchboardConfig.Limits limits, int editWindowSeconds) {
    this.pool = pool;
    this.limits = limits;
    this.life = new MessageLife(pool, editWindowSeconds, new MessageLife.Publisher() {
      @Override
      public void publish(String address, String type, JsonObject payload) {
        MessageVerticle.this.publish(address, type, payload);
      }

      @Override
      public Outbox outbox() {
        return MessageVerticle.this.outbox();
      }

      @Override
      public void webhooksDue() {
        MessageVerticle.this.webhooksDue();
      }
    });
    this.search = new Search(pool);
  }

  @Override
  public Future<?> start() {
    handle(Types.SEND_MESSAGE, this::send);
    handle(Types.LOAD_MESSAGES, this::load);
    handle(Types.LOAD_MORE_MESSAGES, this::load);
    handle(Types.MARK_READ, this::markRead);
    handle(Types.EDIT_MESSAGE, cmd -> life.edit(cmd, parseContent(cmd.payload())));
    handle(Types.DELETE_MESSAGE, life::delete);
    handle(Types.REACT, life::react);
    handle(Types.LOAD_THREAD, this::loadThread);
    handle(Types.SEARCH_MESSAGES, search::search);
    return registered();
  }

  private Future<Envelope> send(Command cmd) {
    MessageStore.NewMessage m = parseSend(cmd);
    return insert(m)
      .recover(Db::failure)
      .map(sent -> {
        if (!sent.message().getString("conversationId").equals(m.conversationId().toString())) {
          throw new ServiceException(ErrorCode.CONFLICT, "'clientMessageId' was already used in another conversation");
        }
        if (sent.isNew()) {
          webhooksDue();
          publish(Addresses.conversation(m.conversationId().toString()), Types.MESSAGE_RECEIVED, sent.message());
          // Sending a message ends the sender's typing there (SPEC §4); fire and forget.
          vertx.eventBus().send(Addresses.command(Types.TYPING_STOP), new Command(Types.TYPING_STOP, cmd.principal(),
            new JsonObject().put("conversationId", m.conversationId().toString())).toJson(), LOCAL);
        }
        return Envelope.of(Types.MESSAGE_SENT, sent.message());
      });
  }

  /**
   * One statement allocates the seq (checking membership under the conversation's row lock),
   * inserts, and marks the sender's own message read. A retry of a clientMessageId already used
   * fails that statement as a whole, so no seq is burnt, and returns the original. When nothing
   * was written, a second read says why (no such conversation, not a member, a bad replyTo).
   */
  private Future<Sent> insert(MessageStore.NewMessage m) {
    return MessageStore.send(pool, m, outbox().endpoints(Outbox.MESSAGE_CREATED), outbox().unseenDelay())
      .compose(msg -> msg != null ? Future.succeededFuture(new Sent(msg, true)) : refused(m))
      .recover(t -> m.clientMessageId() != null && MessageStore.isDuplicate(t)
        ? MessageStore.findByClientId(pool, m.senderId(), m.clientMessageId()).compose(found -> found == null
          ? Future.failedFuture(t) : Future.succeededFuture(new Sent(found, false)))
        : Future.failedFuture(t));
  }

  private Future<Sent> refused(MessageStore.NewMessage m) {
    return ConversationStore.requireMember(pool, m.conversationId(), m.senderId())
      .compose(v -> MessageStore.lastSeq(pool, m.conversationId()))
      .compose(last -> {
        if (m.replyTo() != null && last != null && m.replyTo() > last) {
          return Future.failedFuture(ServiceException.invalid("'replyTo' must be the seq of an earlier item"));
        }
        if (m.threadId() == null) {
          return Future.failedFuture(ServiceException.forbidden("not a member of this conversation"));
        }
        return MessageStore.threadRoot(pool, m.conversationId(), m.threadId()).compose(root -> Future.failedFuture(root
          ? ServiceException.forbidden("not a member of this conversation")
          : ServiceException.invalid("'threadId' must be the id of a message of this conversation that is not itself"
            + " a thread reply")));
      });
  }

  private MessageStore.NewMessage parseSend(Command cmd) {
    JsonObject p = cmd.payload();
    UUID conversationId = Fields.conversationId(p, "conversationId");
    Object content = parseContent(p);
    String kind = Fields.optionalString(p, "kind", 32);
    if (kind == null) {
      kind = "text";
    } else if (!KIND.matcher(kind).matches() || "system".equals(kind)) {
      throw ServiceException.invalid("'kind' must match [a-z][a-z0-9_.-]* and not be \"system\"");
    }
    Long replyTo = Fields.optionalLong(p, "replyTo", 1, Long.MAX_VALUE);
    String clientMessageId = Fields.optionalString(p, "clientMessageId", MAX_CLIENT_MESSAGE_ID);
    if (clientMessageId != null && clientMessageId.isEmpty()) {
      throw ServiceException.invalid("'clientMessageId' must not be empty");
    }
    String thread = Fields.optionalString(p, "threadId", 64);
    UUID threadId = null;
    if (thread != null) {
      try {
        threadId = UUID.fromString(thread);
      } catch (IllegalArgumentException e) {
        throw ServiceException.invalid("'threadId' must be the id of a message");
      }
    }
    return new MessageStore.NewMessage(conversationId, cmd.userId(), kind, content, replyTo, clientMessageId, threadId);
  }

  /** A message's content, sent or edited: a non-empty string or an object, within {@code limits.messageBytes}. */
  private Object parseContent(JsonObject p) {
    Object content = p.getValue("content");
    if (content == null) {
      throw ServiceException.invalid("'content' is required");
    }
    if (content instanceof String s && s.isEmpty()) {
      throw ServiceException.invalid("'content' must not be empty");
    }
    if (!(content instanceof String) && !(content instanceof JsonObject)) {
      throw ServiceException.invalid("'content' must be a string or an object");
    }
    int bytes = content instanceof String s ? s.getBytes(StandardCharsets.UTF_8).length
      : Json.encode(content).getBytes(StandardCharsets.UTF_8).length;
    if (bytes > limits.messageBytes()) {
      throw ServiceException.tooLarge("'content' is larger than " + limits.messageBytes() + " bytes");
    }
    return content;
  }

  private Future<Envelope> load(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    Long before = Fields.optionalLong(p, "before", 1, Long.MAX_VALUE);
    Long after = Fields.optionalLong(p, "after", 0, Long.MAX_VALUE);
    Long limit = Fields.optionalLong(p, "limit", 1, MAX_LIMIT);
    int n = limit == null ? DEFAULT_LIMIT : limit.intValue();
    return ConversationStore.requireMember(pool, id, cmd.userId())
      .compose(v -> MessageStore.page(pool, id, before, after, n))
      .compose(messages -> MessageStore.withReactions(pool, messages, cmd.userId()))
      .recover(Db::failure)
      .map(messages -> Envelope.of(Types.MESSAGES_LOADED, new JsonObject()
        .put("conversationId", id.toString())
        .put("messages", MessageStore.array(messages))));
  }

  /** A thread's replies, paged by seq as history is, with its root as it is now. */
  private Future<Envelope> loadThread(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    UUID threadId = Fields.uuid(Fields.requiredString(p, "threadId", 64), "message");
    Long before = Fields.optionalLong(p, "before", 1, Long.MAX_VALUE);
    Long after = Fields.optionalLong(p, "after", 0, Long.MAX_VALUE);
    Long limit = Fields.optionalLong(p, "limit", 1, MAX_LIMIT);
    int n = limit == null ? DEFAULT_LIMIT : limit.intValue();
    String userId = cmd.userId();
    return ConversationStore.requireMember(pool, id, userId)
      .compose(v -> MessageStore.one(pool, id, threadId))
      .compose(root -> {
        if (root == null || "system".equals(root.getString("kind"))) {
          return Future.failedFuture(ServiceException.notFound("no such message"));
        }
        return MessageStore.threadPage(pool, id, threadId, before, after, n).compose(replies -> {
          List<JsonObject> all = new ArrayList<>(replies);
          all.add(root);
          return MessageStore.withReactions(pool, all, userId).map(v -> Envelope.of(Types.MESSAGES_LOADED,
            new JsonObject()
              .put("conversationId", id.toString())
              .put("threadId", threadId.toString())
              .put("root", root)
              .put("messages", MessageStore.array(replies))));
        });
      })
      .recover(Db::failure);
  }

  private Future<Envelope> markRead(Command cmd) {
    JsonObject p = cmd.payload();
    UUID id = Fields.conversationId(p, "conversationId");
    long seq = Fields.requiredLong(p, "seq", 0, Long.MAX_VALUE);
    String userId = cmd.userId();
    return MessageStore.markRead(pool, id, userId, seq)
      .compose(positions -> positions != null
        ? Future.succeededFuture(positions)
        : ConversationStore.requireMember(pool, id, userId).map(v -> {
          throw ServiceException.forbidden("not a member of this conversation");
        }))
      .compose(positions -> MessageStore.unreadCount(pool, id, userId).map(unread -> {
        JsonObject receipt = new JsonObject()
          .put("conversationId", id.toString())
          .put("userId", userId)
          .put("seq", positions[0]);
        if (positions[0] > positions[1]) {
          publish(Addresses.conversation(id.toString()), Types.RECEIPT, receipt);
        }
        return Envelope.of(Types.RECEIPT, receipt.copy().put("unreadCount", unread));
      }))
      .recover(Db::failure);
  }

  /** A stored message and whether this request created it. */
  private record Sent(JsonObject message, boolean isNew) {
  }

}
