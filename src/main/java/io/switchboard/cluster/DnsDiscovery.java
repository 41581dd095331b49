package io.switchboard.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.config.properties.PropertyDefinition;
import com.hazelcast.logging.ILogger;
import com.hazelcast.spi.discovery.AbstractDiscoveryStrategy;
import com.hazelcast.spi.discovery.DiscoveryNode;
import com.hazelcast.spi.discovery.DiscoveryStrategy;
import com.hazelcast.spi.discovery.DiscoveryStrategyFactory;
import com.hazelcast.spi.discovery.SimpleDiscoveryNode;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Hazelcast discovery from {@code cluster.dns} and {@code cluster.members}, looked up again every
 * time Hazelcast asks: at the first join and at every split-brain search after it. A DNS name such
 * as {@code tasks.switchboard} (Swarm) or a headless Service (Kubernetes) lists tasks as they
 * start, so nodes that started in any order, and formed clusters of their own while the name did
 * not list each other yet, find and merge with each other within one search period of appearing
 * in it; a member host name whose address changed (a container started again) is found again.
 *
 * <p>Each name is tried on a port range, as Hazelcast's TCP member list does for a name without a
 * port: {@code name} means ports {@code port .. port + portCount - 1}, {@code name:p} port p only.
 * Hazelcast's own DNS mode (Kubernetes {@code service-dns}) tries one port per address, so two
 * nodes on one host could only ever find the one on that port.
 *
 * <p>Only addresses that accept a TCP connection are handed to Hazelcast: its split-brain search
 * waits five seconds on every address it cannot connect to, one after the other, so the unused
 * ports of each range would otherwise stretch every search (and a merge) by tens of seconds.
 */
final class DnsDiscovery implements DiscoveryStrategyFactory {

  /** One name (or address) to look up, and the ports to try on each of its addresses. */
  record Target(String host, int firstPort, int portCount) {

    /** {@code host} or {@code host:port}; IPv6 literals in brackets ({@code [::1]:5701}). */
    static Target parse(String entry, int defaultPort, int portCount) {
      String e = entry.trim();
      int colon = e.lastIndexOf(':');
      boolean bracketed = e.startsWith("[");
      if (colon > 0 && (bracketed ? e.lastIndexOf(']') < colon : e.indexOf(':') == colon)) {
        String host = e.substring(0, colon);
        int port = Integer.parseInt(e.substring(colon + 1));
        return new Target(strip(host), port, 1);
      }
      return new Target(strip(e), defaultPort, portCount);
    }

    private static String strip(String host) {
      return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }
  }

  private final List<Target> targets;

  DnsDiscovery(List<Target> targets) {
    this.targets = List.copyOf(targets);
  }

  /** Every address of every target, with its ports, as resolved now; names that do not resolve are skipped. */
  static List<Address> resolve(List<Target> targets, ILogger logger) {
    Set<Address> out = new LinkedHashSet<>();
    for (Target t : targets) {
      InetAddress[] all;
      try {
        all = InetAddress.getAllByName(t.host());
      } catch (UnknownHostException e) {
        // Normal while the first tasks of a service start: the name lists nobody yet.
        if (logger != null) {
          logger.fine("cluster discovery: '" + t.host() + "' does not resolve (yet)");
        }
        continue;
      }
      for (InetAddress a : all) {
        for (int p = t.firstPort(); p < t.firstPort() + t.portCount(); p++) {
          out.add(new Address(a, p));
        }
      }
    }
    return new ArrayList<>(out);
  }

  /** How long the connection probes of one discovery may take, all together. */
  static final long PROBE_TIMEOUT_MS = 1000;

  /**
   * The candidates that accept a TCP connection within {@code timeoutMs} (probed all at once,
   * each connection closed at once), in their order.
   */
  static List<Address> listening(List<Address> candidates, long timeoutMs) {
    Set<Address> open = new HashSet<>();
    Map<SocketChannel, Address> pending = new HashMap<>();
    try (Selector selector = Selector.open()) {
      for (Address a : candidates) {
        SocketChannel channel = SocketChannel.open();
        try {
          channel.configureBlocking(false);
          if (channel.connect(a.getInetSocketAddress())) {
            open.add(a);
            channel.close();
          } else {
            channel.register(selector, SelectionKey.OP_CONNECT);
            pending.put(channel, a);
          }
        } catch (IOException e) {
          channel.close();
        }
      }
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
      while (!pending.isEmpty()) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          break;
        }
        selector.select(left);
        for (SelectionKey key : selector.selectedKeys()) {
          SocketChannel channel = (SocketChannel) key.channel();
          Address a = pending.remove(channel);
          try {
            if (channel.finishConnect()) {
              open.add(a);
            }
          } catch (IOException refused) {
            // nobody listens there
          } finally {
            key.cancel();
            channel.close();
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException e) {
      // No selector: hand every candidate over, as Hazelcast would try them anyway.
      return candidates;
    } finally {
      for (SocketChannel channel : pending.keySet()) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
    return candidates.stream().filter(open::contains).toList();
  }

  @Override
  public Class<? extends DiscoveryStrategy> getDiscoveryStrategyType() {
    return Strategy.class;
  }

  @Override
  public DiscoveryStrategy newDiscoveryStrategy(DiscoveryNode discoveryNode, ILogger logger,
                                               Map<String, Comparable> properties) {
    return new Strategy(logger, properties, targets);
  }

  @Override
  public Collection<PropertyDefinition> getConfigurationProperties() {
    return List.of();
  }

  /** The strategy Hazelcast's discovery joiner calls; it keeps nothing between calls. */
  static final class Strategy extends AbstractDiscoveryStrategy {
    private final List<Target> targets;

    Strategy(ILogger logger, Map<String, Comparable> properties, List<Target> targets) {
      super(logger, properties);
      this.targets = targets;
    }

    @Override
    public Iterable<DiscoveryNode> discoverNodes() {
      List<DiscoveryNode> nodes = new ArrayList<>();
      for (Address a : listening(resolve(targets, getLogger()), PROBE_TIMEOUT_MS)) {
        nodes.add(new SimpleDiscoveryNode(a));
      }
      return nodes;
    }
  }
}
