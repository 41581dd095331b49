package io.switchboard.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The configuration keys of SPEC §10: {@code webhooks.*} and {@code auth.proxy.*}, checked at start. */
class BackendConfigTest {

  static SwitchboardConfig with(JsonObject overrides) {
    return ConfigLoader.fromOverrides(overrides);
  }

  static JsonObject endpoints(JsonObject... endpoints) {
    JsonArray a = new JsonArray();
    for (JsonObject e : endpoints) {
      a.add(e);
    }
    return new JsonObject().put("webhooks", new JsonObject().put("endpoints", a));
  }

  @Test
  @DisplayName("defaults: no endpoints, 10 attempts, message_unseen after 60 s; no proxy, fail-closed")
  void defaults() {
    SwitchboardConfig c = with(new JsonObject());
    assertThat(c.webhooks().endpoints()).isEmpty();
    assertThat(c.webhooks().maxAttempts()).isEqualTo(10);
    assertThat(c.webhooks().unseenDelaySeconds()).isEqualTo(60);
    assertThat(c.auth().proxy().connect()).isFalse();
    assertThat(c.auth().proxy().subscribe()).isFalse();
    assertThat(c.auth().proxy().failOpen()).isFalse();
  }

  @Test
  @DisplayName("an endpoint without events wants every event; \"*\" too; a list only its own")
  void events() {
    SwitchboardConfig c = with(endpoints(
      new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", "s"),
      new JsonObject().put("url", "https://hooks.example.com/b").put("secret", "s").put("events", new JsonArray().add("*")),
      new JsonObject().put("url", "http://127.0.0.1:9/c").put("secret", "s").put("events", new JsonArray().add("call_ended"))));
    assertThat(c.webhooks().endpoints().get(0).events()).containsExactlyInAnyOrderElementsOf(SwitchboardConfig.Webhooks.EVENTS);
    assertThat(c.webhooks().endpoints().get(1).events()).containsExactlyInAnyOrderElementsOf(SwitchboardConfig.Webhooks.EVENTS);
    assertThat(c.webhooks().endpoints().get(2).events()).containsExactly("call_ended");
  }

  @Test
  @DisplayName("a bad endpoint stops the start with one line naming webhooks.endpoints")
  void badEndpoints() {
    for (JsonObject bad : new JsonObject[] {
      new JsonObject().put("url", "http://127.0.0.1:9/a"),
      new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", ""),
      new JsonObject().put("url", "ftp://127.0.0.1/a").put("secret", "s"),
      new JsonObject().put("url", "not a url").put("secret", "s"),
      new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", "s").put("events", new JsonArray().add("message_sent")),
      new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", "s").put("events", "message_created"),
      new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", "s").put("retries", 3)}) {
      assertThatThrownBy(() -> with(endpoints(bad))).as(bad.encode())
        .isInstanceOf(ConfigException.class).hasMessageContaining("webhooks.endpoints");
    }
    JsonObject twice = new JsonObject().put("url", "http://127.0.0.1:9/a").put("secret", "s");
    assertThatThrownBy(() -> with(endpoints(twice, twice.copy()))).isInstanceOf(ConfigException.class)
      .hasMessageContaining("twice");
  }

  @Test
  @DisplayName("auth.proxy URLs must be http(s); webhooks.maxAttempts must be positive")
  void badValues() {
    assertThatThrownBy(() -> with(new JsonObject().put("auth", new JsonObject().put("proxy",
      new JsonObject().put("connectUrl", "backend:8080/connect")))))
      .isInstanceOf(ConfigException.class).hasMessageContaining("auth.proxy.connectUrl");
    assertThatThrownBy(() -> with(new JsonObject().put("webhooks", new JsonObject().put("maxAttempts", 0))))
      .isInstanceOf(ConfigException.class).hasMessageContaining("webhooks.maxAttempts");
  }
}
