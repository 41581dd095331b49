package io.switchboard.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SPEC §9: defaults, then a {@code -conf} file, then {@code SWITCHBOARD_*} variables; bad keys stop the start. */
class ConfigLoaderTest {

  @TempDir
  Path dir;

  private Path file(String json) throws IOException {
    Path f = dir.resolve("switchboard-" + System.nanoTime() + ".json");
    Files.writeString(f, json, StandardCharsets.UTF_8);
    return f;
  }

  private static SwitchboardConfig env(Map<String, String> env) {
    return ConfigLoader.load(null, env);
  }

  // ---------------------------------------------------------------- defaults

  @Test
  @DisplayName("the packaged defaults load and parse to the values SPEC §9 lists")
  void defaults() {
    SwitchboardConfig c = ConfigLoader.load(null, Map.of());

    assertThat(c.http().port()).isEqualTo(8080);
    assertThat(c.http().host()).isEqualTo("0.0.0.0");
    assertThat(c.http().allowedOrigins()).containsExactly("*");
    assertThat(c.bridge().tcpPort()).isZero();
    assertThat(c.db().url()).isEmpty();
    assertThat(c.db().embedded()).isTrue();
    assertThat(c.dataDir()).isEqualTo("./data");
    assertThat(c.cluster().name()).isEqualTo("switchboard");
    assertThat(c.cluster().host()).isEqualTo("127.0.0.1");
    assertThat(c.cluster().port()).isEqualTo(5701);
    assertThat(c.cluster().members()).containsExactly("127.0.0.1");
    assertThat(c.cluster().multicast()).isFalse();
    assertThat(c.cluster().dns()).isEmpty();
    assertThat(c.auth().jwtSecret()).isNotBlank();
    assertThat(ConfigLoader.isDevSecret(c.auth().jwtSecret())).isTrue();
    assertThat(c.auth().publicKeys()).isEmpty();
    assertThat(c.auth().issuer()).isEmpty();
    assertThat(c.auth().audience()).isEmpty();
    assertThat(c.auth().leewaySeconds()).isEqualTo(5);
    assertThat(c.auth().devTokens()).isTrue();
    assertThat(c.auth().apiKeys()).singleElement().satisfies(k -> {
      assertThat(k.key()).isEqualTo("dev-key");
      assertThat(k.scopes()).containsExactlyInAnyOrder("publish", "admin");
    });
    assertThat(c.publicTopics()).containsExactly("public.*");
    assertThat(c.sse().heartbeatSeconds()).isEqualTo(25);
    assertThat(c.sse().retryMillis()).isEqualTo(3000);
    assertThat(c.sse().resumeWindowSeconds()).isEqualTo(86400);
    assertThat(c.ws().pingSeconds()).isEqualTo(20);
    assertThat(c.ws().idleTimeoutSeconds()).isEqualTo(60);
    assertThat(c.typingTtlSeconds()).isEqualTo(6);
    assertThat(c.presenceNodeTimeoutSeconds()).isEqualTo(15);
    assertThat(c.calls().ringSeconds()).isEqualTo(30);
    assertThat(c.calls().dropSeconds()).isEqualTo(20);
    assertThat(c.calls().iceServers()).isEmpty();
    assertThat(c.drainSeconds()).isEqualTo(10);
  }

  @Test
  @DisplayName("the packaged defaults and ConfigLoader.defaults() are the same tree")
  void defaultsResource() {
    assertThat(ConfigLoader.load(null, Map.of()).raw()).isEqualTo(ConfigLoader.defaults());
  }

  // ---------------------------------------------------------------- -conf file

  @Test
  @DisplayName("a -conf file is deep-merged over the defaults: overriding http.port keeps http.host")
  void fileDeepMerge() throws IOException {
    SwitchboardConfig c = ConfigLoader.load(file("{\"http\":{\"port\":9000},\"auth\":{\"devTokens\":false}}"), Map.of());

    assertThat(c.http().port()).isEqualTo(9000);
    assertThat(c.http().host()).isEqualTo("0.0.0.0");
    assertThat(c.http().allowedOrigins()).containsExactly("*");
    assertThat(c.auth().devTokens()).isFalse();
    assertThat(c.auth().jwtSecret()).isEqualTo(ConfigLoader.defaults().getJsonObject("auth").getString("jwtSecret"));
    assertThat(c.auth().leewaySeconds()).isEqualTo(5);
  }

