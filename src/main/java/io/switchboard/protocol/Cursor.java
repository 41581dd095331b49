package io.switchboard.protocol;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A resume cursor (DESIGN §4), sent as the SSE {@code id} and accepted by {@code resume}:
 * {@code <sessionId>.<p>:<seq>,<p>:<seq>} where {@code p} is the first 8 hex digits of a
 * conversation id and {@code seq} the last seq delivered for it on the stream since the session
 * began. Conversations without an entry are at the session's snapshot.
 */
public record Cursor(String sessionId, Map<String, Long> positions) {

  static final int PREFIX = 8;
  private static final Pattern SESSION = Pattern.compile("[A-Za-z0-9_-]{10,64}");
  private static final Pattern ENTRY = Pattern.compile("[0-9a-f]{8}:[0-9]{1,18}");
  private static final int MAX_ENTRIES = 10_000;

  /** The cursor prefix of a conversation id. */
  public static String prefix(String conversationId) {
    return conversationId.replace("-", "").substring(0, PREFIX);
  }

  /** Parses a cursor; null when it is not one. */
  public static Cursor parse(String text) {
    if (text == null) {
      return null;
    }
    int dot = text.indexOf('.');
    if (dot < 0 || !SESSION.matcher(text.substring(0, dot)).matches()) {
      return null;
    }
    Map<String, Long> positions = new LinkedHashMap<>();
    String rest = text.substring(dot + 1);
    if (!rest.isEmpty()) {
      String[] entries = rest.split(",");
      if (entries.length > MAX_ENTRIES) {
        return null;
      }
      for (String entry : entries) {
        if (!ENTRY.matcher(entry).matches()) {
          return null;
        }
        positions.merge(entry.substring(0, PREFIX), Long.parseLong(entry.substring(PREFIX + 1)), Math::max);
      }
    }
    return new Cursor(text.substring(0, dot), positions);
  }

  /** The text form; {@code positions} keyed by full conversation id. */
  public static String format(String sessionId, Map<String, Long> positions) {
    StringBuilder sb = new StringBuilder(sessionId.length() + 1 + positions.size() * 20).append(sessionId).append('.');
    boolean first = true;
    for (Map.Entry<String, Long> e : positions.entrySet()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append(prefix(e.getKey())).append(':').append(e.getValue());
    }
    return sb.toString();
  }
}
