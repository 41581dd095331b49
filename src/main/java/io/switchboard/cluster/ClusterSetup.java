package io.switchboard.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import io.switchboard.config.ConfigException;
import io.switchboard.config.SwitchboardConfig;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The Hazelcast cluster manager of a node, configured from {@code cluster.*}: a TCP member list
 * by default (nodes on one machine find each other), multicast, or the addresses behind a DNS
 * name such as {@code tasks.switchboard} on Docker Swarm.
 */
public final class ClusterSetup {

  private ClusterSetup() {
  }

  public static HazelcastClusterManager clusterManager(SwitchboardConfig.Cluster cluster, int nodeTimeoutSeconds) {
    return new HazelcastClusterManager(hazelcastConfig(cluster, nodeTimeoutSeconds));
  }

  static Config hazelcastConfig(SwitchboardConfig.Cluster cluster, int nodeTimeoutSeconds) {
    Config config = ConfigUtil.loadConfig();
    config.setClusterName(cluster.name());
    // No calls home, no JVM hook of Hazelcast's own: the node leaves the cluster when Vert.x closes.
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.shutdownhook.enabled", "false");
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.wait.seconds.before.join", "1");
    config.setProperty("hazelcast.tcp.join.port.try.count", "5");
    // A node that stops heart-beating is removed within presence.nodeTimeoutSeconds.
    config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    config.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(Math.max(3, nodeTimeoutSeconds - 3)));

    NetworkConfig network = config.getNetworkConfig();
    network.setPort(cluster.port()).setPortAutoIncrement(true);
    if (!"0.0.0.0".equals(cluster.host())) {
      config.setProperty("hazelcast.socket.bind.any", "false");
      network.getInterfaces().setEnabled(true).addInterface(cluster.host());
    }
    JoinConfig join = network.getJoin();
    join.getAutoDetectionConfig().setEnabled(false);
    join.getMulticastConfig().setEnabled(cluster.multicast());
    boolean tcp = !cluster.multicast();
    join.getTcpIpConfig().setEnabled(tcp).setConnectionTimeoutSeconds(2);
    if (tcp) {
      if (!cluster.dns().isBlank()) {
        for (String ip : resolve(cluster.dns())) {
          join.getTcpIpConfig().addMember(ip);
        }
      }
      cluster.members().forEach(m -> join.getTcpIpConfig().addMember(m));
    }
    return config;
  }

  private static String[] resolve(String dns) {
    try {
      InetAddress[] all = InetAddress.getAllByName(dns);
      String[] out = new String[all.length];
      for (int i = 0; i < all.length; i++) {
        out[i] = all[i].getHostAddress();
      }
      return out;
    } catch (UnknownHostException e) {
      throw new ConfigException("cluster.dns: cannot resolve '" + dns + "'");
    }
  }
}
