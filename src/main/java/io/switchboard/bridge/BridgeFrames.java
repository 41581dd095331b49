package io.switchboard.bridge;

import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;

/**
 * The Vert.x event-bus bridge frames, as the official clients expect them. Both bridges read
 * {@code send|publish|register|unregister|ping} frames and answer with message, {@code err} and
 * (TCP only) {@code pong} frames.
 *
 * <p>The two Vert.x bridges differ in small ways and we copy each exactly, so that unmodified
 * clients work: vertx-web's SockJS bridge names a delivered message {@code rec} and never answers
 * a ping; vertx-tcp-eventbus-bridge names it {@code message}, adds {@code send} (whether it is a
 * point-to-point reply) and answers a ping with {@code pong}.
 */
final class BridgeFrames {

  /** Which bridge's flavour of the frames a socket speaks. */
  enum Dialect {
    /** vertx-web's SockJS bridge ({@code @vertx/eventbus-bridge-client.js}). */
    SOCKJS("rec", false),
    /** vertx-tcp-eventbus-bridge (length-prefixed frames). */
    TCP("message", true);

    final String messageType;
    final boolean answersPing;

    Dialect(String messageType, boolean answersPing) {
      this.messageType = messageType;
      this.answersPing = answersPing;
    }
  }

  // Refusal codes (the err frame's failureType), named as the Vert.x bridges name them where
  // they have a name for it.
  static final String INVALID_JSON = "invalid_json";
  static final String MISSING_TYPE = "missing_type";
  static final String MISSING_ADDRESS = "missing_address";
  static final String INVALID_TYPE = "invalid_type";
  static final String INVALID_REPLY_ADDRESS = "invalid_reply_address";
  static final String ACCESS_DENIED = "access_denied";
  static final String UNAUTHORIZED = "unauthorized";
  static final String TOO_LARGE = "too_large";

  /** The failureCode of a refused frame, as in Vert.x for failures that are not replies. */
  static final int REFUSED = -1;

  static final String PONG = "{\"type\":\"pong\"}";

  private BridgeFrames() {
  }

  /**
   * A delivered message: an event on the user's address (with the stream cursor in the headers
   * for timeline events) or the reply to a send. {@code body} is JSON text, written as is so
   * that an event encoded once per node is not encoded again per connection.
   */
  static String message(Dialect dialect, String quotedAddress, String cursor, String body, boolean reply) {
    StringBuilder sb = new StringBuilder(body.length() + quotedAddress.length() + 64);
    sb.append("{\"type\":\"").append(dialect.messageType).append("\",\"address\":").append(quotedAddress);
    if (cursor != null) {
      sb.append(",\"headers\":{\"cursor\":").append(Json.encode(cursor)).append('}');
    }
    sb.append(",\"body\":").append(body);
    if (dialect == Dialect.TCP) {
      sb.append(",\"send\":").append(reply);
    }
    return sb.append('}').toString();
  }

  /**
   * An {@code err} frame. With {@code address} (the refused register's address or the send's
   * replyAddress) the npm client hands it to that handler or reply callback; without, to
   * {@code onerror}. {@code body} repeats the code, as vertx-web's bridge puts it there.
   */
  static String err(int failureCode, String failureType, String message, String address) {
    JsonObject frame = new JsonObject().put("type", "err");
    if (address != null) {
      frame.put("address", address);
    }
    return frame
      .put("failureCode", failureCode)
      .put("failureType", failureType)
      .put("message", message)
      .put("body", failureType)
      .encode();
  }

  /** A JSON string literal, for addresses written into frames. */
  static String quote(String s) {
    return Json.encode(s);
  }
}
