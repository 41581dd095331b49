package io.switchboard.gateway;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The node's connections that have not authenticated yet (SPEC §8, "Limits, abuse and
 * overload"): an HTTP connection before its first request, a WebSocket upgraded without a token
 * before its {@code auth} envelope, a bridge socket (TCP or SockJS) before its first frame with a
 * valid credential. Each holds a {@link Ticket} from the moment it is accepted until it
 * authenticates or closes, whichever comes first, and then releases it exactly once:
 * <ul>
 *   <li>it must authenticate within {@code limits.handshakeSeconds}, else its transport closes it
 *   (the ticket's timeout runs on the connection's event loop, as one scheduled task of Netty's);</li>
 *   <li>at most {@code limits.unauthenticatedPerIp} tickets are held per remote IP address on the
 *   node (0: no cap); one more is refused, and its transport answers 429 or closes.</li>
 * </ul>
 * Thread-safe: the count per address is shared by every event loop, and nothing here blocks.
 */
public final class Handshakes {

  /** How long a refused client is told to wait before it tries again. */
  public static final int RETRY_AFTER_SECONDS = 5;

  private final long timeoutMs;
  private final int perIp;
  private final ConcurrentHashMap<String, Integer> counts = new ConcurrentHashMap<>();

  public Handshakes(int handshakeSeconds, int unauthenticatedPerIp) {
    this.timeoutMs = TimeUnit.SECONDS.toMillis(handshakeSeconds);
    this.perIp = unauthenticatedPerIp;
  }

  /** {@code limits.handshakeSeconds}, in milliseconds. */
  public long timeoutMs() {
    return timeoutMs;
  }

  /**
   * A new unauthenticated connection from {@code remote}: its ticket, or null when its address
   * already holds {@code limits.unauthenticatedPerIp} of them.
   */
  public Ticket admit(SocketAddress remote) {
    return admit(ip(remote));
  }

  /** As {@link #admit(SocketAddress)}, for a remote address given as its IP text. */
  public Ticket admit(String ip) {
    if (perIp > 0) {
      boolean[] admitted = {false};
      counts.compute(ip, (k, n) -> {
        int held = n == null ? 0 : n;
        if (held >= perIp) {
          return n;
        }
        admitted[0] = true;
        return held + 1;
      });
      if (!admitted[0]) {
        return null;
      }
    } else {
      counts.merge(ip, 1, Integer::sum);
    }
    return new Ticket(ip);
  }

  /** Unauthenticated connections held now, over every address (stats and tests). */
  public int held() {
    int n = 0;
    for (int v : counts.values()) {
      n += v;
    }
    return n;
  }

  /** Unauthenticated connections held now from {@code ip} (tests). */
  public int held(String ip) {
    return counts.getOrDefault(ip, 0);
  }

  private void release(String ip) {
    counts.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
  }

  private static String ip(SocketAddress remote) {
    if (remote instanceof InetSocketAddress inet) {
      return inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
    }
    return String.valueOf(remote);
  }

  /** One unauthenticated connection's place in the count, and its timeout. */
  public final class Ticket {
    private final String ip;
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile ScheduledFuture<?> timeout;

    private Ticket(String ip) {
      this.ip = ip;
    }

    /**
     * Runs {@code onTimeout} on {@code loop} (the connection's event loop) when the ticket is
     * still held after {@code limits.handshakeSeconds}; released first, so the transport only
     * has to close.
     */
    public Ticket expireOn(EventExecutor loop, Runnable onTimeout) {
      timeout = loop.schedule(() -> {
        if (release()) {
          onTimeout.run();
        }
      }, timeoutMs, TimeUnit.MILLISECONDS);
      if (released.get()) {
        timeout.cancel(false);
      }
      return this;
    }

    /**
     * The connection authenticated, closed or was refused: it leaves the count (only the first
     * call counts). True when this call released it.
     */
    public boolean release() {
      if (!released.compareAndSet(false, true)) {
        return false;
      }
      ScheduledFuture<?> t = timeout;
      if (t != null) {
        t.cancel(false);
      }
      Handshakes.this.release(ip);
      return true;
    }

    public boolean released() {
      return released.get();
    }
  }
}
