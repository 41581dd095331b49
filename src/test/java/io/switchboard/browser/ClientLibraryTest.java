package io.switchboard.browser;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The browser client's fast unit tests ({@code clients/js/test}, Node's built-in test runner:
 * cursors, backoff, close codes, the outbox, transport fallback, SSE parsing, calls), run as part
 * of the Maven build. Node's output goes to a log file, never to this JVM's streams.
 */
class ClientLibraryTest {

  @Test
  @DisplayName("the browser client's unit tests pass under node --test")
  void nodeTests() throws IOException, InterruptedException {
    assumeTrue(exitCode(new ProcessBuilder("node", "--version")) == 0, "Node.js is not installed");
    Path log = Files.createTempFile("sb-client-tests", ".log");
    ProcessBuilder pb = new ProcessBuilder("node", "--test", "--test-reporter=tap", "test/")
      .directory(Path.of("clients", "js").toFile())
      .redirectErrorStream(true)
      .redirectOutput(log.toFile());
    int exit = exitCode(pb);
    String output = Files.readString(log, StandardCharsets.UTF_8);
    assertThat(exit).as("node --test output:\n%s", output).isZero();
    assertThat(output).contains("# fail 0").containsPattern("# pass [1-9]");
  }

  private static int exitCode(ProcessBuilder pb) throws IOException, InterruptedException {
    if (pb.redirectOutput() == ProcessBuilder.Redirect.PIPE) {
      pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return -1;
    }
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("node --test did not finish in 120 s");
    }
    return p.exitValue();
  }
}
