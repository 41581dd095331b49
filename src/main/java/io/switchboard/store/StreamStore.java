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

/** SQL of stream sessions and replay (DESIGN §4). */
public final class StreamStore {

  static final String ACTIVE = """
    SELECT m.conversation_id, m.joined_seq, c.last_seq, c.kind, c.name FROM members m
    JOIN conversations c ON c.id = m.conversation_id
    WHERE m.user_id = $1 AND m.left_seq IS NULL""";
  static final String MEMBERSHIPS = """
    SELECT m.conversation_id, m.joined_seq, m.left_seq, c.kind, c.name FROM members m
    JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1""";
  static final String SESSION = """
    SELECT user_id, positions::text, created_at > now() - make_interval(secs => $2) AS fresh
    FROM stream_sessions WHERE id = $1""";
  static final String INSERT = "INSERT INTO stream_sessions (id, user_id, positions) VALUES ($1, $2, $3::text::jsonb)";
  static final String EXPIRE = "DELETE FROM stream_sessions WHERE created_at < now() - make_interval(secs => $1)";
  /** Items after each position (or from the join), up to the leave for conversations left since. */
  static final String REPLAY = """
    WITH pos AS (SELECT key::uuid AS conversation_id, value::bigint AS seq FROM jsonb_each_text($2::text::jsonb)),
    m AS (
      SELECT mm.conversation_id, mm.left_seq, COALESCE(pos.seq, GREATEST(mm.joined_seq - 1, 0)) AS from_seq
      FROM members mm LEFT JOIN pos ON pos.conversation_id = mm.conversation_id
      WHERE mm.user_id = $1 AND (pos.seq IS NOT NULL OR mm.left_seq IS NULL))
    SELECT x.conversation_id, x.seq, x.id, x.sender_id, x.kind, x.content::text AS content, x.reply_to,
           x.client_message_id, x.created_at
    FROM m JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.from_seq
      AND (m.left_seq IS NULL OR x.seq <= m.left_seq)
    ORDER BY x.conversation_id, x.seq
    LIMIT $3""";

  private StreamStore() {
  }

  /** A membership of the streaming user. */
  public record Membership(UUID conversationId, long joinedSeq, Long leftSeq, long lastSeq, String kind, String name) {
  }

  /** A stored session: whose, its snapshot, and whether it is inside the resume window. */
  public record Session(String userId, JsonObject positions, boolean fresh) {
  }

  public static Future<List<Membership>> active(SqlClient db, String userId) {
    return db.preparedQuery(ACTIVE).execute(Tuple.of(userId)).map(rows -> {
      List<Membership> out = new ArrayList<>();
      rows.forEach(r -> out.add(new Membership(r.getUUID(0), r.getLong(1), null, r.getLong(2), r.getString(3),
        r.getString(4))));
      return out;
    });
  }

  public static Future<List<Membership>> memberships(SqlClient db, String userId) {
    return db.preparedQuery(MEMBERSHIPS).execute(Tuple.of(userId)).map(rows -> {
      List<Membership> out = new ArrayList<>();
      rows.forEach(r -> out.add(new Membership(r.getUUID(0), r.getLong(1), r.getLong(2), 0, r.getString(3),
        r.getString(4))));
      return out;
    });
  }

  public static Future<Session> session(SqlClient db, String id, int windowSeconds) {
    return db.preparedQuery(SESSION).execute(Tuple.of(id, windowSeconds)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row r = rows.iterator().next();
      return new Session(r.getString(0), new JsonObject(r.getString(1)), r.getBoolean(2));
    });
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
}
