package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SQL of presence (DESIGN §9): the conversations a batch of users is in now, read once per
 * announcement batch, and their {@code last_seen_at}, written once per batch of changes; the
 * status users chose (SPEC §3b), written when they set it and read when they come online; and
 * who may see whose presence.
 */
public final class PresenceStore {

  /** Current memberships of some users; backed by the partial index {@code members_by_user}. */
  static final String CONVERSATIONS = """
    SELECT user_id, conversation_id FROM members WHERE user_id = ANY($1) AND left_seq IS NULL""";
  /**
   * Many users' last-seen times in one statement. A time never moves back, so writes of two nodes
   * that land out of order keep the newer one. Each user appears once per statement.
   */
  static final String SEEN = """
    INSERT INTO users (id, last_seen_at)
    SELECT id, seen FROM unnest($1::text[], $2::timestamptz[]) AS s(id, seen)
    ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(users.last_seen_at, EXCLUDED.last_seen_at)""";

  /** A newer status wins: two nodes' writes that land out of order keep the later one. */
  static final String SET_STATUS = """
    INSERT INTO users (id, status, status_text, status_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, status_text = EXCLUDED.status_text,
      status_at = EXCLUDED.status_at
    WHERE users.status_at IS NULL OR users.status_at <= EXCLUDED.status_at""";
  /** The statuses some users set (users who never set one are absent). */
  static final String STATUSES = """
    SELECT id, status, status_text, status_at FROM users WHERE id = ANY($1) AND status_at IS NOT NULL""";
  /** Of some users, those who share a current conversation with $1 (and $1), with their last-seen time. */
  static final String VISIBLE_TO = """
    SELECT u.id, u.last_seen_at FROM users u WHERE u.id = ANY($2) AND (u.id = $1 OR EXISTS (
      SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id
      WHERE a.user_id = $1 AND a.left_seq IS NULL AND b.user_id = u.id AND b.left_seq IS NULL))""";

  private PresenceStore() {
  }

  /** A status a user chose, at {@code at} (epoch milliseconds). */
  public record Status(String status, String text, long at) {
  }

  public static Future<Void> setStatus(SqlClient db, String userId, Status status) {
    return db.preparedQuery(SET_STATUS).execute(Tuple.of(userId, status.status(), status.text(),
      OffsetDateTime.ofInstant(Instant.ofEpochMilli(status.at()), ZoneOffset.UTC))).mapEmpty();
  }

  public static Future<Map<String, Status>> statuses(SqlClient db, List<String> userIds) {
    return db.preparedQuery(STATUSES).execute(Tuple.of(userIds.toArray(new String[0]))).map(rows -> {
      Map<String, Status> out = new HashMap<>();
      rows.forEach(r -> out.put(r.getString(0),
        new Status(r.getString(1), r.getString(2), r.getOffsetDateTime(3).toInstant().toEpochMilli())));
      return out;
    });
  }

  /** user id → last-seen time (or null) of those of {@code userIds} whose presence {@code viewerId} may see. */
  public static Future<Map<String, String>> visibleTo(SqlClient db, String viewerId, List<String> userIds) {
    Tuple params = Tuple.tuple().addString(viewerId).addArrayOfString(userIds.toArray(new String[0]));
    return db.preparedQuery(VISIBLE_TO).execute(params).map(rows -> {
      Map<String, String> out = new HashMap<>();
      rows.forEach(r -> out.put(r.getString(0), Db.timestamp(r.getOffsetDateTime(1))));
      return out;
    });
  }

  /** Each user's current conversation ids (users in none are absent). */
  public static Future<Map<String, List<String>>> conversations(SqlClient db, List<String> userIds) {
    return db.preparedQuery(CONVERSATIONS).execute(Tuple.of(userIds.toArray(new String[0]))).map(rows -> {
      Map<String, List<String>> out = new HashMap<>();
      rows.forEach(r -> out.computeIfAbsent(r.getString(0), k -> new ArrayList<>()).add(r.getUUID(1).toString()));
      return out;
    });
  }

  /** Records last-seen times (epoch milliseconds) of distinct users. */
  public static Future<Void> seen(SqlClient db, Map<String, Long> seenAt) {
    String[] ids = new String[seenAt.size()];
    OffsetDateTime[] times = new OffsetDateTime[seenAt.size()];
    int i = 0;
    for (Map.Entry<String, Long> e : seenAt.entrySet()) {
      ids[i] = e.getKey();
      times[i] = OffsetDateTime.ofInstant(Instant.ofEpochMilli(e.getValue()), ZoneOffset.UTC);
      i++;
    }
    return db.preparedQuery(SEEN).execute(Tuple.tuple().addArrayOfString(ids).addArrayOfOffsetDateTime(times)).mapEmpty();
  }
}
