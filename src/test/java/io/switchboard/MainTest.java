package io.switchboard;

import io.switchboard.testing.TestNodes;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §9: a bad configuration stops the real entry point with one line naming the key. */
class MainTest {

  private static final long BOUND_SECONDS = 60;

  @TempDir
  Path dir;

  /** The result of one run of {@code io.switchboard.Main} in a child JVM. */
  private record Run(int exitCode, String stdout, String stderr) {
  }

  private Run runMain(Map<String, String> env, String... args) throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>(List.of(
      java.toString(), "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    Path out = dir.resolve("stdout.txt");
    Path err = dir.resolve("stderr.txt");
    ProcessBuilder pb = new ProcessBuilder(command)
      .directory(dir.toFile())
      .redirectOutput(out.toFile())
      .redirectError(err.toFile());
    // Only the variables given here: a SWITCHBOARD_* in the developer's shell must not leak in.
    pb.environment().keySet().removeIf(k -> k.startsWith("SWITCHBOARD_"));
    pb.environment().putAll(env);
    Process child = pb.start();
    try {
      boolean exited = child.waitFor(BOUND_SECONDS, TimeUnit.SECONDS);
      assertThat(exited).as("Main exited within %d s", BOUND_SECONDS).isTrue();
    } finally {
      if (child.isAlive()) {
        // It got past the configuration and started a node: stop what it started, then it.
        child.descendants().forEach(ProcessHandle::destroyForcibly);
        child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    return new Run(child.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
      Files.readString(err, StandardCharsets.UTF_8));
  }

  private static List<String> lines(String text) {
    return text.lines().filter(l -> !l.isBlank()).toList();
  }

  @Test
  @DisplayName("Main with a -conf file holding an unknown key prints one line naming it and exits 1")
  void unknownKeyInFile() throws Exception {
    Path conf = dir.resolve("bad.json");
    Files.writeString(conf, "{\"http\":{\"prot\":1}}", StandardCharsets.UTF_8);

    Run run = runMain(Map.of(), "-conf", conf.toString());

    assertThat(run.exitCode()).as(run.stderr()).isEqualTo(1);
    assertThat(lines(run.stderr())).as(run.stderr()).singleElement().asString().contains("http.prot");
  }

  @Test
  @DisplayName("Main with SWITCHBOARD_HTTP_PORT=abc prints one line naming http.port and exits 1")
  void wrongTypeInEnvironment() throws Exception {
    Run run = runMain(Map.of("SWITCHBOARD_HTTP_PORT", "abc"));

    assertThat(run.exitCode()).as(run.stderr()).isEqualTo(1);
    assertThat(lines(run.stderr())).as(run.stderr()).singleElement().asString().contains("http.port");
  }

  @Test
  @DisplayName("Main with neither auth.jwtSecret nor auth.publicKeys prints one line naming auth.jwtSecret and exits 1")
  void noUsableKey() throws Exception {
    int clusterPort = TestNodes.freePort();
    // The node gets as far as joining a cluster before the authenticator refuses: give it one of
    // its own so it never meets another test's or a developer's node.
    Run run = runMain(Map.of(
      "SWITCHBOARD_AUTH_JWTSECRET", "",
      "SWITCHBOARD_CLUSTER_NAME", "sb-main-test-" + UUID.randomUUID(),
      "SWITCHBOARD_CLUSTER_PORT", String.valueOf(clusterPort),
      "SWITCHBOARD_CLUSTER_MEMBERS", "[\"127.0.0.1:" + clusterPort + "\"]",
      "SWITCHBOARD_DATA_DIR", dir.resolve("data").toString()));

    assertThat(run.exitCode()).as(run.stderr()).isEqualTo(1);
    assertThat(lines(run.stderr())).as(run.stderr()).singleElement().asString()
      .contains("auth.jwtSecret")
      .doesNotContain("Exception");
  }
}
