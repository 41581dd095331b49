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
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Owns the timeline rules (SPEC §3): only members write or read, a gapless per-conversation seq
 * allocated in the transaction of the insert, idempotent sends per (sender, clientMessageId),
 * history pages, and read positions that never go backwards.
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

  public MessageVerticle(Pool pool, SwitchboardConfig.Limits limits) {
    this.pool = pool;
    this.limits = limits;
  }

  @Override
  public Future<?> start() {
    handle(Types.SEND_MESSAGE, this::send);
    handle(Types.LOAD_MESSAGES, this::load);
    handle(Types.LOAD_MORE_MESSAGES, this::load);
    handle(Types.MARK_READ, this::markRead);
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
      .compose(last -> Future.failedFuture(m.replyTo() != null && last != null && m.replyTo() > last
        ? ServiceException.invalid("'replyTo' must be the seq of an earlier item")
        : ServiceException.forbidden("not a member of this conversation")));
  }

  private MessageStore.NewMessage parseSend(Command cmd) {
    JsonObject p = cmd.payload();
    UUID conversationId = Fields.conversationId(p, "conversationId");
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
    return new MessageStore.NewMessage(conversationId, cmd.userId(), kind, content, replyTo, clientMessageId);
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
      .recover(Db::failure)
      .map(messages -> Envelope.of(Types.MESSAGES_LOADED, new JsonObject()
        .put("conversationId", id.toString())
        .put("messages", MessageStore.array(messages))));
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
