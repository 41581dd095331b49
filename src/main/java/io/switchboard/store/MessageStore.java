package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** SQL of the timeline: messages (user and system) and read positions (DESIGN §3). */
public final class MessageStore {

  static final String COLUMNS = "conversation_id, seq, id, sender_id, kind, content::text AS content, reply_to,"
    + " client_message_id, created_at, thread_id, edited_at, deleted_at, thread_replies, thread_last_at";
  static final String BY_CLIENT_ID =
    "SELECT " + COLUMNS + " FROM messages WHERE sender_id = $1 AND client_message_id = $2";
  /** Allocates the next seq only when the sender is a current member: one statement, one row lock. */
  static final String NEXT_SEQ_FOR_MEMBER = """
    UPDATE conversations SET last_seq = last_seq + 1, updated_at = now()
    WHERE id = $1 AND EXISTS (
      SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL)
    RETURNING last_seq""";
  static final String INSERT = """
    INSERT INTO messages (conversation_id, seq, id, sender_id, kind, content, reply_to, client_message_id)
    VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8)
    ON CONFLICT (sender_id, client_message_id) DO NOTHING
    RETURNING created_at""";
  /**
   * A whole send in one statement (DESIGN §11): the seq is allocated only when the sender is a
   * current member and {@code replyTo} names an earlier item, under the conversation's row lock;
   * the message is inserted; the sender has read it. A retried (sender, clientMessageId) fails the
   * statement with a unique violation, which rolls all of it back: no seq is used up.
   */
  static final String SEND_WRITES = """
    WITH c AS (
      UPDATE conversations SET last_seq = last_seq + 1, updated_at = now()
      WHERE id = $1 AND ($7::bigint IS NULL OR $7 <= last_seq) AND EXISTS (
        SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL)
        AND ($8::uuid IS NULL OR EXISTS (
          SELECT 1 FROM messages t WHERE t.id = $8 AND t.conversation_id = $1 AND t.kind <> 'system'
            AND t.thread_id IS NULL))
      RETURNING last_seq),
    m AS (
      INSERT INTO messages (conversation_id, seq, id, sender_id, kind, content, reply_to, client_message_id, thread_id)
      SELECT $1, c.last_seq, $3, $2, $4, $5::text::jsonb, $7, $6, $8 FROM c
      RETURNING seq, created_at),
    r AS (
      UPDATE members SET last_read_seq = GREATEST(last_read_seq, (SELECT seq FROM m))
      WHERE conversation_id = $1 AND user_id = $2 AND EXISTS (SELECT 1 FROM m)),
    t AS (
      UPDATE messages SET thread_replies = thread_replies + 1, thread_last_at = now()
      WHERE id = $8 AND EXISTS (SELECT 1 FROM m))""";
  static final String SEND = SEND_WRITES + "\n    SELECT seq, created_at FROM m";
  /**
   * The same statement with the webhook outbox's rows ({@code $9} endpoints of
   * {@code message_created}, {@code $10} the {@code message_unseen} delay or null): still one
   * statement, so the event exists exactly when the message does (SPEC §10).
   */
  static final String SEND_WITH_WEBHOOKS = SEND_WRITES + WebhookStore.SEND_OUTBOX + "\n    SELECT seq, created_at FROM m";
  /** Whether a thread root can take replies: a message of the conversation, not a system item, not in a thread itself. */
  static final String THREAD_ROOT = """
    SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2 AND kind <> 'system'
      AND thread_id IS NULL)""";
  static final String LAST_SEQ = "SELECT last_seq FROM conversations WHERE id = $1";
  static final String READ_OWN = """
    UPDATE members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE conversation_id = $1 AND user_id = $2""";
  static final String LATEST =
    "SELECT " + COLUMNS + " FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2";
  static final String BEFORE =
    "SELECT " + COLUMNS + " FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";
  static final String AFTER =
    "SELECT " + COLUMNS + " FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";
  static final String BETWEEN = "SELECT " + COLUMNS
    + " FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq ASC LIMIT $4";
  /** Moves a read position forward only, never past the last seq; returns the new and the old one. */
  static final String MARK_READ = """
    WITH old AS (
      SELECT m.last_read_seq FROM members m
      WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.left_seq IS NULL FOR UPDATE)
    UPDATE members m SET last_read_seq = GREATEST(m.last_read_seq, LEAST($3, c.last_seq))
    FROM conversations c, old
    WHERE m.conversation_id = $1 AND m.user_id = $2 AND c.id = $1
    RETURNING m.last_read_seq, old.last_read_seq AS previous""";
  static final String UNREAD = """
    SELECT count(*) FROM messages x JOIN members m ON m.conversation_id = x.conversation_id AND m.user_id = $2
    WHERE x.conversation_id = $1 AND x.seq > m.last_read_seq AND x.sender_id <> $2 AND x.kind <> 'system'""";

