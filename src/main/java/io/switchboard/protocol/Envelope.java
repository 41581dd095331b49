package io.switchboard.protocol;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The one message shape of every transport (SPEC §2):
 * {@code {"type", "payload", "requestId"?, "timestamp"?}}.
 */
public record Envelope(String type, JsonObject payload, String requestId, String timestamp) {

  private static final DateTimeFormatter TIMESTAMP =
    DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** An envelope to send, stamped now. */
  public static Envelope of(String type, JsonObject payload) {
    return new Envelope(type, payload, null, now());
  }

  /**
   * Marks an event envelope on the bus as not for one connection (e.g. the device that answered
   * a call does not get {@code answered_elsewhere}). The gateway strips the mark before sending.
   */
  public static final String EXCEPT = "exceptConnection";

  /** An {@code error} envelope answering a request. */
  public static Envelope error(ServiceException e, String requestId) {
    return new Envelope(Types.ERROR, e.toJson(), requestId, now());
  }

  /** The same envelope answering {@code requestId}. */
  public Envelope withRequestId(String id) {
    return new Envelope(type, payload, id, timestamp == null ? now() : timestamp);
  }

  /** ISO-8601 UTC with milliseconds, e.g. {@code 2026-01-01T00:00:00.000Z}. */
  public static String now() {
    return format(Instant.now());
  }

  public static String format(Instant instant) {
    return TIMESTAMP.format(instant);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("type", type).put("payload", payload == null ? new JsonObject() : payload);
    if (requestId != null) {
      json.put("requestId", requestId);
    }
    json.put("timestamp", timestamp == null ? now() : timestamp);
    return json;
  }

  /** Reads an envelope from JSON text, failing with {@code invalid_request} on anything else. */
  public static Envelope parse(String text) {
    JsonObject json;
    try {
      json = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      throw ServiceException.invalid("malformed JSON: expected an envelope object");
    }
    return fromJson(json);
  }

  /**
   * Reads an envelope from a JSON object, checking field types, and that every string in it is
   * text ({@link Text}): the payload is checked whole, nested content included, so no service
   * ever sees a NUL or an unpaired surrogate from a client.
   */
  public static Envelope fromJson(JsonObject json) {
    return read(json, true);
  }

  /**
   * An envelope Switchboard wrote itself (a service's reply on the bus): its text was checked on
   * the way in or comes from the database, so it is not scanned again on every reply.
   */
  public static Envelope fromBus(JsonObject json) {
    return read(json, false);
  }

  private static Envelope read(JsonObject json, boolean clientInput) {
    Object requestId = json.getValue("requestId");
    if (requestId != null && !(requestId instanceof String)) {
      throw ServiceException.invalid("'requestId' must be a string");
    }
    if (requestId != null && ((String) requestId).length() > 128) {
      throw ServiceException.invalid("'requestId' must be at most 128 characters");
    }
    if (clientInput) {
      Text.check("requestId", (String) requestId);
    }
    Object type = json.getValue("type");
    if (!(type instanceof String t) || t.isBlank()) {
      throw ServiceException.invalid("'type' must be a non-empty string");
    }
    if (clientInput) {
      Text.check("type", t);
    }
    Object payload = json.getValue("payload");
    if (payload != null && !(payload instanceof JsonObject)) {
      throw ServiceException.invalid("'payload' must be an object");
    }
    if (clientInput) {
      Text.checkJson("payload", payload);
    }
    return new Envelope(t, payload == null ? new JsonObject() : (JsonObject) payload, (String) requestId, null);
  }

  /**
   * The {@code requestId} of an envelope that {@link #parse} refused, when it has a usable one, so
   * that the error still answers the command it refuses (SPEC §2); else null.
   */
  public static String requestIdOf(String text) {
    try {
      return new JsonObject(text).getValue("requestId") instanceof String id
        && id.length() <= 128 && Text.problem(id) == null ? id : null;
    } catch (RuntimeException e) {
      return null;
    }
  }
}
