package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * SQL of the call aggregate (DESIGN §3, §5). Every change of state is a conditional update on the
 * call's row, so whichever node runs it, exactly one of two racing changes wins.
 */
public final class CallStore {

  static final String COLUMNS = """
    id, conversation_id, caller_id, callee_id, media, state, started_at, answered_at, ended_at, end_reason,
    duration_ms, offer_sdp, held_candidates""";
  static final String RETURNING = " RETURNING " + COLUMNS;

  /** Who may call whom: the conversation's kind and its current members. */
  static final String PARTIES = """
    SELECT c.kind, ARRAY(SELECT m.user_id FROM members m
                         WHERE m.conversation_id = c.id AND m.left_seq IS NULL ORDER BY m.user_id) AS members
    FROM conversations c WHERE c.id = $1""";
  /**
   * A transaction-scoped advisory lock on one user (namespace, hash of the id): offers that touch
   * a user are serialised cluster-wide until commit, which makes busy and glare decisions safe.
   */
  static final String LOCK_USER = "SELECT 1 FROM (SELECT pg_advisory_xact_lock($1, $2)) AS locked";
  /** Live calls of some users; a ringing call past its ring time (its node died) no longer counts. */
  static final String LIVE = "SELECT " + COLUMNS + """
     FROM calls
    WHERE state IN ('ringing', 'active') AND (caller_id = ANY($1) OR callee_id = ANY($1))
      AND NOT (state = 'ringing' AND started_at < now() - $2::int * interval '1 second')""";
  static final String INSERT_RINGING = """
    INSERT INTO calls (id, conversation_id, caller_id, callee_id, media, state, offer_sdp)
    VALUES ($1, $2, $3, $4, $5, 'ringing', $6)""" + RETURNING;
  static final String INSERT_BUSY = """
    INSERT INTO calls (id, conversation_id, caller_id, callee_id, media, state, ended_at, end_reason)
    VALUES ($1, $2, $3, $4, $5, 'busy', now(), 'busy')""" + RETURNING;
  static final String GET = "SELECT " + COLUMNS + " FROM calls WHERE id = $1";
  static final String LOCK = GET + " FOR UPDATE";
  /** First answer wins: only a ringing call becomes active. */
  static final String ANSWER = """
    UPDATE calls SET state = 'active', answered_at = now(), offer_sdp = NULL, held_candidates = '[]'
    WHERE id = $1 AND state = 'ringing'""" + RETURNING;
  /** Ends a live call with a final state and reason. */
  static final String FINISH = """
    UPDATE calls SET state = $2, end_reason = $3, ended_at = now(), offer_sdp = NULL, held_candidates = '[]'
    WHERE id = $1 AND state IN ('ringing', 'active')""" + RETURNING;
  /** The ring timer: a call still ringing becomes missed; an answer that came first is left alone. */
  static final String MISS = """
    UPDATE calls SET state = 'missed', end_reason = 'missed', ended_at = now(), offer_sdp = NULL,
      held_candidates = '[]'
    WHERE id = $1 AND state = 'ringing'""" + RETURNING;
  /** Calls whose ring timer died with its node. */
  static final String SWEEP = """
    UPDATE calls SET state = 'missed', end_reason = 'missed', ended_at = now(), offer_sdp = NULL,
      held_candidates = '[]'
    WHERE state = 'ringing' AND started_at < now() - $1::int * interval '1 second'""" + RETURNING;
  /** The parties of live calls among some users: who of them a drop timer is worth arming for. */
  static final String LIVE_PARTIES = """
    SELECT caller_id, callee_id FROM calls
    WHERE state IN ('ringing', 'active') AND (caller_id = ANY($1) OR callee_id = ANY($1))""";
  /** Parties gone: every live call of any of them ends, in one statement however many they are. */
  static final String DROP = """
    UPDATE calls SET state = 'ended', end_reason = 'dropped', ended_at = now(), offer_sdp = NULL,
      held_candidates = '[]'
    WHERE state IN ('ringing', 'active') AND (caller_id = ANY($1) OR callee_id = ANY($1))""" + RETURNING;
  /** Holds a candidate while the call rings, up to a bound; no row when the call has moved on. */
  static final String HOLD = """
    UPDATE calls SET held_candidates = held_candidates || jsonb_build_array($2::jsonb)
    WHERE id = $1 AND state = 'ringing' AND jsonb_array_length(held_candidates) < $3 RETURNING id""";

  /** Advisory-lock namespace of call offers ("ca11"). */
  static final int LOCK_NAMESPACE = 0xca11;

  private CallStore() {
  }

