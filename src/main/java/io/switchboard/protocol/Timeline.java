package io.switchboard.protocol;

import io.vertx.core.json.JsonObject;

import java.util.Set;

/**
 * How a timeline item (a stored message) is delivered as an event: live, on resume, and when a
 * node fills a gap from PostgreSQL. Every change of a conversation is a {@code system} item whose
 * content names its event (SPEC §3, §3b), so the three paths give the same event.
 */
public final class Timeline {

  /** System items that are delivered as the message plus their fields (membership changes). */
  private static final Set<String> MEMBERSHIP = Set.of(Types.MEMBER_JOINED, Types.MEMBER_LEFT);
  /** System items that are delivered as an event of their own, built from their content. */
  private static final Set<String> CHANGES = Set.of(Types.MESSAGE_EDITED, Types.MESSAGE_DELETED,
    Types.REACTION_UPDATED, Types.CONVERSATION_UPDATED);

  private Timeline() {
  }

  /**
   * A membership item is delivered as {@code member_joined}/{@code member_left}: the message plus
   * {@code userId} (and {@code by}, for a member removed by someone else). A change of a message or
   * of the conversation ({@code message_edited}, {@code message_deleted}, {@code reaction_updated},
   * {@code conversation_updated}) as its event: {@code {id, conversationId, seq, senderId,
   * createdAt}} of the item (the sender is who made the change) plus the fields of its content.
   * Anything else is a {@code message_received}.
   */
  public static Envelope event(JsonObject message) {
    if ("system".equals(message.getString("kind")) && message.getValue("content") instanceof JsonObject c) {
      String event = c.getString("event");
      if (MEMBERSHIP.contains(event)) {
        JsonObject payload = message.copy().put("userId", c.getString("userId"));
        if (c.getString("by") != null) {
          payload.put("by", c.getString("by"));
        }
        return Envelope.of(event, payload);
      }
      if (CHANGES.contains(event)) {
        JsonObject payload = new JsonObject()
          .put("id", message.getString("id"))
          .put("conversationId", message.getString("conversationId"))
          .put("seq", message.getLong("seq"))
          .put("senderId", message.getString("senderId"))
          .put("createdAt", message.getString("createdAt"));
        c.forEach(e -> {
          if (!"event".equals(e.getKey())) {
            payload.put(e.getKey(), e.getValue());
          }
        });
        if (Types.MESSAGE_EDITED.equals(event) && !payload.containsKey("content")) {
          // The message was deleted since: its edits lost their text with it.
          payload.putNull("content");
        }
        return Envelope.of(event, payload);
      }
    }
    return Envelope.of(Types.MESSAGE_RECEIVED, message);
  }
}
