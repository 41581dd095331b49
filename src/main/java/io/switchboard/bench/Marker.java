package io.switchboard.bench;

/**
 * The bench's own mark inside a published message, {@code @b:<n>:<nanos>;} (a measured message)
 * or {@code @p:<n>:<nanos>;} (a probe), where {@code nanos} is the bench process's
 * {@link System#nanoTime()} at publish. It holds no quote or backslash, so it reads the same
 * inside an SSE data line, a WebSocket envelope, a long-poll answer or a SockJS frame (a JSON
 * string inside a JSON array), and the receiver finds it with a scan instead of a JSON parse.
 */
final class Marker {

  /** A measured message. */
  static final char BENCH = 'b';
  /** A probe: proves a subscriber receives before measuring starts. */
  static final char PROBE = 'p';

  private Marker() {
  }

  /** The message text: the mark, padded with {@code x} to {@code size} characters. */
  static String text(char kind, long n, long nanos, int size) {
    StringBuilder sb = new StringBuilder(Math.max(size, 32)).append('@').append(kind).append(':')
      .append(n).append(':').append(nanos).append(';');
    while (sb.length() < size) {
      sb.append('x');
    }
    return sb.toString();
  }

  /** What a scan finds. */
  interface Found {
    void mark(char kind, long n, long nanos);
  }

  /** Calls {@code found} for every mark in {@code text}; returns how many it found. */
  static int scan(CharSequence text, Found found) {
    int count = 0;
    int len = text.length();
    for (int i = 0; i + 4 < len; i++) {
      if (text.charAt(i) != '@') {
        continue;
      }
      char kind = text.charAt(i + 1);
      if ((kind != BENCH && kind != PROBE) || text.charAt(i + 2) != ':') {
        continue;
      }
      int j = i + 3;
      long n = 0;
      int start = j;
      while (j < len && Character.isDigit(text.charAt(j))) {
        n = n * 10 + (text.charAt(j++) - '0');
      }
      if (j == start || j >= len || text.charAt(j) != ':') {
        continue;
      }
      j++;
      long nanos = 0;
      boolean negative = j < len && text.charAt(j) == '-';
      if (negative) {
        j++;
      }
      start = j;
      while (j < len && Character.isDigit(text.charAt(j))) {
        nanos = nanos * 10 + (text.charAt(j++) - '0');
      }
      if (j == start || j >= len || text.charAt(j) != ';') {
        continue;
      }
      found.mark(kind, n, negative ? -nanos : nanos);
      count++;
      i = j;
    }
    return count;
  }
}