  /** The kind and members of a conversation, or null when there is none. */
  public static Future<Parties> parties(SqlClient db, UUID conversationId) {
    return db.preparedQuery(PARTIES).execute(Tuple.of(conversationId)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      Row r = rows.iterator().next();
      return new Parties(r.getString("kind"), List.of(r.getArrayOfStrings("members")));
    });
  }

  /**
   * Locks both users for the rest of the transaction, in hash order so that two offers locking
   * the same pair from opposite sides cannot deadlock.
   */
  public static Future<Void> lockUsers(SqlConnection conn, String a, String b) {
    int ha = a.hashCode();
    int hb = b.hashCode();
    int first = Math.min(ha, hb);
    int second = Math.max(ha, hb);
    Future<Void> locked = conn.preparedQuery(LOCK_USER).execute(Tuple.of(LOCK_NAMESPACE, first)).mapEmpty();
    return first == second ? locked
      : locked.compose(v -> conn.preparedQuery(LOCK_USER).execute(Tuple.of(LOCK_NAMESPACE, second)).mapEmpty());
  }

  /** Live calls of the users; ringing calls older than {@code ringSeconds} are ignored. */
  public static Future<List<Call>> live(SqlConnection conn, List<String> userIds, int ringSeconds) {
    return conn.preparedQuery(LIVE).execute(Tuple.of(userIds.toArray(new String[0]), ringSeconds))
      .map(CallStore::all);
  }

  public static Future<Call> insertRinging(SqlConnection conn, NewCall c, String sdp) {
    return conn.preparedQuery(INSERT_RINGING)
      .execute(Tuple.of(c.id(), c.conversationId(), c.callerId(), c.calleeId(), c.media(), sdp))
      .map(CallStore::one);
  }

  public static Future<Call> insertBusy(SqlConnection conn, NewCall c) {
    return conn.preparedQuery(INSERT_BUSY)
      .execute(Tuple.of(c.id(), c.conversationId(), c.callerId(), c.calleeId(), c.media()))
      .map(CallStore::one);
  }

  /** The call, or null. */
  public static Future<Call> get(SqlClient db, UUID id) {
    return db.preparedQuery(GET).execute(Tuple.of(id)).map(CallStore::one);
  }

  /** The call locked for the rest of the transaction, or null. */
  public static Future<Call> lock(SqlConnection conn, UUID id) {
    return conn.preparedQuery(LOCK).execute(Tuple.of(id)).map(CallStore::one);
  }

  /** The answered call, or null when it was no longer ringing. */
  public static Future<Call> answer(SqlClient db, UUID id) {
    return db.preparedQuery(ANSWER).execute(Tuple.of(id)).map(CallStore::one);
  }

  /** The finished call, or null when it was no longer live. */
  public static Future<Call> finish(SqlClient db, UUID id, String state, String reason) {
    return db.preparedQuery(FINISH).execute(Tuple.of(id, state, reason)).map(CallStore::one);
  }

  /** The missed call, or null when something else happened to it first. */
  public static Future<Call> miss(SqlClient db, UUID id) {
    return db.preparedQuery(MISS).execute(Tuple.of(id)).map(CallStore::one);
  }

  /** Marks missed every call ringing for longer than {@code seconds}; returns them. */
  public static Future<List<Call>> sweep(SqlClient db, int seconds) {
    return db.preparedQuery(SWEEP).execute(Tuple.of(seconds)).map(CallStore::all);
  }

  /** The users among {@code userIds} who are a party to a live call. */
  public static Future<Set<String>> liveParties(SqlClient db, Collection<String> userIds) {
    return db.preparedQuery(LIVE_PARTIES).execute(Tuple.of(userIds.toArray(new String[0]))).map(rows -> {
      Set<String> wanted = new HashSet<>(userIds);
      Set<String> out = new HashSet<>();
      rows.forEach(r -> {
        for (int i = 0; i < 2; i++) {
          if (wanted.contains(r.getString(i))) {
            out.add(r.getString(i));
          }
        }
      });
      return out;
    });
  }

  /** Ends every live call of any of the users as dropped; returns them. */
  public static Future<List<Call>> drop(SqlClient db, Collection<String> userIds) {
    return db.preparedQuery(DROP).execute(Tuple.of(userIds.toArray(new String[0]))).map(CallStore::all);
  }

  /** True when the candidate was held; false when the call no longer rings or holds too many. */
  public static Future<Boolean> hold(SqlClient db, UUID id, JsonObject entry, int max) {
    return db.preparedQuery(HOLD).execute(Tuple.of(id, entry, max)).map(rows -> rows.size() > 0);
  }

  private static Call one(RowSet<Row> rows) {
    return rows.size() == 0 ? null : call(rows.iterator().next());
  }

  private static List<Call> all(RowSet<Row> rows) {
    List<Call> out = new ArrayList<>();
    rows.forEach(r -> out.add(call(r)));
    return out;
  }

  private static Call call(Row r) {
    Object held = r.getValue("held_candidates");
    return new Call(r.getUUID("id"), r.getUUID("conversation_id"), r.getString("caller_id"),
      r.getString("callee_id"), r.getString("media"), r.getString("state"), r.getOffsetDateTime("started_at"),
      r.getOffsetDateTime("answered_at"), r.getOffsetDateTime("ended_at"), r.getString("end_reason"),
      r.getLong("duration_ms"), r.getString("offer_sdp"), held instanceof JsonArray a ? a : new JsonArray());
  }

  /** A conversation as far as calls care: its kind and current members. */
  public record Parties(String kind, List<String> members) {
    public boolean direct() {
      return "direct".equals(kind);
    }
  }

  /** A call about to be written. */
  public record NewCall(UUID id, UUID conversationId, String callerId, String calleeId, String media) {
  }

  /** One row of {@code calls}. */
  public record Call(UUID id, UUID conversationId, String callerId, String calleeId, String media, String state,
                     OffsetDateTime startedAt, OffsetDateTime answeredAt, OffsetDateTime endedAt, String endReason,
                     Long durationMs, String offerSdp, JsonArray held) {

    public boolean isParty(String userId) {
      return callerId.equals(userId) || calleeId.equals(userId);
    }

    /** The other party of {@code userId}. */
    public String other(String userId) {
      return callerId.equals(userId) ? calleeId : callerId;
    }

    public boolean live() {
      return "ringing".equals(state) || "active".equals(state);
    }

    /** The call as clients see it: no SDP, no held candidates. */
    public JsonObject toJson() {
      return new JsonObject()
        .put("callId", id.toString())
        .put("conversationId", conversationId.toString())
        .put("callerId", callerId)
        .put("calleeId", calleeId)
        .put("media", media)
        .put("state", state)
        .put("startedAt", Db.timestamp(startedAt))
        .put("answeredAt", Db.timestamp(answeredAt))
        .put("endedAt", Db.timestamp(endedAt))
        .put("endReason", endReason)
        .put("durationMs", durationMs);
    }
  }
}