  @Test
  @DisplayName("an array in a -conf file replaces the default array")
  void fileArrayReplaces() throws IOException {
    SwitchboardConfig c = ConfigLoader.load(file("{\"cluster\":{\"members\":[\"10.0.0.1\",\"10.0.0.2:5702\"]}}"), Map.of());
    assertThat(c.cluster().members()).containsExactly("10.0.0.1", "10.0.0.2:5702");
  }

  @Test
  @DisplayName("an unknown key in a -conf file stops the start, naming the full dotted key")
  void fileUnknownKey() throws IOException {
    Path f = file("{\"http\":{\"prot\":1}}");
    assertThatThrownBy(() -> ConfigLoader.load(f, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.prot");

    Path top = file("{\"htttp\":{\"port\":1}}");
    assertThatThrownBy(() -> ConfigLoader.load(top, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("'htttp'");

    Path deep = file("{\"limits\":{\"messageBytes\":1024,\"messageByte\":1}}");
    assertThatThrownBy(() -> ConfigLoader.load(deep, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("limits.messageByte");
  }

  @Test
  @DisplayName("a value of the wrong type in a -conf file stops the start, naming the key")
  void fileWrongType() throws IOException {
    Path f = file("{\"http\":{\"port\":\"x\"}}");
    assertThatThrownBy(() -> ConfigLoader.load(f, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.port");

    Path section = file("{\"http\":8080}");
    assertThatThrownBy(() -> ConfigLoader.load(section, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("'http'");

    Path bool = file("{\"auth\":{\"devTokens\":\"false\"}}");
    assertThatThrownBy(() -> ConfigLoader.load(bool, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("auth.devTokens");

    Path list = file("{\"cluster\":{\"members\":[\"a\", 1]}}");
    assertThatThrownBy(() -> ConfigLoader.load(list, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("cluster.members");
  }

  @Test
  @DisplayName("an out-of-range value stops the start, naming the key")
  void outOfRange() throws IOException {
    Path port = file("{\"http\":{\"port\":70000}}");
    assertThatThrownBy(() -> ConfigLoader.load(port, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.port");

    Path leeway = file("{\"auth\":{\"leewaySeconds\":-1}}");
    assertThatThrownBy(() -> ConfigLoader.load(leeway, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("auth.leewaySeconds");

    Path fraction = file("{\"http\":{\"port\":80.5}}");
    assertThatThrownBy(() -> ConfigLoader.load(fraction, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.port");
  }

  @Test
  @DisplayName("a -conf file that is not a JSON object, or is missing, stops the start naming the file")
  void fileNotJson() throws IOException {
    Path f = file("http.port = 9000");
    assertThatThrownBy(() -> ConfigLoader.load(f, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining(f.toString());

    Path missing = dir.resolve("missing.json");
    assertThatThrownBy(() -> ConfigLoader.load(missing, Map.of()))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining(missing.toString());
  }

  // ---------------------------------------------------------------- environment

  @Test
  @DisplayName("SWITCHBOARD_HTTP_PORT=9090 sets http.port to the number 9090")
  void envNumber() {
    SwitchboardConfig c = env(Map.of("SWITCHBOARD_HTTP_PORT", "9090"));
    assertThat(c.http().port()).isEqualTo(9090);
    assertThat(c.raw().getJsonObject("http").getValue("port")).isInstanceOf(Number.class);
    assertThat(c.http().host()).isEqualTo("0.0.0.0");
  }

  @Test
  @DisplayName("SWITCHBOARD_AUTH_APIKEYS holding a JSON array is parsed as that array")
  void envJsonArray() {
    SwitchboardConfig c = env(Map.of("SWITCHBOARD_AUTH_APIKEYS", "[{\"key\":\"k\",\"scopes\":[\"publish\"]}]"));
    assertThat(c.auth().apiKeys()).singleElement().satisfies(k -> {
      assertThat(k.key()).isEqualTo("k");
      assertThat(k.scopes()).containsExactly("publish");
    });
  }

  @Test
  @DisplayName("SWITCHBOARD_DB_URL holding a PostgreSQL URL is taken as a string")
  void envUrlString() {
    SwitchboardConfig c = env(Map.of("SWITCHBOARD_DB_URL", "postgresql://u:p@h:5432/d"));
    assertThat(c.db().url()).isEqualTo("postgresql://u:p@h:5432/d");
    assertThat(c.db().embedded()).isFalse();
  }

  @Test
  @DisplayName("string keys take values that start like JSON numbers (host addresses) as strings")
  void envDottedAddresses() {
    SwitchboardConfig c = env(Map.of(
      "SWITCHBOARD_HTTP_HOST", "127.0.0.1",
      "SWITCHBOARD_CLUSTER_HOST", "10.0.0.5"));
    assertThat(c.http().host()).isEqualTo("127.0.0.1");
    assertThat(c.cluster().host()).isEqualTo("10.0.0.5");
  }

  @Test
  @DisplayName("booleans and JSON arrays in the environment are taken as JSON")
  void envBooleanAndArray() {
    SwitchboardConfig c = env(Map.of(
      "SWITCHBOARD_AUTH_DEVTOKENS", "false",
      "SWITCHBOARD_CLUSTER_MEMBERS", "[\"10.0.0.1\",\"10.0.0.2\"]",
      "SWITCHBOARD_AUTH_JWTSECRET", "a-secret-from-the-environment-0123456789"));
    assertThat(c.auth().devTokens()).isFalse();
    assertThat(c.cluster().members()).containsExactly("10.0.0.1", "10.0.0.2");
    assertThat(c.auth().jwtSecret()).isEqualTo("a-secret-from-the-environment-0123456789");
  }

  @Test
  @DisplayName("SWITCHBOARD_HTTP_PORT=abc stops the start, naming http.port")
  void envWrongType() {
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_HTTP_PORT", "abc")))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.port");
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_HTTP_PORT", "70000")))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.port");
  }

  @Test
  @DisplayName("an unknown SWITCHBOARD_ variable stops the start, naming it")
  void envUnknown() {
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_FOO", "1")))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("SWITCHBOARD_FOO");
    // A section is not a key: only leaves can be set from the environment.
    assertThatThrownBy(() -> env(Map.of("SWITCHBOARD_HTTP", "{\"port\":1}")))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("SWITCHBOARD_HTTP");
  }

  @Test
  @DisplayName("variables without the SWITCHBOARD_ prefix are ignored")
  void envOthersIgnored() {
    SwitchboardConfig c = env(Map.of(
      "PATH", "/usr/bin:/bin",
      "HOME", "/root",
      "HTTP_PORT", "1",
      "switchboard_http_port", "2",
      "SWITCHBOARDHTTP_PORT", "3"));
    assertThat(c.raw()).isEqualTo(ConfigLoader.defaults());
  }

  @Test
  @DisplayName("the environment wins over the -conf file, which wins over the defaults")
  void precedence() throws IOException {
    Path f = file("{\"http\":{\"port\":9000,\"host\":\"127.0.0.1\"}}");
    SwitchboardConfig c = ConfigLoader.load(f, Map.of("SWITCHBOARD_HTTP_PORT", "9090"));
    assertThat(c.http().port()).isEqualTo(9090);
    assertThat(c.http().host()).isEqualTo("127.0.0.1");
    assertThat(c.http().allowedOrigins()).containsExactly("*");
  }

  @Test
  @DisplayName("envName maps a dotted key to its variable name")
  void envName() {
    assertThat(ConfigLoader.envName("http.port")).isEqualTo("SWITCHBOARD_HTTP_PORT");
    assertThat(ConfigLoader.envName("auth.apiKeys")).isEqualTo("SWITCHBOARD_AUTH_APIKEYS");
  }

  // ---------------------------------------------------------------- overrides

  @Test
  @DisplayName("in-memory overrides follow the same rules as a file")
  void overrides() {
    SwitchboardConfig c = ConfigLoader.fromOverrides(new JsonObject()
      .put("http", new JsonObject().put("port", 0))
      .put("topics", new JsonObject().put("public", new JsonArray().add("lobby.*"))));
    assertThat(c.http().port()).isZero();
    assertThat(c.http().host()).isEqualTo("0.0.0.0");
    assertThat(c.publicTopics()).containsExactly("lobby.*");

    assertThatThrownBy(() -> ConfigLoader.fromOverrides(new JsonObject().put("http", new JsonObject().put("prot", 1))))
      .isInstanceOf(ConfigException.class)
      .hasMessageContaining("http.prot");
  }
}
