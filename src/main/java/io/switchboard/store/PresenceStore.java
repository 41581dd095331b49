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
 * announcement batch, and their {@code last_seen_at}, written once per batch of changes.
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

  private PresenceStore() {
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
