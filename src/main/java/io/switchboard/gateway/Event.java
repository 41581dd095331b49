package io.switchboard.gateway;

import io.switchboard.protocol.Types;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * An event as this node delivers it, encoded once: the envelope's JSON text (WebSocket, bridges,
 * long-poll) and the SSE {@code event:}/{@code data:} lines. The same instances go to every local
 * connection; only the SSE {@code id:} line, the cursor, is written per connection.
 */
public final class Event {

  /** Timeline events: they carry conversationId and a gapless seq, and are replayed on resume. */
  static final Set<String> DURABLE = Set.of(Types.MESSAGE_RECEIVED, Types.MEMBER_JOINED, Types.MEMBER_LEFT);

  private final String type;
  private final JsonObject payload;
  private final String text;
  private final Buffer sse;
  private final String conversationId;
  private final long seq;
  private final String except;

  private Event(JsonObject envelope) {
    this.except = envelope.getString(io.switchboard.protocol.Envelope.EXCEPT);
    if (except != null) {
      envelope = envelope.copy();
      envelope.remove(io.switchboard.protocol.Envelope.EXCEPT);
    }
    this.type = envelope.getString("type");
    this.payload = envelope.getJsonObject("payload", new JsonObject());
    this.text = envelope.encode();
    this.sse = Buffer.buffer(("event: " + type + "\ndata: " + text + "\n\n").getBytes(StandardCharsets.UTF_8));
    this.conversationId = payload.getString("conversationId");
    Object s = payload.getValue("seq");
    this.seq = s instanceof Number n ? n.longValue() : 0L;
  }

  /** Encodes an envelope received from the bus (or replayed). */
  public static Event of(JsonObject envelope) {
    return new Event(envelope);
  }

  public String type() {
    return type;
  }

  public JsonObject payload() {
    return payload;
  }

  /** The envelope as JSON text. */
  public String text() {
    return text;
  }

  /** The SSE lines after {@code id:}. */
  public Buffer sse() {
    return sse;
  }

  public String conversationId() {
    return conversationId;
  }

  public long seq() {
    return seq;
  }

  /** The connection this event must not reach, or null. */
  public String except() {
    return except;
  }

  /** True for timeline events (ordered, deduplicated, replayed). */
  public boolean durable() {
    return DURABLE.contains(type) && conversationId != null && seq > 0;
  }

  /** Bytes this event occupies in an outbound queue. */
  public int size() {
    return sse.length();
  }
}
