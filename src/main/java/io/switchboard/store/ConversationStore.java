package io.switchboard.store;

import io.switchboard.protocol.ServiceException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** SQL of the conversation aggregate: conversations, members, users (DESIGN §3). */
public final class ConversationStore {

  /** A conversation as one member sees it (SPEC §3). */
  static final String VIEW = """
    SELECT c.id, c.kind, c.name, c.invite_code, c.created_at, c.updated_at, c.last_seq, m.last_read_seq, m.muted,
      (SELECT count(*) FROM messages x
        WHERE x.conversation_id = c.id AND x.seq > m.last_read_seq
          AND x.sender_id <> m.user_id AND x.kind <> 'system') AS unread,
      (SELECT json_agg(json_build_object('userId', mm.user_id, 'role', mm.role, 'name', u.name,
                 'lastSeenAt', to_char(u.last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
               ORDER BY mm.joined_at, mm.user_id)::text
        FROM members mm LEFT JOIN users u ON u.id = mm.user_id
        WHERE mm.conversation_id = c.id AND mm.left_seq IS NULL) AS members
    FROM conversations c JOIN members m ON m.conversation_id = c.id
    WHERE m.user_id = $1 AND m.left_seq IS NULL""";
  static final String LIST = VIEW + " ORDER BY c.updated_at DESC, c.id LIMIT $2";
  static final String ONE = VIEW + " AND c.id = $2";
  static final String ACCESS = """
    SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1),
           EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL)""";
  static final String UPSERT_USER = """
    INSERT INTO users (id, name) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET name = COALESCE(EXCLUDED.name, users.name)""";
  /** Inserts in id order, so two concurrent calls with overlapping new ids wait for each other instead of deadlocking. */
  static final String ENSURE_USERS = """
    INSERT INTO users (id) SELECT u FROM unnest($1::text[]) AS t(u) ORDER BY u ON CONFLICT (id) DO NOTHING""";
  static final String INSERT_DIRECT = """
    INSERT INTO conversations (id, kind, direct_key, created_by) VALUES ($1, 'direct', $2, $3)
    ON CONFLICT (direct_key) DO NOTHING RETURNING id""";
  static final String FIND_DIRECT = "SELECT id FROM conversations WHERE direct_key = $1";
  static final String INSERT_GROUP = """
    INSERT INTO conversations (id, kind, name, invite_code, created_by) VALUES ($1, 'group', $2, $3, $4)""";
  static final String INSERT_MEMBER = """
    INSERT INTO members (conversation_id, user_id, role, joined_seq) VALUES ($1, $2, $3, 0)""";
  static final String LOCK_BY_INVITE = "SELECT id, kind FROM conversations WHERE invite_code = $1 FOR UPDATE";
  static final String LOCK_BY_ID = "SELECT id, kind FROM conversations WHERE id = $1 FOR UPDATE";
  static final String ACTIVE_MEMBER = """
    SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL""";
  static final String NEXT_SEQ = """
    UPDATE conversations SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq""";
  static final String REJOIN = """
    INSERT INTO members (conversation_id, user_id, role, joined_seq, last_read_seq) VALUES ($1, $2, 'member', $3, $3)
    ON CONFLICT (conversation_id, user_id) DO UPDATE
      SET role = 'member', joined_seq = EXCLUDED.joined_seq, left_seq = NULL,
          last_read_seq = EXCLUDED.joined_seq, joined_at = now()""";
  static final String MARK_LEFT = "UPDATE members SET left_seq = $3 WHERE conversation_id = $1 AND user_id = $2";
  /** Whoever joins a group that no owner is in (everyone had left) becomes its owner. */
  static final String OWN_IF_OWNERLESS = """
    UPDATE members SET role = 'owner' WHERE conversation_id = $1 AND user_id = $2
    AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND left_seq IS NULL AND role = 'owner')""";
  /** {owners, members} among the current members. */
  static final String HEADCOUNT = """
    SELECT count(*) FILTER (WHERE role = 'owner'), count(*) FROM members WHERE conversation_id = $1 AND left_seq IS NULL""";
  static final String RENAME = "UPDATE conversations SET name = $2 WHERE id = $1 AND name IS DISTINCT FROM $2";
  static final String SET_ROLE = """
    UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL AND role <> $3""";
  static final String SET_INVITE = "UPDATE conversations SET invite_code = $2 WHERE id = $1";
  static final String MUTE = "UPDATE members SET muted = $3 WHERE conversation_id = $1 AND user_id = $2 AND left_seq IS NULL";
  static final String MEMBER_IDS = "SELECT user_id FROM members WHERE conversation_id = $1 AND left_seq IS NULL";

