package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * SQL of stream sessions and replay (DESIGN §4). Each statement starts with a comment naming it,
 * which PostgreSQL keeps in {@code pg_stat_statements} and {@code pg_stat_activity}. Every statement a stream open runs is backed by
 * an index ({@code StreamQueryPlanTest} shows it with {@code EXPLAIN}): a fresh connect runs
 * {@link #ACTIVE} and {@link #SNAPSHOT}; a resume {@link #MEMBERSHIPS} and {@link #SESSION}
 * (pipelined), then {@link #REPLAY}, and {@link #INSERT} only when its session must be renewed.
 */
public final class StreamStore {

  /** The conversations a user is in now (what a stream follows). */
  static final String ACTIVE = "/* stream.active */ SELECT conversation_id FROM members WHERE user_id = $1 AND left_seq IS NULL";
  /** Every membership of a user, left ones too (a cursor may name a conversation left since). */
  static final String MEMBERSHIPS = """
    /* stream.memberships */ SELECT m.conversation_id, m.joined_seq, m.left_seq, c.kind, c.name, c.last_seq FROM members m
    JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1""";
  /** The session, and whether it belongs to the database's current epoch (V7: a restored backup starts a new one). */
  static final String SESSION = """
    /* stream.session */ SELECT user_id, positions::text, created_at > now() - make_interval(secs => $2) AS fresh,
           extract(epoch FROM now() - created_at)::bigint AS age,
           epoch IS NOT DISTINCT FROM (SELECT value FROM switchboard_meta WHERE key = 'epoch') AS current
    FROM stream_sessions WHERE id = $1""";
  /**
   * A new session whose snapshot is the last seq of each of the user's conversations, read and
   * written in one statement.
   */
  static final String SNAPSHOT = """
    /* stream.snapshot */ INSERT INTO stream_sessions (id, user_id, positions, epoch)
    SELECT $1, $2, COALESCE(jsonb_object_agg(c.id::text, c.last_seq), '{}'::jsonb),
           (SELECT value FROM switchboard_meta WHERE key = 'epoch')
    FROM members m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.user_id = $2 AND m.left_seq IS NULL
    RETURNING positions::text""";
  static final String INSERT = """
    /* stream.insert */ INSERT INTO stream_sessions (id, user_id, positions, epoch)
    VALUES ($1, $2, $3::text::jsonb, (SELECT value FROM switchboard_meta WHERE key = 'epoch'))""";
  static final String EXPIRE = "/* stream.expire */ DELETE FROM stream_sessions WHERE created_at < now() - make_interval(secs => $1)";
  /** Items after each position (or from the join), up to the leave for conversations left since. */
  static final String REPLAY = """
    /* stream.replay */ WITH pos AS (SELECT key::uuid AS conversation_id, value::bigint AS seq FROM jsonb_each_text($2::text::jsonb)),
    m AS (
      SELECT mm.conversation_id, mm.left_seq, COALESCE(pos.seq, GREATEST(mm.joined_seq - 1, 0)) AS from_seq
      FROM members mm LEFT JOIN pos ON pos.conversation_id = mm.conversation_id
      WHERE mm.user_id = $1 AND (pos.seq IS NOT NULL OR mm.left_seq IS NULL))
    SELECT x.conversation_id, x.seq, x.id, x.sender_id, x.kind, x.content::text AS content, x.reply_to,
           x.client_message_id, x.created_at, x.thread_id, x.edited_at, x.deleted_at, x.thread_replies,
           x.thread_last_at
    FROM m JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.from_seq
      AND (m.left_seq IS NULL OR x.seq <= m.left_seq)
    ORDER BY x.conversation_id, x.seq
    LIMIT $3""";
  /** The last seq of each of some conversations (the delivery sweep). */
  static final String LAST_SEQS = "/* stream.last_seqs */ SELECT id, last_seq FROM conversations WHERE id = ANY($1)";

  private StreamStore() {
  }

  /**
   * A membership of the streaming user, with the conversation's last seq when it was read: a
   * cursor position beyond it cannot be resumed (history truncated, or a database restored from
   * an older backup).
   */
  public record Membership(UUID conversationId, long joinedSeq, Long leftSeq, String kind, String name, long lastSeq) {

    public JsonObject toJson() {
      JsonObject json = new JsonObject().put("id", conversationId.toString()).put("joinedSeq", joinedSeq)
        .put("kind", kind).put("lastSeq", lastSeq);
      if (leftSeq != null) {
        json.put("leftSeq", leftSeq);
      }
      if (name != null) {
        json.put("name", name);
      }
      return json;
    }

    /** Without {@code lastSeq} (an opening node of an older build): 0, and no lower bound is checked. */
    public static Membership fromJson(JsonObject json) {
      return new Membership(UUID.fromString(json.getString("id")), json.getLong("joinedSeq"), json.getLong("leftSeq"),
        json.getString("kind"), json.getString("name"), json.getLong("lastSeq", 0L));
    }
  }

  /**
   * A stored session: whose, its snapshot, whether it is inside the resume window, its age, and
   * whether it was recorded in the database's current epoch.
   */
  public record Session(String userId, JsonObject positions, boolean fresh, long ageSeconds, boolean currentEpoch) {
  }

  public static Future<List<UUID>> active(SqlClient db, String userId) {
    return db.preparedQuery(ACTIVE).execute(Tuple.of(userId)).map(rows -> {
      List<UUID> out = new ArrayList<>(rows.size());
      rows.forEach(r -> out.add(r.getUUID(0)));
      return out;
    });
  }

  public static Future<List<Membership>> memberships(SqlClient db, String userId) {
    return db.preparedQuery(MEMBERSHIPS).execute(Tuple.of(userId)).map(rows -> {
      List<Membership> out = new ArrayList<>(rows.size());
      rows.forEach(r -> out.add(new Membership(r.getUUID(0), r.getLong(1), r.getLong(2), r.getString(3), r.getString(4),
        r.getLong(5))));
      return out;
    });
  }

  public static Future<Session> session(SqlClient db, String id, int windowSeconds) {
    return db.preparedQuery(SESSION).execute(Tuple.of(id, windowSeconds)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row r = rows.iterator().next();
      return new Session(r.getString(0), new JsonObject(r.getString(1)), r.getBoolean(2), r.getLong(3), r.getBoolean(4));
    });
  }

  /** Records a new session at the user's conversations' last seqs; completes with those positions. */
  public static Future<JsonObject> snapshot(SqlClient db, String id, String userId) {
    return db.preparedQuery(SNAPSHOT).execute(Tuple.of(id, userId))
      .map(rows -> new JsonObject(rows.iterator().next().getString(0)));
  }

  public static Future<Void> insert(SqlClient db, String id, String userId, Map<String, Long> positions) {
    return db.preparedQuery(INSERT).execute(Tuple.of(id, userId, new JsonObject(new LinkedHashMap<>(positions)).encode()))
      .mapEmpty();
  }

  public static Future<Void> expire(SqlClient db, int windowSeconds) {
    return db.preparedQuery(EXPIRE).execute(Tuple.of(windowSeconds)).mapEmpty();
  }

  /** Up to {@code limit} timeline items the user missed after {@code positions}. */
  public static Future<List<JsonObject>> replay(SqlClient db, String userId, Map<String, Long> positions, int limit) {
    return db.preparedQuery(REPLAY)
      .execute(Tuple.of(userId, new JsonObject(new LinkedHashMap<>(positions)).encode(), limit))
      .map(rows -> {
        List<JsonObject> out = new ArrayList<>(rows.size());
        rows.forEach(r -> out.add(MessageStore.json(r)));
        return out;
      });
  }

  /** conversation id → last seq, for the given conversations that exist. */
  public static Future<JsonObject> lastSeqs(SqlClient db, UUID[] ids) {
    return db.preparedQuery(LAST_SEQS).execute(Tuple.of(ids)).map(rows -> {
      JsonObject out = new JsonObject();
      rows.forEach(r -> out.put(r.getUUID(0).toString(), r.getLong(1)));
      return out;
    });
  }
}
