package io.switchboard.testing;

import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, byte by byte as a client (or an attacker) writes it: requests no
 * HTTP client library would send (a URI or header over the limits, headers trickled line by line,
 * a connection left idle), and the server's answer read as it comes, or the server's close.
 * Blocking, for test threads; every read has a timeout.
 */
public final class RawHttp implements AutoCloseable {

  /** A response: status, headers (lower-case names) and body. */
  public record Response(int status, Map<String, String> headers, String body) {
    public JsonObject json() {
      return new JsonObject(body);
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private RawHttp(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  /** Connects to the node's HTTP port; reads time out after {@code readTimeoutMillis}. */
  public static RawHttp connect(int port, int readTimeoutMillis) {
    try {
      Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
      s.setSoTimeout(readTimeoutMillis);
      return new RawHttp(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes {@code text} (ISO-8859-1, as HTTP heads are) and flushes it. */
  public RawHttp write(String text) {
    return write(text.getBytes(StandardCharsets.ISO_8859_1));
  }

  public RawHttp write(byte[] bytes) {
    try {
      out.write(bytes);
      out.flush();
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes, and reports instead of throwing when the server has closed the connection. */
  public boolean tryWrite(String text) {
    try {
      out.write(text.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Reads one response: head, then a body of Content-Length bytes (or up to the close). */
  public Response read() {
    try {
      String head = readHead();
      String[] lines = head.split("\r\n");
      int status = Integer.parseInt(lines[0].split(" ")[1]);
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
      byte[] body;
      String length = headers.get("content-length");
      if (length != null) {
        body = in.readNBytes(Integer.parseInt(length));
      } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        body = readChunked();
      } else {
        body = in.readAllBytes();
      }
      return new Response(status, headers, new String(body, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads one line of a streamed body (SSE), without its line end; null at the end of the stream. */
  public String readLine() {
    try {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != -1) {
        if (b == '\n') {
          String s = line.toString(StandardCharsets.UTF_8);
          return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
        line.write(b);
      }
      return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Waits for the server to close the connection, reading (and returning) whatever it sends
   * first; fails if it is still open when a read times out.
   */
  public String awaitClose() {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    try {
      int n;
      while ((n = in.read(buf)) != -1) {
        got.write(buf, 0, n);
      }
      return got.toString(StandardCharsets.UTF_8);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server kept the connection open; received so far: " + got, e);
    } catch (IOException e) {
      // A reset is a close too.
      return got.toString(StandardCharsets.UTF_8);
    }
  }

  private String readHead() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    int b;
    while (matched < 4 && (b = in.read()) != -1) {
      head.write(b);
      matched = (b == '\r' || b == '\n') && "\r\n\r\n".charAt(matched) == b ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    if (matched < 4) {
      throw new IOException("connection closed before a response head; got: " + head);
    }
    return head.toString(StandardCharsets.ISO_8859_1).trim();
  }

  private byte[] readChunked() throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String size = readLine();
      int n = Integer.parseInt(size.trim().split(";")[0], 16);
      if (n == 0) {
        readLine();
        return body.toByteArray();
      }
      body.write(in.readNBytes(n));
      readLine();
    }
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // already gone
    }
  }
}
