package io.switchboard.protocol;

import io.vertx.core.json.JsonObject;

/** How a timeline item (a stored message) is delivered as an event. */
public final class Timeline {

  private Timeline() {
  }

  /**
   * A system item is delivered as its membership event ({@code member_joined}/{@code member_left},
   * payload = the message plus {@code userId}); anything else as {@code message_received}.
   */
  public static Envelope event(JsonObject message) {
    if ("system".equals(message.getString("kind")) && message.getValue("content") instanceof JsonObject c) {
      String event = c.getString("event");
      if (Types.MEMBER_JOINED.equals(event) || Types.MEMBER_LEFT.equals(event)) {
        return Envelope.of(event, message.copy().put("userId", c.getString("userId")));
      }
    }
    return Envelope.of(Types.MESSAGE_RECEIVED, message);
  }
}
