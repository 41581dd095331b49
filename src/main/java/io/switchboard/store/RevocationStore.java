package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** SQL of token revocations (SPEC §10): kept in PostgreSQL so that every node, and every restart, knows them. */
public final class RevocationStore {

  /** A token by jti; a later revocation of the same jti keeps the longer life (null: for good). */
  static final String TOKEN = """
    INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
    ON CONFLICT (jti) DO UPDATE SET expires_at = CASE
      WHEN revoked_tokens.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
      ELSE GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at) END""";
  /** Every token of a user issued before a time; the latest time wins. */
  static final String USER = """
    INSERT INTO revoked_users (user_id, issued_before) VALUES ($1, $2)
    ON CONFLICT (user_id) DO UPDATE SET issued_before = GREATEST(revoked_users.issued_before, EXCLUDED.issued_before)""";
  /** What a node loads: revocations of tokens not yet expired, and every user's. */
  static final String ALL = """
    SELECT jti, NULL::text, EXTRACT(EPOCH FROM expires_at)::bigint FROM revoked_tokens
      WHERE expires_at IS NULL OR expires_at > now() - interval '1 hour'
    UNION ALL
    SELECT NULL, user_id, EXTRACT(EPOCH FROM issued_before)::bigint FROM revoked_users""";
  static final String PRUNE = "DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour'";

  private RevocationStore() {
  }

  /** Records {@code {jti, exp?}} or {@code {userId, issuedBefore}} (epoch seconds). */
  public static Future<Void> add(SqlClient db, JsonObject revocation) {
    if (revocation.getValue("jti") instanceof String jti) {
      long exp = revocation.getLong("exp", 0L);
      return db.preparedQuery(TOKEN).execute(Tuple.of(jti, exp > 0 ? time(exp) : null)).mapEmpty();
    }
    return db.preparedQuery(USER)
      .execute(Tuple.of(revocation.getString("userId"), time(revocation.getLong("issuedBefore")))).mapEmpty();
  }

  /** Every revocation still in force, in the shape {@link #add} takes. */
  public static Future<JsonArray> all(SqlClient db) {
    return db.query(ALL).execute().map(rows -> {
      JsonArray out = new JsonArray();
      for (Row r : rows) {
        Long seconds = r.getLong(2);
        if (r.getString(0) != null) {
          out.add(new JsonObject().put("jti", r.getString(0)).put("exp", seconds == null ? 0L : seconds));
        } else {
          out.add(new JsonObject().put("userId", r.getString(1)).put("issuedBefore", seconds));
        }
      }
      return out;
    });
  }

  public static Future<Void> prune(SqlClient db) {
    return db.query(PRUNE).execute().mapEmpty();
  }

  private static OffsetDateTime time(long epochSeconds) {
    return OffsetDateTime.ofInstant(Instant.ofEpochSecond(epochSeconds), ZoneOffset.UTC);
  }
}
