package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** SQL the admin API reads that belongs to no other aggregate's rules. */
public final class AdminStore {

  static final String LAST_SEEN = "SELECT id, last_seen_at FROM users WHERE id = ANY($1)";

  private AdminStore() {
  }

  /** Each known user's {@code last_seen_at} as wire text (null when never seen); unknown users are absent. */
  public static Future<Map<String, String>> lastSeen(SqlClient db, List<String> userIds) {
    return db.preparedQuery(LAST_SEEN).execute(Tuple.of((Object) userIds.toArray(new String[0]))).map(rows -> {
      Map<String, String> out = new HashMap<>();
      for (Row r : rows) {
        out.put(r.getString(0), Db.timestamp(r.getOffsetDateTime(1)));
      }
      return out;
    });
  }
}
