package io.switchboard.protocol;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;

/**
 * The one rule for text that enters Switchboard, wherever it enters (REST bodies and query
 * parameters, WebSocket and bridge envelopes, token claims): no NUL character and no unpaired
 * surrogate. PostgreSQL cannot store a NUL in {@code text} or {@code jsonb} (the command would
 * fail after it was accepted), and an unpaired surrogate is not Unicode at all (it would be
 * stored as {@code ?}, silently changed). Both are refused with {@code invalid_request} naming
 * the field, before anything runs.
 */
public final class Text {

  private Text() {
  }

  /** What is wrong with {@code s}, or null when it is acceptable text. */
  public static String problem(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (c == '\u0000') {
        return "contains a NUL character (\\u0000)";
      }
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return "contains an unpaired surrogate (\\u" + Integer.toHexString(c) + "), which is not Unicode text";
        }
      } else if (Character.isLowSurrogate(c)) {
        return "contains an unpaired surrogate (\\u" + Integer.toHexString(c) + "), which is not Unicode text";
      }
    }
    return null;
  }

  /** {@code s} unchanged, or {@code invalid_request} naming {@code field}. Null is left to the caller. */
  public static String check(String field, String s) {
    String problem = s == null ? null : problem(s);
    if (problem != null) {
      throw ServiceException.invalid("'" + field + "' " + problem);
    }
    return s;
  }

  /**
   * Checks every string in a JSON value, object keys included, at any depth. The field named in
   * the error is the path to the bad string: {@code content.text}, {@code participantIds[2]}.
   * {@code path} is the value's own name ("" for a whole body).
   */
  public static void checkJson(String path, Object value) {
    if (value instanceof String s) {
      check(path.isEmpty() ? "body" : path, s);
    } else if (value instanceof JsonObject o) {
      checkMap(path, o.getMap());
    } else if (value instanceof Map<?, ?> m) {
      checkMap(path, m);
    } else if (value instanceof JsonArray a) {
      checkList(path, a.getList());
    } else if (value instanceof List<?> l) {
      checkList(path, l);
    }
  }

  private static void checkMap(String path, Map<?, ?> map) {
    for (Map.Entry<?, ?> e : map.entrySet()) {
      String key = String.valueOf(e.getKey());
      String problem = problem(key);
      if (problem != null) {
        throw ServiceException.invalid("a key in '" + (path.isEmpty() ? "body" : path) + "' " + problem);
      }
      checkJson(path.isEmpty() ? key : path + "." + key, e.getValue());
    }
  }

  private static void checkList(String path, List<?> list) {
    for (int i = 0; i < list.size(); i++) {
      checkJson((path.isEmpty() ? "body" : path) + "[" + i + "]", list.get(i));
    }
  }
}
