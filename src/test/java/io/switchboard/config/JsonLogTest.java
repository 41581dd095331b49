package io.switchboard.config;

import io.switchboard.testing.Api;
import io.switchboard.testing.SwitchboardProcess;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code log.format = json}: a node writes one JSON object per line, dated, and never a token. */
class JsonLogTest {

  @TempDir
  Path dir;

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  @DisplayName("a node started with log.format json in its -conf file writes only parseable JSON lines, each with a full timestamp, and no token")
  void jsonLines() throws Exception {
    Path conf = dir.resolve("switchboard.json");
    Files.writeString(conf, "{\"log\": {\"format\": \"json\"}}", StandardCharsets.UTF_8);
    int port = TestNodes.freePort();
    // The node's own logback.xml, not the tests' logback-test.xml that the class path also holds.
    URL packaged = JsonLogTest.class.getClassLoader().getResource("logback.xml");
    assertThat(packaged).isNotNull();
    SwitchboardProcess node = SwitchboardProcess.start(port,
      TestNodes.TestCluster.create().childEnv(port, new JsonObject()),
      List.of("-Dlogback.configurationFile=" + Path.of(toUri(packaged))),
      List.of("-conf", conf.toString()));
    String token;
    try {
      node.awaitReady(120);
      Api api = node.api();
      token = api.token(Api.user("logged"));
      api.get("/api/conversations?token=" + token, null);
      api.get("/api/nowhere?token=" + token, null);
    } finally {
      node.close();
    }
    List<String> lines = node.output().lines().filter(l -> !l.isBlank()).toList();
    assertThat(lines).as("the node logged its start and its stop").hasSizeGreaterThanOrEqualTo(2);
    for (String line : lines) {
      JsonObject entry;
      try {
        entry = new JsonObject(line);
      } catch (DecodeException e) {
        throw new AssertionError("not a JSON line: " + line, e);
      }
      assertThat(entry.getString("@timestamp")).as(line).isNotBlank();
      // A date, a time and an offset: 2026-01-01T12:00:00.000Z
      assertThat(OffsetDateTime.parse(entry.getString("@timestamp")).getYear()).as(line).isGreaterThan(2000);
      assertThat(entry.getString("level")).as(line).isNotBlank();
      assertThat(entry.getString("message")).as(line).isNotNull();
    }
    assertThat(String.join("\n", lines)).contains("Switchboard node").doesNotContain(token);
  }

  private static java.net.URI toUri(URL url) throws URISyntaxException {
    return url.toURI();
  }
}
