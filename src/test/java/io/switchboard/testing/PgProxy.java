package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * A TCP proxy on loopback between clients (node processes) and PostgreSQL that reads the wire
 * protocol just enough to cut a connection at a chosen moment: around COMMIT.
 *
 * <p>A statement in autocommit over the extended protocol is Parse (once per connection when the
 * client caches it) / Bind / Execute / Sync, and PostgreSQL commits it when it reaches the Sync;
 * every Sync (and every simple Query, and the startup) is answered by exactly one ReadyForQuery.
 * When {@link #armCut armed}, the proxy waits for a Bind of a statement whose SQL matches (and
 * whose parameters contain a marker, if one is given), forwards everything up to the Sync after
 * it, and from then on forwards nothing more in either direction: it reads the server's answer
 * to that Sync — so the statement has committed, or failed, for certain — swallows it, and closes
 * both sides. The client saw its statement sent and the connection drop: the outcome is unknown
 * to it. The cut is one-shot; arm it again for the next.
 *
 * <p>Bytes are forwarded as they are otherwise, each connection on its own event loop.
 */
public final class PgProxy implements AutoCloseable {

  private static final int SSL_REQUEST = 80877103;
  private static final int CANCEL_REQUEST = 80877102;
  private static final int GSS_REQUEST = 80877104;

  /** What a cut did: the statement's SQL, whether PostgreSQL's swallowed answer said it completed. */
  public record Cut(String sql, boolean committed, long atNanos) {
  }

  private record Trigger(Predicate<String> sql, byte[] marker, Promise<Cut> fired) {
  }

  private final int upstreamPort;
  private final NetClient client;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final AtomicReference<Trigger> armed = new AtomicReference<>();
  private final AtomicInteger accepted = new AtomicInteger();
  private NetServer server;

  private PgProxy(Vertx vertx, int upstreamPort) {
    this.upstreamPort = upstreamPort;
    this.client = vertx.createNetClient(new NetClientOptions().setConnectTimeout(5000).setTcpNoDelay(true));
  }

  /** Listens on a free loopback port in front of PostgreSQL on {@code upstreamPort}. */
  public static PgProxy start(Vertx vertx, int upstreamPort) {
    PgProxy p = new PgProxy(vertx, upstreamPort);
    try {
      p.server = vertx.createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(0).setTcpNoDelay(true))
        .connectHandler(p::accept)
        .listen()
        .await(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("the proxy did not listen within 30 s", e);
    }
    return p;
  }

  public int port() {
    return server.actualPort();
  }

  /** The pg-client URL of the database through this proxy. */
  public String url() {
    return "postgresql://postgres@127.0.0.1:" + port() + "/postgres";
  }

  /** Connections accepted so far. */
  public int accepted() {
    return accepted.get();
  }

  /** Connections open now. */
  public int open() {
    return links.size();
  }

  /**
   * Arms a one-shot cut of the next statement whose SQL satisfies {@code sql} and, when
   * {@code marker} is not null, whose Bind parameters contain it (as UTF-8). The future completes
   * when the cut happened, after PostgreSQL answered the statement's Sync.
   */
  public Future<Cut> armCut(Predicate<String> sql, String marker) {
    Promise<Cut> fired = Promise.promise();
    Trigger t = new Trigger(sql, marker == null ? null : marker.getBytes(StandardCharsets.UTF_8), fired);
    Trigger before = armed.getAndSet(t);
    if (before != null) {
      before.fired().tryFail("replaced by another cut");
    }
    return fired.future();
  }

  /** Takes back a cut that has not fired. */
  public void disarm() {
    Trigger t = armed.getAndSet(null);
    if (t != null) {
      t.fired().tryFail("disarmed");
    }
  }

  private void accept(NetSocket front) {
    accepted.incrementAndGet();
    front.pause();
    client.connect(upstreamPort, "127.0.0.1").onComplete(ar -> {
      if (ar.failed()) {
        front.close();
        return;
      }
      Link link = new Link(front, ar.result());
      links.add(link);
      link.wire();
      front.resume();
    });
  }

