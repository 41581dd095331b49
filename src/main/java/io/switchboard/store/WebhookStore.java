package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * SQL of the webhook outbox (SPEC §10, DESIGN §16): rows written in the transaction of the change
 * they report, claimed by any node under a lease with {@code FOR UPDATE SKIP LOCKED}, one at a
 * time per (endpoint, ordering key) so that each stream keeps its order.
 */
public final class WebhookStore {

  /** A timestamptz as the wire's ISO-8601 UTC text, in SQL. */
  static final String ISO = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

  /**
   * CTEs appended to {@link MessageStore}'s send statement: the {@code message_created} row for
   * each endpoint in {@code $9} and, when {@code $10} (seconds) is set, the {@code message_unseen}
   * check. Both run only when the message was inserted ({@code FROM m}); the statement stays one
   * statement and one commit.
   */
  static final String SEND_OUTBOX = """
    ,
    w AS (
      INSERT INTO webhook_deliveries (event_id, endpoint, ordering_key, type, data)
      SELECT $3::uuid, e, 'conv:' || $1::text, 'message_created',
        jsonb_build_object('id', $3::uuid, 'conversationId', $1::uuid, 'seq', m.seq, 'senderId', $2::text,
          'kind', $4::text, 'content', $5::text::jsonb, 'createdAt', %s)
        || CASE WHEN $7::bigint IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('replyTo', $7::bigint) END
        || CASE WHEN $6::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('clientMessageId', $6::text) END
        || CASE WHEN $8::uuid IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('threadId', $8::uuid) END
      FROM m, unnest($9::text[]) AS e),
    u AS (
      INSERT INTO webhook_unseen (conversation_id, seq, due_at)
      SELECT $1, m.seq, now() + $10::int * interval '1 second' FROM m WHERE $10::int IS NOT NULL)"""
    .formatted(ISO.formatted("m.created_at"));

  /** Due {@code message_unseen} checks taken by one sweep; a full sweep is followed by another at once. */
  public static final int UNSEEN_BATCH = 500;

  /** Rows of any events, one per (event, endpoint); an event already written is not written twice. */
  static final String INSERT = """
    INSERT INTO webhook_deliveries (event_id, endpoint, ordering_key, type, data)
    SELECT id, endpoint, ordering_key, type, data::jsonb
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS r(id, endpoint, ordering_key, type, data)
    ON CONFLICT (event_id, endpoint) DO NOTHING""";

  /**
   * Leases up to {@code $2} due rows for {@code $3} ms to node {@code $4}: only the head of each
   * (endpoint, ordering key) — no older pending row of the same stream may exist — and only rows
   * no other node holds. {@code SKIP LOCKED} lets nodes claim side by side without waiting.
   */
  static final String CLAIM = """
    WITH heads AS (
      SELECT d.id FROM webhook_deliveries d
      WHERE d.state = 'pending' AND d.next_at <= now() AND d.endpoint = ANY($1)
        AND (d.leased_until IS NULL OR d.leased_until < now())
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries o
          WHERE o.endpoint = d.endpoint AND o.ordering_key = d.ordering_key AND o.state = 'pending' AND o.id < d.id)
      ORDER BY d.next_at, d.id
      LIMIT $2
      FOR UPDATE SKIP LOCKED)
    UPDATE webhook_deliveries w
    SET leased_until = now() + $3::int * interval '1 millisecond', leased_by = $4, attempts = w.attempts + 1
    FROM heads WHERE w.id = heads.id
    RETURNING w.id, w.event_id, w.endpoint, w.type, w.data::text AS data, w.created_at, w.attempts""";

  /** Delivered: the row goes (ordering only looks at pending rows). */
  static final String DELIVERED = "DELETE FROM webhook_deliveries WHERE id = $1";

  /** A failed attempt: retried at {@code now + $2 ms}, or dead once it has had {@code $3} attempts. */
  static final String FAILED = """
    UPDATE webhook_deliveries
    SET state = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END,
        next_at = now() + $2::int * interval '1 millisecond', leased_until = NULL, leased_by = NULL, last_error = $4
    WHERE id = $1 AND state = 'pending'
    RETURNING state""";

