package io.switchboard.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.config.Config;
import com.hazelcast.config.DiscoveryStrategyConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import io.switchboard.config.ConfigException;
import io.switchboard.config.SwitchboardConfig;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Hazelcast cluster manager of a node, configured from {@code cluster.*}: a member list by
 * default (nodes on one machine find each other), the addresses behind a DNS name such as
 * {@code tasks.switchboard} on Docker Swarm, or multicast. Names are looked up again at every
 * join and every split-brain search ({@link DnsDiscovery}). Also the clustered event bus's own
 * port, and split-brain merges within seconds.
 */
public final class ClusterSetup {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterSetup.class);

  /** Ports tried on a member or DNS name given without one: {@code cluster.port} and the next four. */
  static final int PORT_COUNT = 5;

  /**
   * How soon after start, and then how often, the master of each cluster looks for other
   * clusters of the same name to merge with. Hazelcast waits 300 s and then 120 s by default;
   * a node frozen past failure detection, or a partition, would leave two clusters (and events
   * that no longer cross) for minutes.
   */
  static final int MERGE_FIRST_RUN_SECONDS = 5;
  static final int MERGE_NEXT_RUN_SECONDS = 5;

  /** How long a node bound on every interface waits at start for its DNS name to list one of its addresses. */
  private static final long LOCAL_ADDRESS_WAIT_MS = 10_000;

  private ClusterSetup() {
  }

  public static HazelcastClusterManager clusterManager(SwitchboardConfig.Cluster cluster, int nodeTimeoutSeconds) {
    return new HazelcastClusterManager(hazelcastConfig(cluster, nodeTimeoutSeconds));
  }

  /**
   * {@code options} with the clustered event bus's port ({@code cluster.busPort}, 0 = any free
   * one) and, when set, the host other nodes reach it at ({@code cluster.publicHost}). It binds
   * the address Hazelcast advertises for this member, or every interface when the node is bound on
   * every interface and says its public host (a container behind an address it does not see).
   */
  public static VertxOptions withEventBus(VertxOptions options, SwitchboardConfig.Cluster cluster) {
    EventBusOptions bus = new EventBusOptions().setPort(cluster.busPort());
    if (!cluster.publicHost().isBlank()) {
      bus.setClusterPublicHost(cluster.publicHost());
      if ("0.0.0.0".equals(cluster.host())) {
        bus.setHost("0.0.0.0");
      }
    }
    return options.setEventBusOptions(bus);
  }

  static Config hazelcastConfig(SwitchboardConfig.Cluster cluster, int nodeTimeoutSeconds) {
    Config config = ConfigUtil.loadConfig();
    config.setClusterName(cluster.name());
    // No calls home, no JVM hook of Hazelcast's own: the node leaves the cluster when Vert.x closes.
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.shutdownhook.enabled", "false");
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.wait.seconds.before.join", "1");
    config.setProperty("hazelcast.tcp.join.port.try.count", String.valueOf(PORT_COUNT));
    // A node that stops heart-beating is removed within presence.nodeTimeoutSeconds.
    config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    config.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(Math.max(3, nodeTimeoutSeconds - 3)));
    // Split-brain healing within seconds (see MERGE_FIRST_RUN_SECONDS).
    config.setProperty("hazelcast.merge.first.run.delay.seconds", String.valueOf(MERGE_FIRST_RUN_SECONDS));
    config.setProperty("hazelcast.merge.next.run.delay.seconds", String.valueOf(MERGE_NEXT_RUN_SECONDS));

    NetworkConfig network = config.getNetworkConfig();
    network.setPort(cluster.port()).setPortAutoIncrement(true);
    if (!cluster.publicHost().isBlank()) {
      // Without a port: Hazelcast advertises the port it bound.
      network.setPublicAddress(cluster.publicHost());
    }
    boolean anyInterface = "0.0.0.0".equals(cluster.host());
    if (!anyInterface) {
      config.setProperty("hazelcast.socket.bind.any", "false");
      network.getInterfaces().setEnabled(true).addInterface(cluster.host());
    }
    JoinConfig join = network.getJoin();
    join.getAutoDetectionConfig().setEnabled(false);
    join.getMulticastConfig().setEnabled(cluster.multicast());
    if (cluster.multicast()) {
      join.getTcpIpConfig().setEnabled(false);
    } else if (cluster.dns().isBlank() && cluster.members().stream().anyMatch(ClusterSetup::isPattern)) {
      // Address patterns (10.0.0.*, 10.0.0.1-9) are Hazelcast's own TCP member list feature.
      join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
      cluster.members().forEach(m -> join.getTcpIpConfig().addMember(m));
    } else {
      List<DnsDiscovery.Target> targets = targets(cluster);
      join.getTcpIpConfig().setEnabled(false);
      config.setProperty("hazelcast.discovery.enabled", "true");
      join.getDiscoveryConfig().addDiscoveryStrategyConfig(new DiscoveryStrategyConfig(new DnsDiscovery(targets)));
      if (anyInterface && cluster.publicHost().isBlank()) {
        // Bound on every interface, Hazelcast would advertise the first one it finds, which in a
        // container on several networks (Swarm: ingress, overlay, gateway bridge) may be one the
        // other nodes cannot reach. The address of ours that the names list is the right one.
        // A DNS name may not list a task that just started yet: give it a few seconds.
        String local = localAddressAmong(targets, cluster.dns().isBlank() ? 0 : LOCAL_ADDRESS_WAIT_MS);
        if (local != null) {
          network.getInterfaces().setEnabled(true).addInterface(local);
        } else {
          LOG.warn("cluster.dns / cluster.members list none of this node's addresses yet; Hazelcast picks one itself"
            + " (set cluster.host or cluster.publicHost if the other nodes cannot reach it)");
        }
      }
    }
    return config;
  }

  /** An IPv4 pattern of Hazelcast's member list: {@code 10.0.0.*} or {@code 10.0.0.1-9}. */
  private static boolean isPattern(String member) {
    return member.matches("[0-9.*-]+") && (member.contains("*") || member.contains("-"));
  }

  /** The DNS name, if any, and the members, each with its port or the port range. */
  static List<DnsDiscovery.Target> targets(SwitchboardConfig.Cluster cluster) {
    List<DnsDiscovery.Target> targets = new ArrayList<>();
    if (!cluster.dns().isBlank()) {
      try {
        targets.add(DnsDiscovery.Target.parse(cluster.dns(), cluster.port(), PORT_COUNT));
      } catch (NumberFormatException e) {
        throw new ConfigException("configuration key 'cluster.dns' must be a name, or name:port");
      }
    }
    for (String member : cluster.members()) {
      try {
        targets.add(DnsDiscovery.Target.parse(member, cluster.port(), PORT_COUNT));
      } catch (NumberFormatException e) {
        throw new ConfigException("configuration key 'cluster.members' has a bad entry: " + member);
      }
    }
    return targets;
  }

  /** One of this machine's addresses that the targets resolve to, waiting up to {@code waitMs} for one. */
  private static String localAddressAmong(List<DnsDiscovery.Target> targets, long waitMs) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    while (true) {
      for (Address a : DnsDiscovery.resolve(targets, null)) {
        try {
          InetAddress inet = a.getInetAddress();
          if (NetworkInterface.getByInetAddress(inet) != null) {
            return inet.getHostAddress();
          }
        } catch (java.net.UnknownHostException | SocketException e) {
          // not one of ours
        }
      }
      if (System.nanoTime() > deadline) {
        return null;
      }
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
  }
}