  private ConversationStore() {
  }

  /** The caller's conversations, most recently active first. */
  public static Future<JsonArray> list(SqlClient db, String userId, int limit) {
    return db.preparedQuery(LIST).execute(Tuple.of(userId, limit)).map(rows -> {
      JsonArray out = new JsonArray();
      rows.forEach(r -> out.add(view(r)));
      return out;
    });
  }

  /** One conversation as the caller sees it; 404 when unknown, 403 when not a member. */
  public static Future<JsonObject> get(SqlClient db, UUID id, String userId) {
    return db.preparedQuery(ONE).execute(Tuple.of(userId, id)).compose(rows -> {
      if (rows.size() == 0) {
        return requireMember(db, id, userId).map(v -> {
          throw ServiceException.forbidden("not a member of this conversation");
        });
      }
      return Future.succeededFuture(view(rows.iterator().next()));
    });
  }

  /** Succeeds when {@code userId} is a current member; else 404 (no such conversation) or 403. */
  public static Future<Void> requireMember(SqlClient db, UUID id, String userId) {
    return db.preparedQuery(ACCESS).execute(Tuple.of(id, userId)).compose(rows -> {
      Row r = rows.iterator().next();
      if (!r.getBoolean(0)) {
        return Future.failedFuture(ServiceException.notFound("no such conversation"));
      }
      if (!r.getBoolean(1)) {
        return Future.failedFuture(ServiceException.forbidden("not a member of this conversation"));
      }
      return Future.succeededFuture();
    });
  }

  public static Future<Void> upsertUser(SqlClient db, String userId, String name) {
    return db.preparedQuery(UPSERT_USER).execute(Tuple.of(userId, name)).mapEmpty();
  }

  public static Future<Void> ensureUsers(SqlClient db, List<String> userIds) {
    return db.preparedQuery(ENSURE_USERS).execute(Tuple.of(userIds.toArray(new String[0]))).mapEmpty();
  }

  /** Inserts the direct conversation of a pair, or finds it; the boolean says whether it is new. */
  public static Future<Created> createDirect(SqlConnection conn, String caller, String other) {
    String key = caller.compareTo(other) < 0 ? caller + "|" + other : other + "|" + caller;
    UUID id = UUID.randomUUID();
    return conn.preparedQuery(INSERT_DIRECT).execute(Tuple.of(id, key, caller)).compose(rows -> {
      if (rows.size() == 0) {
        return conn.preparedQuery(FIND_DIRECT).execute(Tuple.of(key))
          .map(found -> new Created(found.iterator().next().getUUID(0), false));
      }
      List<Tuple> members = List.of(Tuple.of(id, caller, "member"), Tuple.of(id, other, "member"));
      return conn.preparedQuery(INSERT_MEMBER).executeBatch(members).map(v -> new Created(id, true));
    });
  }

  /** Inserts a group owned by {@code owner} with the given other members. */
  public static Future<UUID> createGroup(SqlConnection conn, String name, String inviteCode, String owner,
                                         List<String> others) {
    UUID id = UUID.randomUUID();
    List<Tuple> members = new ArrayList<>();
    members.add(Tuple.of(id, owner, "owner"));
    others.forEach(o -> members.add(Tuple.of(id, o, "member")));
    return conn.preparedQuery(INSERT_GROUP).execute(Tuple.of(id, name, inviteCode, owner))
      .compose(v -> conn.preparedQuery(INSERT_MEMBER).executeBatch(members))
      .map(id);
  }

  /** Locks the conversation row of an invite code; fails 404 when there is none. */
  public static Future<Locked> lockByInvite(SqlConnection conn, String inviteCode) {
    return conn.preparedQuery(LOCK_BY_INVITE).execute(Tuple.of(inviteCode)).map(rows -> {
      if (rows.size() == 0) {
        throw ServiceException.notFound("no group with this invite code");
      }
      Row r = rows.iterator().next();
      return new Locked(r.getUUID("id"), r.getString("kind"));
    });
  }

