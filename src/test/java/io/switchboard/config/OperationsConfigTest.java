package io.switchboard.config;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The operations keys: event-bus port, public host, expected members, TLS files, log format. */
class OperationsConfigTest {

  @TempDir
  Path dir;

  private static SwitchboardConfig env(Map<String, String> env) {
    return ConfigLoader.load(null, env);
  }

  @Test
  @DisplayName("the defaults: any free event-bus port, no public host, no expected size, no TLS, text logs")
  void defaults() {
    SwitchboardConfig c = env(Map.of());
    assertThat(c.cluster().busPort()).isZero();
    assertThat(c.cluster().publicHost()).isEmpty();
    assertThat(c.cluster().expectedMembers()).isZero();
    assertThat(c.tls().http().enabled()).isFalse();
    assertThat(c.tls().bridge().enabled()).isFalse();
    assertThat(c.logFormat()).isEqualTo("text");
  }

  @Test
  @DisplayName("SWITCHBOARD_CLUSTER_BUSPORT, _PUBLICHOST, _EXPECTEDMEMBERS and SWITCHBOARD_LOG_FORMAT set their keys")
  void fromEnvironment() {
    SwitchboardConfig c = env(Map.of(
      "SWITCHBOARD_CLUSTER_BUSPORT", "5801",
      "SWITCHBOARD_CLUSTER_PUBLICHOST", "10.1.2.3",
      "SWITCHBOARD_CLUSTER_EXPECTEDMEMBERS", "3",
      "SWITCHBOARD_LOG_FORMAT", "json"));
    assertThat(c.cluster().busPort()).isEqualTo(5801);
    assertThat(c.cluster().publicHost()).isEqualTo("10.1.2.3");
    assertThat(c.cluster().expectedMembers()).isEqualTo(3);
    assertThat(c.logFormat()).isEqualTo("json");
  }

  @Test
  @DisplayName("a bad event-bus port, a negative expected size or an unknown log format stops the start naming the key")
  void badValues() {
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_CLUSTER_BUSPORT", "70000")))
      .isInstanceOf(ConfigException.class).hasMessageContaining("cluster.busPort");
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_CLUSTER_EXPECTEDMEMBERS", "-1")))
      .isInstanceOf(ConfigException.class).hasMessageContaining("cluster.expectedMembers");
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_LOG_FORMAT", "xml")))
      .isInstanceOf(ConfigException.class).hasMessageContaining("log.format");
  }

  @Test
  @DisplayName("TLS: both PEM files or neither, each readable; the TCP bridge uses the HTTP pair unless it has its own")
  void tls() throws IOException {
    Path cert = Files.writeString(dir.resolve("a.crt"), "x");
    Path key = Files.writeString(dir.resolve("a.key"), "x");
    Path cert2 = Files.writeString(dir.resolve("b.crt"), "x");
    Path key2 = Files.writeString(dir.resolve("b.key"), "x");

    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_HTTP_TLS_CERTFILE", cert.toString())))
      .isInstanceOf(ConfigException.class).hasMessageContaining("http.tls.keyFile");
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_HTTP_TLS_CERTFILE", cert.toString(),
      "SWITCHBOARD_HTTP_TLS_KEYFILE", dir.resolve("missing.key").toString())))
      .isInstanceOf(ConfigException.class).hasMessageContaining("http.tls.keyFile").hasMessageContaining("missing.key");

    Map<String, String> shared = new HashMap<>(Map.of(
      "SWITCHBOARD_HTTP_TLS_CERTFILE", cert.toString(), "SWITCHBOARD_HTTP_TLS_KEYFILE", key.toString()));
    SwitchboardConfig c = env(shared);
    assertThat(c.tls().http().certFile()).isEqualTo(cert.toString());
    assertThat(c.tls().bridge()).isEqualTo(c.tls().http());

    shared.put("SWITCHBOARD_BRIDGE_TLS_CERTFILE", cert2.toString());
    shared.put("SWITCHBOARD_BRIDGE_TLS_KEYFILE", key2.toString());
    SwitchboardConfig own = env(shared);
    assertThat(own.tls().bridge().certFile()).isEqualTo(cert2.toString());
    assertThat(own.tls().bridge().keyFile()).isEqualTo(key2.toString());
  }
}
