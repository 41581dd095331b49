package io.switchboard.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.config.properties.PropertyDefinition;
import com.hazelcast.logging.ILogger;
import com.hazelcast.spi.discovery.AbstractDiscoveryStrategy;
import com.hazelcast.spi.discovery.DiscoveryNode;
import com.hazelcast.spi.discovery.DiscoveryStrategy;
import com.hazelcast.spi.discovery.DiscoveryStrategyFactory;
import com.hazelcast.spi.discovery.SimpleDiscoveryNode;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hazelcast discovery that looks its names up again every time Hazelcast asks: at the first join
 * and at every split-brain search after it. A DNS name such as {@code tasks.switchboard} (Swarm)
 * or a headless Service (Kubernetes) lists tasks as they start, so nodes that started in any order,
 * and formed clusters of their own while the name did not list each other yet, find and merge
 * with each other within one search period of appearing in it.
 *
 * <p>Each name is tried on a port range, as Hazelcast's TCP member list does for a name without a
 * port: {@code name} means ports {@code port .. port + portCount - 1}, {@code name:p} port p only.
 * Hazelcast's own DNS mode (Kubernetes {@code service-dns}) tries one port per address, so two
 * nodes on one host could only ever find the one on that port.
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
      for (Address a : resolve(targets, getLogger())) {
        nodes.add(new SimpleDiscoveryNode(a));
      }
      return nodes;
    }
  }
}