  /**
   * Messages whose {@code message_unseen} delay has passed: each member who has not read it (not
   * the sender, not one who joined after it) gets one event per endpoint in {@code $1}. The check
   * rows are taken with {@code SKIP LOCKED}, so nodes sweeping together split them.
   */
  static final String UNSEEN = """
    WITH due AS (
      DELETE FROM webhook_unseen u WHERE (u.conversation_id, u.seq) IN (
        SELECT conversation_id, seq FROM webhook_unseen WHERE due_at <= now()
        ORDER BY due_at LIMIT %d FOR UPDATE SKIP LOCKED)
      RETURNING u.conversation_id, u.seq),
    targets AS (
      SELECT x.conversation_id, x.seq, x.id, x.sender_id, x.kind, x.content, x.reply_to, x.created_at, m.user_id
      FROM due JOIN messages x ON x.conversation_id = due.conversation_id AND x.seq = due.seq
      JOIN members m ON m.conversation_id = x.conversation_id AND m.left_seq IS NULL
        AND m.user_id <> x.sender_id AND m.last_read_seq < x.seq AND m.joined_seq < x.seq),
    written AS (
      INSERT INTO webhook_deliveries (event_id, endpoint, ordering_key, type, data)
      SELECT md5('message_unseen|' || t.conversation_id || '|' || t.seq || '|' || t.user_id)::uuid, e,
        'conv:' || t.conversation_id, 'message_unseen',
        jsonb_build_object('userId', t.user_id, 'conversationId', t.conversation_id, 'seq', t.seq,
          'message', jsonb_build_object('id', t.id, 'conversationId', t.conversation_id, 'seq', t.seq,
            'senderId', t.sender_id, 'kind', t.kind, 'content', t.content, 'createdAt', %s)
            || CASE WHEN t.reply_to IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('replyTo', t.reply_to) END)
      FROM targets t CROSS JOIN unnest($1::text[]) AS e
      ON CONFLICT (event_id, endpoint) DO NOTHING
      RETURNING 1)
    SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM written)""".formatted(UNSEEN_BATCH, ISO.formatted("t.created_at"));

  /** Cluster-wide counts: pending rows, dead letters, and the oldest pending row's age. */
  static final String COUNTS = """
    SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'dead'),
      COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE state = 'pending')), 0)::bigint
    FROM webhook_deliveries""";
  static final String DEAD = """
    SELECT id, event_id, endpoint, type, data::text AS data, created_at, attempts, last_error
    FROM webhook_deliveries WHERE state = 'dead' AND id > $1 ORDER BY id LIMIT $2""";
  /** Dead letters back to pending, all of them or one, with their attempts counted afresh. */
  static final String RETRY_DEAD = """
    UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = now(), last_error = NULL,
      leased_until = NULL, leased_by = NULL
    WHERE state = 'dead' AND ($1::bigint IS NULL OR id = $1)""";
  /** Dead letters are kept a week. */
  static final String PRUNE_DEAD = "DELETE FROM webhook_deliveries WHERE state = 'dead' AND created_at < now() - interval '7 days'";

  private WebhookStore() {
  }

  /** One row to write: an event for one endpoint. */
  public record Pending(UUID eventId, String endpoint, String orderingKey, String type, JsonObject data) {
  }

  /** A leased row: what one POST sends. */
  public record Claimed(long id, UUID eventId, String endpoint, String type, String data, OffsetDateTime createdAt,
                        int attempts) {
  }

