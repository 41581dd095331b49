package io.switchboard.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * SQL of message search (SPEC §3b): PostgreSQL full-text search over the generated
 * {@code messages.search} column (GIN index {@code messages_search}), with
 * {@code websearch_to_tsquery} (the syntax people type: words, {@code "a phrase"}, {@code or},
 * {@code -word}; it never fails on bad syntax), ranked by {@code ts_rank}, paged by keyset on
 * (rank, time, id), with {@code ts_headline} snippets. Only what the reader can read: the
 * conversations they are in now, from the seq they joined at.
 */
public final class SearchStore {

  /** The text search configuration: no stemming and no stop words, so every language is treated alike. */
  public static final String CONFIG = "simple";
  /** Marks of the matched words in a snippet (private-use characters, removed from the text first). */
  public static final char START = '\uE000';
  public static final char STOP = '\uE001';
  static final String HEADLINE_OPTIONS = "StartSel=" + START + ", StopSel=" + STOP
    + ", MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \"";

  /**
   * The best {@code limit} hits after a cursor, then their snippets (ts_headline, the costly part,
   * runs for those rows only). $1 reader, $2 query text, $3 conversation or null, $4/$5/$6 the
   * cursor's rank, time and id or nulls, $7 limit, $8 headline options.
   */
  static final String SEARCH = """
    /* search */ WITH q AS MATERIALIZED (SELECT websearch_to_tsquery('simple', $2) AS q),
    hits AS (
      SELECT x.conversation_id, x.seq, ts_rank(x.search, q.q) AS rank, x.created_at, x.id
      FROM q, members mm JOIN messages x ON x.conversation_id = mm.conversation_id
      WHERE mm.user_id = $1 AND mm.left_seq IS NULL AND ($3::uuid IS NULL OR mm.conversation_id = $3)
        AND x.search @@ q.q AND x.seq > mm.joined_seq
        AND ($4::real IS NULL OR (ts_rank(x.search, q.q), x.created_at, x.id) < ($4::real, $5::timestamptz, $6::uuid))
      ORDER BY rank DESC, x.created_at DESC, x.id DESC
      LIMIT $7)
    SELECT x.conversation_id, x.seq, x.id, x.sender_id, x.kind, x.content::text AS content, x.reply_to,
      x.client_message_id, x.created_at, x.thread_id, x.edited_at, x.deleted_at, x.thread_replies, x.thread_last_at,
      h.rank, ts_headline('simple', translate(x.content #>> '{}', E'\\uE000\\uE001', ''), q.q, $8) AS snippet
    FROM hits h JOIN messages x ON x.conversation_id = h.conversation_id AND x.seq = h.seq, q
    ORDER BY h.rank DESC, h.created_at DESC, h.id DESC""";

  private SearchStore() {
  }

  /** Where a page ended: the last hit's rank, time (microseconds since the epoch) and id. */
  public record After(float rank, long micros, UUID id) {
  }

  /** One hit: the message as it is now, its snippet (with {@link #START}/{@link #STOP} marks), and where it sorts. */
  public record Hit(JsonObject message, String snippet, After position) {
  }

  public static Future<List<Hit>> search(SqlClient db, String readerId, String query, UUID conversationId, After after,
                                         int limit) {
    Tuple params = Tuple.tuple().addString(readerId).addString(query).addValue(conversationId)
      .addValue(after == null ? null : after.rank())
      .addValue(after == null ? null : time(after.micros()))
      .addValue(after == null ? null : after.id())
      .addInteger(limit)
      .addString(HEADLINE_OPTIONS);
    return db.preparedQuery(SEARCH).execute(params).map(rows -> {
      List<Hit> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        OffsetDateTime created = r.getOffsetDateTime("created_at");
        Instant at = created.toInstant();
        long micros = at.getEpochSecond() * 1_000_000L + at.getNano() / 1_000;
        out.add(new Hit(MessageStore.json(r), r.getString("snippet"),
          new After(r.getFloat("rank"), micros, r.getUUID("id"))));
      }
      return out;
    });
  }

  private static OffsetDateTime time(long micros) {
    return OffsetDateTime.ofInstant(Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
      Math.floorMod(micros, 1_000_000L) * 1_000L), ZoneOffset.UTC);
  }
}
