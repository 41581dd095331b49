package io.switchboard;

import io.switchboard.testing.MainProcess;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A node's start log, with the logging configuration it ships with, warns only about what the
 * operator should change (development tokens, the development secret): a warning at every start
 * that means nothing teaches operators to ignore warnings.
 */
class StartLogTest {

  @TempDir
  Path dir;

  @Test
  @DisplayName("a node started as shipped logs no warnings but the two about development settings")
  void startLogWarnsOnlyAboutDevelopmentSettings() throws Exception {
    // The production logback.xml, not the tests' logback-test.xml that the class path also holds.
    try (MainProcess main = MainProcess.start(dir, MainProcess.isolatedEnv(dir),
      List.of("-Dlogback.configurationFile=logback.xml"))) {
      main.awaitHealthy(120);
      // The port opens an instant before the start is logged as done.
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (!main.log().contains("Switchboard node") && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      String startLog = main.log();

      // Blocked-thread reports say how loaded the test machine is, not what the start does.
      List<String> warnings = startLog.lines()
        .filter(l -> l.contains(" WARN ") && !l.contains("BlockedThreadChecker"))
        .toList();
      assertThat(startLog).contains("Switchboard node");
      assertThat(warnings).as(startLog).hasSize(2)
        .anySatisfy(w -> assertThat(w).contains("auth.devTokens is on"))
        .anySatisfy(w -> assertThat(w).contains("auth.jwtSecret is the built-in development secret"));
    }
  }
}