  /** Writes rows (nothing when there are none): inside the change's transaction, or on its own. */
  public static Future<Void> insert(SqlClient db, List<Pending> rows) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    int n = rows.size();
    UUID[] ids = new UUID[n];
    String[] endpoints = new String[n];
    String[] keys = new String[n];
    String[] types = new String[n];
    String[] data = new String[n];
    for (int i = 0; i < n; i++) {
      Pending p = rows.get(i);
      ids[i] = p.eventId();
      endpoints[i] = p.endpoint();
      keys[i] = p.orderingKey();
      types[i] = p.type();
      data[i] = p.data().encode();
    }
    return db.preparedQuery(INSERT)
      .execute(Tuple.tuple().addArrayOfUUID(ids).addArrayOfString(endpoints).addArrayOfString(keys)
        .addArrayOfString(types).addArrayOfString(data))
      .mapEmpty();
  }

  public static Future<List<Claimed>> claim(SqlClient db, String[] endpoints, int limit, int leaseMillis, String node) {
    return db.preparedQuery(CLAIM).execute(Tuple.of(endpoints, limit, leaseMillis, node)).map(rows -> {
      List<Claimed> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        out.add(new Claimed(r.getLong("id"), r.getUUID("event_id"), r.getString("endpoint"), r.getString("type"),
          r.getString("data"), r.getOffsetDateTime("created_at"), r.getInteger("attempts")));
      }
      out.sort((a, b) -> Long.compare(a.id(), b.id()));
      return out;
    });
  }

  public static Future<Void> delivered(SqlClient db, long id) {
    return db.preparedQuery(DELIVERED).execute(Tuple.of(id)).mapEmpty();
  }

  /** Records a failed attempt; true when the row is now dead-lettered. */
  public static Future<Boolean> failed(SqlClient db, long id, long retryInMillis, int maxAttempts, String error) {
    return db.preparedQuery(FAILED)
      .execute(Tuple.of(id, (int) Math.min(Integer.MAX_VALUE, retryInMillis), maxAttempts, error))
      .map(rows -> rows.size() > 0 && "dead".equals(rows.iterator().next().getString(0)));
  }

  /** Turns due {@code message_unseen} checks into events; the number of events written. */
  /** What one sweep of due {@code message_unseen} checks did: checks taken, events written. */
  public record Unseen(long checked, long written) {
  }

  public static Future<Unseen> unseen(SqlClient db, String[] endpoints) {
    return db.preparedQuery(UNSEEN).execute(Tuple.of((Object) endpoints))
      .map(rows -> {
        Row r = rows.iterator().next();
        return new Unseen(r.getLong(0), r.getLong(1));
      });
  }

  /** {@code {pending, deadLettered, oldestPendingSeconds}}, cluster-wide. */
  public static Future<JsonObject> counts(SqlClient db) {
    return db.query(COUNTS).execute().map(rows -> {
      Row r = rows.iterator().next();
      return new JsonObject().put("pending", r.getLong(0)).put("deadLettered", r.getLong(1))
        .put("oldestPendingSeconds", r.getLong(2));
    });
  }

  /** Dead letters after {@code afterId}, oldest first. */
  public static Future<JsonArray> dead(SqlClient db, long afterId, int limit) {
    return db.preparedQuery(DEAD).execute(Tuple.of(afterId, limit)).map(rows -> {
      JsonArray out = new JsonArray();
      for (Row r : rows) {
        out.add(new JsonObject()
          .put("deliveryId", r.getLong("id"))
          .put("id", r.getUUID("event_id").toString())
          .put("endpoint", r.getString("endpoint"))
          .put("type", r.getString("type"))
          .put("data", new JsonObject(r.getString("data")))
          .put("createdAt", Db.timestamp(r.getOffsetDateTime("created_at")))
          .put("attempts", r.getInteger("attempts"))
          .put("lastError", r.getString("last_error")));
      }
      return out;
    });
  }

  /** Puts dead letters back in line (one when {@code id} is set); how many. */
  public static Future<Integer> retryDead(SqlClient db, Long id) {
    return db.preparedQuery(RETRY_DEAD).execute(Tuple.of(id)).map(rows -> rows.rowCount());
  }

  public static Future<Void> pruneDead(SqlClient db) {
    return db.query(PRUNE_DEAD).execute().mapEmpty();
  }
}
