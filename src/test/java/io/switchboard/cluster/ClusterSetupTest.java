package io.switchboard.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.config.Config;
import io.switchboard.config.ConfigException;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How {@code cluster.*} becomes Hazelcast's and the event bus's configuration. */
class ClusterSetupTest {

  private static SwitchboardConfig.Cluster cluster(JsonObject overrides) {
    return ConfigLoader.fromOverrides(new JsonObject().put("cluster", overrides)).cluster();
  }

  @Test
  @DisplayName("split-brain searches start 5 s after start and repeat every 5 s, not Hazelcast's 300 s and 120 s")
  void mergeWithinSeconds() {
    Config config = ClusterSetup.hazelcastConfig(cluster(new JsonObject()), 15);
    assertThat(config.getProperty("hazelcast.merge.first.run.delay.seconds")).isEqualTo("5");
    assertThat(config.getProperty("hazelcast.merge.next.run.delay.seconds")).isEqualTo("5");
  }

  @Test
  @DisplayName("members and a DNS name go to the discovery that looks them up at every search; address patterns stay with Hazelcast's member list")
  void discoveryChoice() {
    Config names = ClusterSetup.hazelcastConfig(cluster(new JsonObject().put("dns", "tasks.switchboard")
      .put("members", new JsonArray())), 15);
    assertThat(names.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isFalse();
    assertThat(names.getNetworkConfig().getJoin().getDiscoveryConfig().getDiscoveryStrategyConfigs()).hasSize(1);
    assertThat(names.getProperty("hazelcast.discovery.enabled")).isEqualTo("true");

    Config patterns = ClusterSetup.hazelcastConfig(cluster(new JsonObject()
      .put("members", new JsonArray().add("10.0.0.*"))), 15);
    assertThat(patterns.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isTrue();
    assertThat(patterns.getNetworkConfig().getJoin().getTcpIpConfig().getMembers()).containsExactly("10.0.0.*");

    Config multicast = ClusterSetup.hazelcastConfig(cluster(new JsonObject().put("multicast", true)), 15);
    assertThat(multicast.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isTrue();
    assertThat(multicast.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isFalse();
  }

  @Test
  @DisplayName("a name without a port covers cluster.port and the next four; name:port and [v6]:port name one port")
  void targets() {
    List<DnsDiscovery.Target> targets = ClusterSetup.targets(cluster(new JsonObject().put("dns", "tasks.sb")
      .put("port", 5701).put("members", new JsonArray().add("node1:5801").add("[::1]:5702").add("::1"))));
    assertThat(targets).containsExactly(
      new DnsDiscovery.Target("tasks.sb", 5701, 5),
      new DnsDiscovery.Target("node1", 5801, 1),
      new DnsDiscovery.Target("::1", 5702, 1),
      new DnsDiscovery.Target("::1", 5701, 5));
    assertThatThrownBy(() -> ClusterSetup.targets(cluster(new JsonObject().put("dns", "tasks.sb:http"))))
      .isInstanceOf(ConfigException.class).hasMessageContaining("cluster.dns");
  }

  @Test
  @DisplayName("discovery hands Hazelcast only the addresses where something accepts a connection")
  void onlyListeningAddresses() throws IOException {
    try (ServerSocket open = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
         ServerSocket closed = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      int closedPort = closed.getLocalPort();
      closed.close();
      Address listening = new Address(InetAddress.getLoopbackAddress(), open.getLocalPort());
      Address nobody = new Address(InetAddress.getLoopbackAddress(), closedPort);
      assertThat(DnsDiscovery.listening(List.of(nobody, listening), 1000)).containsExactly(listening);
    }
  }

  @Test
  @DisplayName("the event bus gets cluster.busPort and, when set, cluster.publicHost")
  void eventBus() {
    VertxOptions options = ClusterSetup.withEventBus(new VertxOptions(),
      cluster(new JsonObject().put("busPort", 5801).put("publicHost", "203.0.113.7")));
    assertThat(options.getEventBusOptions().getPort()).isEqualTo(5801);
    assertThat(options.getEventBusOptions().getClusterPublicHost()).isEqualTo("203.0.113.7");
    VertxOptions defaults = ClusterSetup.withEventBus(new VertxOptions(), cluster(new JsonObject()));
    assertThat(defaults.getEventBusOptions().getPort()).isZero();
    assertThat(defaults.getEventBusOptions().getClusterPublicHost()).isNull();
  }
}