  /** Locks the conversation row; fails 404 when there is none. */
  public static Future<Locked> lock(SqlConnection conn, UUID id) {
    return conn.preparedQuery(LOCK_BY_ID).execute(Tuple.of(id)).map(rows -> {
      if (rows.size() == 0) {
        throw ServiceException.notFound("no such conversation");
      }
      Row r = rows.iterator().next();
      return new Locked(r.getUUID("id"), r.getString("kind"));
    });
  }

  /** The caller's role if they are a current member, else null. */
  public static Future<String> activeRole(SqlClient db, UUID id, String userId) {
    return db.preparedQuery(ACTIVE_MEMBER).execute(Tuple.of(id, userId))
      .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getString(0));
  }

  /** Allocates the next timeline seq; the row lock it takes orders commits of this conversation. */
  public static Future<Long> nextSeq(SqlConnection conn, UUID id) {
    return conn.preparedQuery(NEXT_SEQ).execute(Tuple.of(id)).map(rows -> rows.iterator().next().getLong(0));
  }

  public static Future<Void> join(SqlConnection conn, UUID id, String userId, long seq) {
    return conn.preparedQuery(REJOIN).execute(Tuple.of(id, userId, seq))
      .compose(v -> conn.preparedQuery(OWN_IF_OWNERLESS).execute(Tuple.of(id, userId)))
      .mapEmpty();
  }

  /** Ends a membership at the seq of its {@code member_left} item (a leave or a removal). */
  public static Future<Void> leave(SqlConnection conn, UUID id, String userId, long seq) {
    return conn.preparedQuery(MARK_LEFT).execute(Tuple.of(id, userId, seq)).mapEmpty();
  }

  /** {owners, members}: how many current members, and how many of them own the group. */
  public static Future<long[]> headcount(SqlClient db, UUID id) {
    return db.preparedQuery(HEADCOUNT).execute(Tuple.of(id)).map(rows -> {
      Row r = rows.iterator().next();
      return new long[] {r.getLong(0), r.getLong(1)};
    });
  }

  /** Renames a group; false when it already has that name. */
  public static Future<Boolean> rename(SqlConnection conn, UUID id, String name) {
    return conn.preparedQuery(RENAME).execute(Tuple.of(id, name)).map(rows -> rows.rowCount() > 0);
  }

  /** Gives a current member a role; false when they have it already. */
  public static Future<Boolean> setRole(SqlConnection conn, UUID id, String userId, String role) {
    return conn.preparedQuery(SET_ROLE).execute(Tuple.of(id, userId, role)).map(rows -> rows.rowCount() > 0);
  }

  public static Future<Void> setInviteCode(SqlConnection conn, UUID id, String inviteCode) {
    return conn.preparedQuery(SET_INVITE).execute(Tuple.of(id, inviteCode)).mapEmpty();
  }

  /** Mutes or unmutes a conversation for one current member; false when not a current member. */
  public static Future<Boolean> mute(SqlClient db, UUID id, String userId, boolean muted) {
    return db.preparedQuery(MUTE).execute(Tuple.of(id, userId, muted)).map(rows -> rows.rowCount() > 0);
  }

  public static Future<List<String>> memberIds(SqlClient db, UUID id) {
    return db.preparedQuery(MEMBER_IDS).execute(Tuple.of(id)).map(rows -> {
      List<String> out = new ArrayList<>();
      rows.forEach(r -> out.add(r.getString(0)));
      return out;
    });
  }

  private static JsonObject view(Row r) {
    boolean group = "group".equals(r.getString("kind"));
    JsonObject c = new JsonObject()
      .put("id", r.getUUID("id").toString())
      .put("type", r.getString("kind"));
    if (group) {
      c.put("name", r.getString("name")).put("inviteCode", r.getString("invite_code"));
    }
    String members = r.getString("members");
    return c.put("members", members == null ? new JsonArray() : new JsonArray(members))
      .put("lastSeq", r.getLong("last_seq"))
      .put("lastReadSeq", r.getLong("last_read_seq"))
      .put("unreadCount", r.getLong("unread"))
      .put("muted", r.getBoolean("muted"))
      .put("createdAt", Db.timestamp(r.getOffsetDateTime("created_at")))
      .put("updatedAt", Db.timestamp(r.getOffsetDateTime("updated_at")));
  }

  /** Result of creating a direct conversation. */
  public record Created(UUID id, boolean isNew) {
  }

  /** A locked conversation row. */
  public record Locked(UUID id, String kind) {
  }
}
