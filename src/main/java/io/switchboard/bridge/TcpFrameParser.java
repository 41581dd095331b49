package io.switchboard.bridge;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;

import java.util.function.LongConsumer;

/**
 * The TCP bridge framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON. A
 * length over {@code maxFrameBytes} is reported and everything after it ignored, so a client
 * cannot make the server buffer more than one frame's worth of bytes.
 */
final class TcpFrameParser implements Handler<Buffer> {

  private final int maxFrameBytes;
  private final Handler<Buffer> frames;
  private final LongConsumer tooLarge;
  private Buffer pending = Buffer.buffer();
  private boolean failed;

  TcpFrameParser(int maxFrameBytes, Handler<Buffer> frames, LongConsumer tooLarge) {
    this.maxFrameBytes = maxFrameBytes;
    this.frames = frames;
    this.tooLarge = tooLarge;
  }

  @Override
  public void handle(Buffer chunk) {
    if (failed) {
      return;
    }
    pending = pending.length() == 0 ? chunk : pending.appendBuffer(chunk);
    int offset = 0;
    while (pending.length() - offset >= 4) {
      long length = Integer.toUnsignedLong(pending.getInt(offset));
      if (length > maxFrameBytes) {
        failed = true;
        pending = Buffer.buffer();
        tooLarge.accept(length);
        return;
      }
      if (pending.length() - offset - 4 < length) {
        break;
      }
      Buffer frame = pending.getBuffer(offset + 4, offset + 4 + (int) length);
      offset += 4 + (int) length;
      frames.handle(frame);
      if (failed) {
        return;
      }
    }
    pending = offset == 0 ? pending : pending.getBuffer(offset, pending.length());
  }

  /** Stops parsing (the socket is closing). */
  void stop() {
    failed = true;
    pending = Buffer.buffer();
  }
}