  private MessageStore() {
  }

  /** A message to insert at an allocated seq; {@code threadId} names the root of the thread it replies in. */
  public record NewMessage(UUID conversationId, String senderId, String kind, Object content, Long replyTo,
                           String clientMessageId, UUID threadId) {

    public NewMessage(UUID conversationId, String senderId, String kind, Object content, Long replyTo,
                      String clientMessageId) {
      this(conversationId, senderId, kind, content, replyTo, clientMessageId, null);
    }
  }

  public static Future<JsonObject> findByClientId(SqlClient db, String senderId, String clientMessageId) {
    return db.preparedQuery(BY_CLIENT_ID).execute(Tuple.of(senderId, clientMessageId))
      .map(rows -> rows.size() == 0 ? null : json(rows.iterator().next()));
  }

  /** The next seq when the sender is a member, or null when not (or no such conversation). */
  public static Future<Long> nextSeqForMember(SqlConnection conn, UUID conversationId, String userId) {
    return conn.preparedQuery(NEXT_SEQ_FOR_MEMBER).execute(Tuple.of(conversationId, userId))
      .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getLong(0));
  }

  /** Inserts at {@code seq}; null when the (sender, clientMessageId) pair already exists. */
  public static Future<JsonObject> insert(SqlConnection conn, NewMessage m, long seq) {
    UUID id = UUID.randomUUID();
    Tuple params = Tuple.tuple()
      .addValue(m.conversationId()).addLong(seq).addValue(id).addString(m.senderId()).addString(m.kind())
      .addString(Json.encode(m.content())).addValue(m.replyTo()).addString(m.clientMessageId());
    return conn.preparedQuery(INSERT).execute(params).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      JsonObject out = new JsonObject()
        .put("id", id.toString())
        .put("conversationId", m.conversationId().toString())
        .put("seq", seq)
        .put("senderId", m.senderId())
        .put("kind", m.kind())
        .put("content", m.content());
      if (m.replyTo() != null) {
        out.put("replyTo", m.replyTo());
      }
      if (m.clientMessageId() != null) {
        out.put("clientMessageId", m.clientMessageId());
      }
      return out.put("createdAt", Db.timestamp(rows.iterator().next().getOffsetDateTime(0)));
    });
  }

  /**
   * Sends in one statement; completes with the message, or null when nothing was written (not a
   * member, no such conversation, or a {@code replyTo} that is not an earlier item). Fails with
   * PostgreSQL's unique violation (23505) when the (sender, clientMessageId) pair exists.
   */
  public static Future<JsonObject> send(SqlClient db, NewMessage m) {
    return send(db, m, new String[0], null);
  }

  /**
   * As {@link #send(SqlClient, NewMessage)}, writing in the same statement the webhook rows of
   * {@code message_created} for {@code webhookEndpoints} and, when {@code unseenDelaySeconds} is
   * set, the {@code message_unseen} check.
   */
  public static Future<JsonObject> send(SqlClient db, NewMessage m, String[] webhookEndpoints, Integer unseenDelaySeconds) {
    UUID id = UUID.randomUUID();
    Tuple params = Tuple.tuple()
      .addValue(m.conversationId()).addString(m.senderId()).addValue(id).addString(m.kind())
      .addString(Json.encode(m.content())).addString(m.clientMessageId()).addValue(m.replyTo())
      .addValue(m.threadId());
    boolean hooked = webhookEndpoints.length > 0 || unseenDelaySeconds != null;
    if (hooked) {
      params.addArrayOfString(webhookEndpoints).addValue(unseenDelaySeconds);
    }
    return db.preparedQuery(hooked ? SEND_WITH_WEBHOOKS : SEND).execute(params).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row row = rows.iterator().next();
      JsonObject out = new JsonObject()
        .put("id", id.toString())
        .put("conversationId", m.conversationId().toString())
        .put("seq", row.getLong(0))
        .put("senderId", m.senderId())
        .put("kind", m.kind())
        .put("content", m.content());
      if (m.replyTo() != null) {
        out.put("replyTo", m.replyTo());
      }
      if (m.clientMessageId() != null) {
        out.put("clientMessageId", m.clientMessageId());
      }
      out.put("createdAt", Db.timestamp(row.getOffsetDateTime(1)));
      if (m.threadId() != null) {
        out.put("threadId", m.threadId().toString());
      }
      return out;
    });
  }

  /** Whether {@code threadId} is a message of the conversation that can be a thread's root (why a send wrote nothing). */
  public static Future<Boolean> threadRoot(SqlClient db, UUID conversationId, UUID threadId) {
    return db.preparedQuery(THREAD_ROOT).execute(Tuple.of(threadId, conversationId))
      .map(rows -> rows.iterator().next().getBoolean(0));
  }

  /** True when the failure is the unique violation of a (sender, clientMessageId) already used. */
  public static boolean isDuplicate(Throwable t) {
    return t instanceof io.vertx.pgclient.PgException pg && "23505".equals(pg.getSqlState());
  }

  /** The last seq of a conversation, or null when there is none (why a send wrote nothing). */
  public static Future<Long> lastSeq(SqlClient db, UUID conversationId) {
    return db.preparedQuery(LAST_SEQ).execute(Tuple.of(conversationId))
      .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getLong(0));
  }

  /** A sender has read their own message. */
  public static Future<Void> readOwn(SqlConnection conn, UUID conversationId, String userId, long seq) {
    return conn.preparedQuery(READ_OWN).execute(Tuple.of(conversationId, userId, seq)).mapEmpty();
  }

  /**
   * A page of the timeline in ascending seq order: the {@code limit} items before {@code before},
   * after {@code after}, between both, or the latest.
   */
  public static Future<List<JsonObject>> page(SqlClient db, UUID conversationId, Long before, Long after, int limit) {
    Future<RowSet<Row>> rows;
    boolean descending;
    if (before != null && after != null) {
      rows = db.preparedQuery(BETWEEN).execute(Tuple.of(conversationId, after, before, limit));
      descending = false;
    } else if (before != null) {
      rows = db.preparedQuery(BEFORE).execute(Tuple.of(conversationId, before, limit));
      descending = true;
    } else if (after != null) {
      rows = db.preparedQuery(AFTER).execute(Tuple.of(conversationId, after, limit));
      descending = false;
    } else {
      rows = db.preparedQuery(LATEST).execute(Tuple.of(conversationId, limit));
      descending = true;
    }
    return rows.map(set -> ascending(set, descending));
  }

  /** Moves the read position forward; null when the caller is not a current member. */
  public static Future<long[]> markRead(SqlClient db, UUID conversationId, String userId, long seq) {
    return db.preparedQuery(MARK_READ).execute(Tuple.of(conversationId, userId, seq)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row r = rows.iterator().next();
      return new long[] {r.getLong(0), r.getLong(1)};
    });
  }

  public static Future<Long> unreadCount(SqlClient db, UUID conversationId, String userId) {
    return db.preparedQuery(UNREAD).execute(Tuple.of(conversationId, userId))
      .map(rows -> rows.iterator().next().getLong(0));
  }

  // ---- the life of a message after it was sent (SPEC §3b) ----

  /** A message as the rules of its later life need it, read under the conversation's row lock. */
  public record Target(UUID id, long seq, String senderId, String kind, boolean deleted, UUID threadId,
                       long ageMillis) {
  }

  static final String TARGET = """
    SELECT id, seq, sender_id, kind, deleted_at IS NOT NULL, thread_id,
      (extract(epoch FROM now() - created_at) * 1000)::bigint
    FROM messages WHERE id = $1 AND conversation_id = $2""";
  /** The new content, when it differs from the current one; the edit time is the transaction's. */
  static final String EDIT = """
    UPDATE messages SET content = $3::text::jsonb, edited_at = now()
    WHERE id = $1 AND conversation_id = $2 AND content IS DISTINCT FROM $3::text::jsonb
    RETURNING edited_at""";
  /** A delete erases the content: the row stays as a tombstone, so its seq stays in the timeline. */
  static final String ERASE = "UPDATE messages SET content = NULL, deleted_at = now() WHERE id = $1 AND conversation_id = $2";
  /** The edit items of a deleted message lose the text they carried (index messages_edits). */
  static final String ERASE_EDITS = """
    UPDATE messages SET content = content - 'content'
    WHERE kind = 'system' AND content ->> 'event' = 'message_edited' AND content ->> 'messageId' = $1
      AND conversation_id = $2""";
  static final String DROP_REACTIONS = "DELETE FROM reactions WHERE message_id = $1";
  static final String REACT_ON = "INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
  static final String REACT_OFF = "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3";
  /** How many users reacted with this emoji, and how many different emoji the message carries. */
  static final String REACTION_COUNTS = """
    SELECT count(*) FILTER (WHERE emoji = $2), count(DISTINCT emoji) FROM reactions WHERE message_id = $1""";
  /** The reactions of some messages, for one reader: each emoji in the order it first appeared. */
  static final String REACTIONS = """
    SELECT message_id, emoji, count(*)::int, bool_or(user_id = $2) FROM reactions
    WHERE message_id = ANY($1) GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji""";
  static final String ONE = "SELECT " + COLUMNS + " FROM messages WHERE id = $1 AND conversation_id = $2";
  static final String THREAD_LATEST = "SELECT " + COLUMNS
    + " FROM messages WHERE conversation_id = $1 AND thread_id = $2 ORDER BY seq DESC LIMIT $3";
  static final String THREAD_BEFORE = "SELECT " + COLUMNS
    + " FROM messages WHERE conversation_id = $1 AND thread_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
  static final String THREAD_AFTER = "SELECT " + COLUMNS
    + " FROM messages WHERE conversation_id = $1 AND thread_id = $2 AND seq > $3 ORDER BY seq ASC LIMIT $4";
  static final String THREAD_BETWEEN = "SELECT " + COLUMNS
    + " FROM messages WHERE conversation_id = $1 AND thread_id = $2 AND seq > $3 AND seq < $4 ORDER BY seq ASC LIMIT $5";

  /** The message {@code messageId} of the conversation, or null when it has none by that id. */
  public static Future<Target> target(SqlClient db, UUID conversationId, UUID messageId) {
    return db.preparedQuery(TARGET).execute(Tuple.of(messageId, conversationId)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row r = rows.iterator().next();
      return new Target(r.getUUID(0), r.getLong(1), r.getString(2), r.getString(3), r.getBoolean(4), r.getUUID(5),
        r.getLong(6));
    });
  }

  /** Replaces the content; completes with the edit time, or null when the content is the same. */
  public static Future<OffsetDateTime> edit(SqlConnection conn, UUID conversationId, UUID messageId, Object content) {
    return conn.preparedQuery(EDIT).execute(Tuple.of(messageId, conversationId, Json.encode(content)))
      .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getOffsetDateTime(0));
  }

  /** Makes a message a tombstone: its content, the text of its edits and its reactions are gone. */
  public static Future<Void> erase(SqlConnection conn, UUID conversationId, UUID messageId) {
    return conn.preparedQuery(ERASE).execute(Tuple.of(messageId, conversationId))
      .compose(v -> conn.preparedQuery(ERASE_EDITS).execute(Tuple.of(messageId.toString(), conversationId)))
      .compose(v -> conn.preparedQuery(DROP_REACTIONS).execute(Tuple.of(messageId)))
      .mapEmpty();
  }

  /** Adds or removes one user's reaction; true when that changed anything. */
  public static Future<Boolean> react(SqlConnection conn, UUID messageId, String emoji, String userId, boolean on) {
    return conn.preparedQuery(on ? REACT_ON : REACT_OFF).execute(Tuple.of(messageId, emoji, userId))
      .map(rows -> rows.rowCount() > 0);
  }

  /** {users who reacted with {@code emoji}, different emoji on the message}. */
  public static Future<long[]> reactionCounts(SqlClient db, UUID messageId, String emoji) {
    return db.preparedQuery(REACTION_COUNTS).execute(Tuple.of(messageId, emoji)).map(rows -> {
      Row r = rows.iterator().next();
      return new long[] {r.getLong(0), r.getLong(1)};
    });
  }

  /** One message as it is now, or null. */
  public static Future<JsonObject> one(SqlClient db, UUID conversationId, UUID messageId) {
    return db.preparedQuery(ONE).execute(Tuple.of(messageId, conversationId))
      .map(rows -> rows.size() == 0 ? null : json(rows.iterator().next()));
  }

  /** A page of a thread's replies, in ascending seq order, as {@link #page} pages the timeline. */
  public static Future<List<JsonObject>> threadPage(SqlClient db, UUID conversationId, UUID threadId, Long before,
                                                    Long after, int limit) {
    Future<RowSet<Row>> rows;
    boolean descending;
    if (before != null && after != null) {
      rows = db.preparedQuery(THREAD_BETWEEN).execute(Tuple.of(conversationId, threadId, after, before, limit));
      descending = false;
    } else if (before != null) {
      rows = db.preparedQuery(THREAD_BEFORE).execute(Tuple.of(conversationId, threadId, before, limit));
      descending = true;
    } else if (after != null) {
      rows = db.preparedQuery(THREAD_AFTER).execute(Tuple.of(conversationId, threadId, after, limit));
      descending = false;
    } else {
      rows = db.preparedQuery(THREAD_LATEST).execute(Tuple.of(conversationId, threadId, limit));
      descending = true;
    }
    return rows.map(set -> ascending(set, descending));
  }

  private static List<JsonObject> ascending(RowSet<Row> set, boolean descending) {
    List<JsonObject> out = new ArrayList<>(set.size());
    set.forEach(r -> out.add(json(r)));
    if (descending) {
      Collections.reverse(out);
    }
    return out;
  }

  /**
   * Adds {@code reactions: [{emoji, count, me}]} to each message that has any, {@code me} for
   * {@code readerId}: one statement for the whole page.
   */
  public static Future<List<JsonObject>> withReactions(SqlClient db, List<JsonObject> messages, String readerId) {
    Map<String, JsonObject> byId = new HashMap<>();
    for (JsonObject m : messages) {
      if (!"system".equals(m.getString("kind")) && !m.getBoolean("deleted", false)) {
        byId.put(m.getString("id"), m);
      }
    }
    if (byId.isEmpty()) {
      return Future.succeededFuture(messages);
    }
    UUID[] ids = byId.keySet().stream().map(UUID::fromString).toArray(UUID[]::new);
    return db.preparedQuery(REACTIONS).execute(Tuple.of(ids, readerId)).map(rows -> {
      for (Row r : rows) {
        JsonObject m = byId.get(r.getUUID(0).toString());
        JsonArray reactions = m.getJsonArray("reactions");
        if (reactions == null) {
          reactions = new JsonArray();
          m.put("reactions", reactions);
        }
        reactions.add(new JsonObject().put("emoji", r.getString(1)).put("count", r.getInteger(2)).put("me", r.getBoolean(3)));
      }
      return messages;
    });
  }

  /** A system timeline item: a change of the conversation made by {@code actorId}, described by {@code content}. */
  public static NewMessage system(UUID conversationId, String actorId, JsonObject content) {
    return new NewMessage(conversationId, actorId, "system", content, null, null);
  }

  /** A system timeline item for a membership change. */
  public static NewMessage system(UUID conversationId, String userId, String event) {
    return new NewMessage(conversationId, userId, "system",
      new JsonObject().put("event", event).put("userId", userId), null, null);
  }

  /**
   * A message as it is now (SPEC §3b). The fields of its later life appear once they have a value:
   * {@code editedAt} after an edit, {@code deleted: true} (and {@code content: null}) after a
   * delete, {@code threadId} on a thread reply, {@code threadReplies} and {@code threadLastAt} on
   * a thread root. Reactions are added by {@link #withReactions}, for the reader.
   */
  static JsonObject json(Row r) {
    String content = r.getString("content");
    JsonObject out = new JsonObject()
      .put("id", r.getUUID("id").toString())
      .put("conversationId", r.getUUID("conversation_id").toString())
      .put("seq", r.getLong("seq"))
      .put("senderId", r.getString("sender_id"))
      .put("kind", r.getString("kind"))
      .put("content", content == null ? null : Json.decodeValue(content));
    Long replyTo = r.getLong("reply_to");
    if (replyTo != null) {
      out.put("replyTo", replyTo);
    }
    String clientId = r.getString("client_message_id");
    if (clientId != null) {
      out.put("clientMessageId", clientId);
    }
    out.put("createdAt", Db.timestamp(r.getOffsetDateTime("created_at")));
    UUID threadId = r.getUUID("thread_id");
    if (threadId != null) {
      out.put("threadId", threadId.toString());
    }
    OffsetDateTime editedAt = r.getOffsetDateTime("edited_at");
    if (editedAt != null) {
      out.put("editedAt", Db.timestamp(editedAt));
    }
    if (r.getOffsetDateTime("deleted_at") != null) {
      out.put("deleted", true);
    }
    int replies = r.getInteger("thread_replies");
    if (replies > 0) {
      out.put("threadReplies", replies).put("threadLastAt", Db.timestamp(r.getOffsetDateTime("thread_last_at")));
    }
    return out;
  }

  /** Messages as a JSON array. */
  public static JsonArray array(List<JsonObject> messages) {
    return new JsonArray(new ArrayList<>(messages));
  }
}