  @Override
  public void close() {
    disarm();
    links.forEach(Link::closeBoth);
    try {
      if (server != null) {
        server.close().await(10, TimeUnit.SECONDS);
      }
      client.close().await(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException | RuntimeException e) {
      // the Vert.x instance that owns them closes them anyway
    }
  }

  /** One proxied connection; all of it runs on the front socket's event loop. */
  private final class Link {
    private final NetSocket front;
    private final NetSocket back;
    private final Map<String, String> statements = new HashMap<>();
    private Buffer fromFront = Buffer.buffer();
    private Buffer fromBack = Buffer.buffer();
    private boolean startup = true;
    private boolean raw;
    private int backRawBytes;
    /** ReadyForQuery messages the server owes, counted as their causes go up; and those it sent. */
    private long expected;
    private long ready;
    /** The Sync whose answer ends this link (its ReadyForQuery's number), or 0. */
    private long cutAt;
    private Trigger cutting;
    private Trigger matched;
    private String matchedSql;
    private boolean completed;
    private boolean failed;
    private boolean closed;

    Link(NetSocket front, NetSocket back) {
      this.front = front;
      this.back = back;
    }

    void wire() {
      front.handler(this::onFront);
      back.handler(this::onBack);
      front.closeHandler(v -> closeBoth());
      back.closeHandler(v -> closeBoth());
      front.exceptionHandler(t -> closeBoth());
      back.exceptionHandler(t -> closeBoth());
    }

    void closeBoth() {
      if (closed) {
        return;
      }
      closed = true;
      links.remove(this);
      front.close();
      back.close();
    }

    // ---- client to server ----

    private void onFront(Buffer data) {
      if (closed) {
        return;
      }
      if (raw) {
        back.write(data);
        return;
      }
      if (cutAt > 0) {
        return; // after the cut's Sync nothing more reaches the server
      }
      fromFront.appendBuffer(data);
      Buffer out = Buffer.buffer();
      int at = 0;
      while (cutAt == 0) {
        int len = messageLength(fromFront, at, startup);
        if (len < 0) {
          break;
        }
        Buffer message = fromFront.slice(at, at + len);
        at += len;
        out.appendBuffer(message);
        if (startup) {
          int code = message.getInt(4);
          if (code == SSL_REQUEST || code == GSS_REQUEST) {
            backRawBytes++;
          } else if (code == CANCEL_REQUEST) {
            raw = true;
          } else {
            startup = false;
            expected++;
          }
          continue;
        }
        frontMessage(message);
      }
      fromFront = at >= fromFront.length() ? Buffer.buffer() : fromFront.getBuffer(at, fromFront.length());
      if (raw && fromFront.length() > 0) {
        out.appendBuffer(fromFront);
        fromFront = Buffer.buffer();
      }
      if (out.length() > 0) {
        back.write(out);
      }
    }

    private void frontMessage(Buffer m) {
      switch ((char) m.getByte(0)) {
        case 'P' -> {
          int nameEnd = cstringEnd(m, 5);
          String name = m.getString(5, nameEnd, "UTF-8");
          int sqlEnd = cstringEnd(m, nameEnd + 1);
          statements.put(name, m.getString(nameEnd + 1, sqlEnd, "UTF-8"));
        }
        case 'B' -> {
          int portalEnd = cstringEnd(m, 5);
          int stmtEnd = cstringEnd(m, portalEnd + 1);
          String sql = statements.get(m.getString(portalEnd + 1, stmtEnd, "UTF-8"));
          Trigger t = armed.get();
          if (t != null && matched == null && sql != null && t.sql().test(sql)
            && (t.marker() == null || contains(m, t.marker()))) {
            matched = t;
            matchedSql = sql;
          }
        }
        case 'S' -> {
          expected++;
          if (matched != null) {
            Trigger t = matched;
            matched = null;
            if (armed.compareAndSet(t, null)) {
              cutting = t;
              cutAt = expected;
            }
          }
        }
        case 'Q' -> expected++;
        default -> {
        }
      }
    }

    // ---- server to client ----

    private void onBack(Buffer data) {
      if (closed) {
        return;
      }
      if (raw) {
        front.write(data);
        return;
      }
      fromBack.appendBuffer(data);
      Buffer out = Buffer.buffer();
      int at = 0;
      while (backRawBytes > 0 && at < fromBack.length()) {
        out.appendByte(fromBack.getByte(at++));
        backRawBytes--;
      }
      while (!closed) {
        int len = messageLength(fromBack, at, false);
        if (len < 0) {
          break;
        }
        Buffer message = fromBack.slice(at, at + len);
        at += len;
        char type = (char) message.getByte(0);
        boolean swallowed = cutAt > 0 && ready >= cutAt - 1;
        if (swallowed) {
          if (type == 'C') {
            completed = true;
          } else if (type == 'E') {
            failed = true;
          }
        } else {
          out.appendBuffer(message);
        }
        if (type == 'Z') {
          ready++;
          if (cutAt > 0 && ready == cutAt) {
            Trigger t = cutting;
            Cut cut = new Cut(matchedSql, completed && !failed, System.nanoTime());
            if (out.length() > 0) {
              front.write(out);
              out = Buffer.buffer();
            }
            closeBoth();
            t.fired().tryComplete(cut);
            return;
          }
        }
      }
      fromBack = at >= fromBack.length() ? Buffer.buffer() : fromBack.getBuffer(at, fromBack.length());
      if (out.length() > 0) {
        front.write(out);
      }
    }
  }

  /** The whole length of the message at {@code at} (type byte included), or -1 when incomplete. */
  private static int messageLength(Buffer b, int at, boolean untyped) {
    int head = untyped ? 4 : 5;
    if (b.length() - at < head) {
      return -1;
    }
    int len = b.getInt(untyped ? at : at + 1) + (untyped ? 0 : 1);
    return b.length() - at < len ? -1 : len;
  }

  private static int cstringEnd(Buffer m, int from) {
    int i = from;
    while (i < m.length() && m.getByte(i) != 0) {
      i++;
    }
    return i;
  }

  private static boolean contains(Buffer m, byte[] marker) {
    byte[] bytes = m.getBytes();
    outer:
    for (int i = 0; i + marker.length <= bytes.length; i++) {
      for (int j = 0; j < marker.length; j++) {
        if (bytes[i + j] != marker[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
