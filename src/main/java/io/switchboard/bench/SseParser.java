package io.switchboard.bench;

import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * An incremental {@code text/event-stream} parser: bytes in, events out (the HTML standard's
 * rules, as far as a client that only reads needs them: {@code id}, {@code event}, {@code data},
 * {@code retry}, comments, CRLF or LF). Lines are decoded as UTF-8 only once whole, so a
 * character split across reads is never corrupted.
 */
final class SseParser {

  /** Where events go. */
  interface Handler {
    void event(String id, String type, String data);

    default void retry(long millis) {
    }
  }

  private final Handler handler;
  private byte[] line = new byte[512];
  private int len;
  private boolean lastWasCr;
  private String id;
  private String type;
  private StringBuilder data;

  SseParser(Handler handler) {
    this.handler = handler;
  }

  void feed(Buffer chunk) {
    byte[] bytes = chunk.getBytes();
    for (byte b : bytes) {
      if (b == '\n') {
        if (lastWasCr) {
          lastWasCr = false;
          continue;
        }
        endLine();
      } else if (b == '\r') {
        lastWasCr = true;
        endLine();
      } else {
        lastWasCr = false;
        if (len == line.length) {
          line = java.util.Arrays.copyOf(line, len * 2);
        }
        line[len++] = b;
      }
    }
  }

  private void endLine() {
    if (len == 0) {
      dispatch();
      return;
    }
    if (line[0] == ':') {
      len = 0;
      return;
    }
    int colon = -1;
    for (int i = 0; i < len; i++) {
      if (line[i] == ':') {
        colon = i;
        break;
      }
    }
    String field;
    String value;
    if (colon < 0) {
      field = new String(line, 0, len, StandardCharsets.UTF_8);
      value = "";
    } else {
      field = new String(line, 0, colon, StandardCharsets.US_ASCII);
      int v = colon + 1;
      if (v < len && line[v] == ' ') {
        v++;
      }
      value = new String(line, v, len - v, StandardCharsets.UTF_8);
    }
    len = 0;
    switch (field) {
      case "data" -> {
        if (data == null) {
          data = new StringBuilder(value);
        } else {
          data.append('\n').append(value);
        }
      }
      case "event" -> type = value;
      case "id" -> id = value;
      case "retry" -> {
        try {
          handler.retry(Long.parseLong(value.trim()));
        } catch (NumberFormatException ignored) {
          // not a number: ignored, as a browser does
        }
      }
      default -> {
      }
    }
  }

  private void dispatch() {
    if (data != null) {
      handler.event(id, type == null ? "message" : type, data.toString());
    }
    data = null;
    type = null;
    // The id, as in a browser, stays the last one seen (the cursor to resume from).
  }
}
