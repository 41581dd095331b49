package io.switchboard.message;

import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.store.ConversationStore;
import io.switchboard.store.Db;
import io.switchboard.store.MessageStore;
import io.switchboard.store.SearchStore;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * {@code search_messages {q, conversationId?, limit?, cursor?}} → {@code search_results
 * {results:[{message, snippet}], next}} (SPEC §3b): full-text search over the messages the caller
 * can read, best first. The query is bound as a parameter and parsed by
 * {@code websearch_to_tsquery}, which accepts any text, so no input is SQL or query syntax that
 * can fail. A snippet is HTML-safe text: the message's words, escaped, with each match in
 * {@code <mark>…</mark>}. {@code next} is an opaque cursor for the following page, or null.
 */
final class Search {

  static final int MAX_QUERY = 256;
  static final int DEFAULT_LIMIT = 20;
  static final int MAX_LIMIT = 50;
  static final int MAX_CURSOR = 200;

  private final Pool pool;

  Search(Pool pool) {
    this.pool = pool;
  }

  Future<Envelope> search(Command cmd) {
    JsonObject p = cmd.payload();
    String q = Fields.optionalString(p, "q", MAX_QUERY);
    if (q == null || q.isBlank()) {
      throw ServiceException.invalid("'q' is required: the words to search for, at most " + MAX_QUERY + " characters");
    }
    UUID conversationId = p.getValue("conversationId") == null ? null : Fields.conversationId(p, "conversationId");
    Long limit = Fields.optionalLong(p, "limit", 1, MAX_LIMIT);
    int n = limit == null ? DEFAULT_LIMIT : limit.intValue();
    String cursor = Fields.optionalString(p, "cursor", MAX_CURSOR);
    SearchStore.After after = cursor == null || cursor.isEmpty() ? null : decode(cursor);
    String userId = cmd.userId();
    Future<Void> allowed = conversationId == null ? Future.succeededFuture()
      : ConversationStore.requireMember(pool, conversationId, userId);
    return allowed
      .compose(v -> SearchStore.search(pool, userId, q.strip(), conversationId, after, n + 1))
      .compose(hits -> {
        List<SearchStore.Hit> page = hits.size() > n ? hits.subList(0, n) : hits;
        List<JsonObject> messages = new ArrayList<>(page.size());
        page.forEach(h -> messages.add(h.message()));
        return MessageStore.withReactions(pool, messages, userId).map(v -> {
          JsonArray results = new JsonArray();
          page.forEach(h -> results.add(new JsonObject().put("message", h.message()).put("snippet", snippet(h.snippet()))));
          return new JsonObject()
            .put("results", results)
            .put("next", hits.size() > n ? encode(page.get(page.size() - 1).position()) : null);
        });
      })
      .recover(Db::failure)
      .map(reply -> Envelope.of(Types.SEARCH_RESULTS, reply));
  }

  /** The headline's text escaped for HTML, its match marks made {@code <mark>} elements. */
  static String snippet(String headline) {
    if (headline == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder(headline.length() + 32);
    for (int i = 0; i < headline.length(); i++) {
      char c = headline.charAt(i);
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '"' -> sb.append("&quot;");
        case '\'' -> sb.append("&#39;");
        case SearchStore.START -> sb.append("<mark>");
        case SearchStore.STOP -> sb.append("</mark>");
        default -> sb.append(c);
      }
    }
    return sb.toString().strip();
  }

  static String encode(SearchStore.After after) {
    String json = new JsonObject().put("r", Float.floatToIntBits(after.rank())).put("t", after.micros()).put("i", after.id().toString()).encode();
    return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  static SearchStore.After decode(String cursor) {
    try {
      JsonObject json = new JsonObject(new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8));
      // The rank travels as its bits: the next page compares it exactly with the recomputed one.
      Number rank = json.getNumber("r");
      Number micros = json.getNumber("t");
      String id = json.getString("i");
      if (rank != null && micros != null && id != null) {
        return new SearchStore.After(Float.intBitsToFloat(rank.intValue()), micros.longValue(), UUID.fromString(id));
      }
    } catch (IllegalArgumentException | DecodeException | ClassCastException e) {
      // Not one of ours: answered below.
    }
    throw ServiceException.invalid("'cursor' is not a cursor of a search (use the 'next' of a previous page)");
  }
}
