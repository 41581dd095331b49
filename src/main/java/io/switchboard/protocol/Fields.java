package io.switchboard.protocol;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Typed reads of payload fields. Each failure is an {@code invalid_request} naming the field, so
 * every command path answers malformed input the same way.
 */
public final class Fields {

  private Fields() {
  }

  public static String requiredString(JsonObject p, String field, int maxLength) {
    String s = optionalString(p, field, maxLength);
    if (s == null || s.isBlank()) {
      throw ServiceException.invalid("'" + field + "' is required and must be a non-empty string");
    }
    return s;
  }

  public static String optionalString(JsonObject p, String field, int maxLength) {
    Object v = p.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s)) {
      throw ServiceException.invalid("'" + field + "' must be a string");
    }
    if (s.length() > maxLength) {
      throw ServiceException.invalid("'" + field + "' must be at most " + maxLength + " characters");
    }
    return s;
  }

  /** A conversation id: a UUID string. A well-formed id that is not a UUID cannot exist: not_found. */
  public static UUID conversationId(JsonObject p, String field) {
    return uuid(requiredString(p, field, 64), "conversation");
  }

  public static UUID uuid(String s, String what) {
    try {
      return UUID.fromString(s);
    } catch (IllegalArgumentException e) {
      throw ServiceException.notFound("no such " + what);
    }
  }

  public static Long optionalLong(JsonObject p, String field, long min, long max) {
    Object v = p.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
      throw ServiceException.invalid("'" + field + "' must be a whole number");
    }
    long l = n.longValue();
    if (l < min || l > max) {
      throw ServiceException.invalid("'" + field + "' must be between " + min + " and " + max);
    }
    return l;
  }

  public static long requiredLong(JsonObject p, String field, long min, long max) {
    Long l = optionalLong(p, field, min, max);
    if (l == null) {
      throw ServiceException.invalid("'" + field + "' is required and must be a whole number");
    }
    return l;
  }

  public static Boolean optionalBoolean(JsonObject p, String field) {
    Object v = p.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Boolean b)) {
      throw ServiceException.invalid("'" + field + "' must be a boolean");
    }
    return b;
  }

  /** An optional array of non-empty strings, each at most {@code maxLength}, at most {@code maxItems}. */
  public static List<String> stringList(JsonObject p, String field, int maxItems, int maxLength) {
    Object v = p.getValue(field);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof JsonArray a)) {
      throw ServiceException.invalid("'" + field + "' must be an array of strings");
    }
    if (a.size() > maxItems) {
      throw ServiceException.invalid("'" + field + "' must have at most " + maxItems + " items");
    }
    List<String> out = new ArrayList<>(a.size());
    for (Object item : a) {
      if (!(item instanceof String s) || s.isBlank()) {
        throw ServiceException.invalid("'" + field + "' must be an array of non-empty strings");
      }
      if (s.length() > maxLength) {
        throw ServiceException.invalid("'" + field + "' items must be at most " + maxLength + " characters");
      }
      out.add(s);
    }
    return out;
  }
}
