package io.switchboard.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.Types;
import io.vertx.core.json.JsonObject;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * An event as this node delivers it, encoded once per node whatever the number of connections
 * (DESIGN §2): the envelope's JSON text, and — built on first use, then shared by every
 * connection of every event loop — the bytes of a WebSocket text frame and of the SSE
 * {@code event:}/{@code data:} lines. Only the SSE {@code id:} line, the cursor, is written per
 * connection.
 *
 * <p>The shared byte buffers are direct (the socket writes them without a copy) and never
 * released: each connection writes a {@link ByteBuf#duplicate() duplicate}, and the memory goes
 * with the frame when the garbage collector takes it.
 */
public final class Frame {

  /** Timeline events: they carry conversationId and a gapless seq, and are replayed on resume. */
  static final Set<String> DURABLE = Set.of(Types.MESSAGE_RECEIVED, Types.MEMBER_JOINED, Types.MEMBER_LEFT,
    Types.MESSAGE_EDITED, Types.MESSAGE_DELETED, Types.REACTION_UPDATED, Types.CONVERSATION_UPDATED);

  private final String type;
  private final JsonObject payload;
  private final String text;
  private final String conversationId;
  private final String userId;
  private final long seq;
  private final String except;
  private final boolean durable;
  private volatile ByteBuf ws;
  private volatile ByteBuf sse;
  private volatile ByteBuf sseChunk;

  private Frame(JsonObject envelope) {
    String exceptConnection = envelope.getString(Envelope.EXCEPT);
    if (exceptConnection != null || envelope.containsKey(Events.TO)) {
      envelope = envelope.copy();
      envelope.remove(Envelope.EXCEPT);
      envelope.remove(Events.TO);
    }
    this.except = exceptConnection;
    this.type = envelope.getString("type");
    this.payload = envelope.getJsonObject("payload", new JsonObject());
    this.text = envelope.encode();
    this.conversationId = payload.getString("conversationId");
    this.userId = payload.getValue("userId") instanceof String u ? u : null;
    Object s = payload.getValue("seq");
    this.seq = s instanceof Number n ? n.longValue() : 0L;
    this.durable = DURABLE.contains(type) && conversationId != null && seq > 0;
  }

  /** Encodes an envelope received from the bus, replayed, or written to one connection. */
  public static Frame of(JsonObject envelope) {
    return new Frame(envelope);
  }

  /** Encodes an envelope. */
  public static Frame of(Envelope envelope) {
    return new Frame(envelope.toJson());
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

  public String conversationId() {
    return conversationId;
  }

  /** The payload's {@code userId} (whom a membership or presence event is about), or null. */
  public String userId() {
    return userId;
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
    return durable;
  }

  /** Bytes this event occupies on the wire, roughly (queue accounting). */
  public int size() {
    return text.length() + 32;
  }

  /** The WebSocket text frame (server frames are not masked): header and UTF-8 payload. */
  public ByteBuf ws() {
    ByteBuf b = ws;
    if (b == null) {
      byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
      int n = utf8.length;
      int header = n < 126 ? 2 : n < 65536 ? 4 : 10;
      ByteBuffer out = ByteBuffer.allocateDirect(header + n);
      out.put((byte) 0x81);
      if (n < 126) {
        out.put((byte) n);
      } else if (n < 65536) {
        out.put((byte) 126).putShort((short) n);
      } else {
        out.put((byte) 127).putLong(n);
      }
      out.put(utf8).flip();
      b = shared(out);
      ws = b;
    }
    return b.duplicate();
  }

  /** The SSE lines of this event after its {@code id:} line. */
  public ByteBuf sse() {
    ByteBuf b = sse;
    if (b == null) {
      byte[] lines = sseLines();
      ByteBuffer out = ByteBuffer.allocateDirect(lines.length).put(lines).flip();
      b = shared(out);
      sse = b;
    }
    return b.duplicate();
  }

  /**
   * The SSE lines framed as one HTTP/1.1 chunk (size line, lines, CRLF): what an SSE stream writes
   * for an event without an {@code id:} line, past the HTTP encoder (DESIGN §2).
   */
  public ByteBuf sseChunk() {
    ByteBuf b = sseChunk;
    if (b == null) {
      byte[] chunk = httpChunk(sseLines());
      b = shared(ByteBuffer.allocateDirect(chunk.length).put(chunk).flip());
      sseChunk = b;
    }
    return b.duplicate();
  }

  private byte[] sseLines() {
    return ("event: " + type + "\ndata: " + text + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  /** {@code bytes} as one HTTP/1.1 chunk: the size in hex, CRLF, the bytes, CRLF. */
  public static byte[] httpChunk(byte[] bytes) {
    byte[] size = (Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] chunk = new byte[size.length + bytes.length + 2];
    System.arraycopy(size, 0, chunk, 0, size.length);
    System.arraycopy(bytes, 0, chunk, size.length, bytes.length);
    chunk[chunk.length - 2] = '\r';
    chunk[chunk.length - 1] = '\n';
    return chunk;
  }

  private static ByteBuf shared(ByteBuffer direct) {
    return Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(direct));
  }
}
