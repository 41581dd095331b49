package io.switchboard.bench;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.URI;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** The bench sub-command measures a real fan-out; here only that it counts right (no speed targets). */
class BenchTest {

  @Test
  @DisplayName("a small bench run delivers every message to every subscriber and reports it")
  void smallRun() {
    int port = TestNodes.port(TestNodes.shared());
    Bench.Report report = await(Bench.run(Api.clientVertx(),
      new Bench.Options(URI.create("http://127.0.0.1:" + port), 5, 10, 50, 60)));
    assertThat(report.deliveriesExpected()).isEqualTo(50);
    assertThat(report.deliveries()).isEqualTo(50);
    assertThat(report.p50Ms()).isPositive();
    assertThat(report.maxMs()).isGreaterThanOrEqualTo(report.p99Ms());
  }

  @Test
  @DisplayName("bench options are checked: unknown flags and out-of-range values are refused")
  void options() {
    assertThat(Bench.Options.parse(java.util.List.of("--subscribers", "7")).subscribers()).isEqualTo(7);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Bench.Options.parse(java.util.List.of("--nope", "1")))
      .hasMessageContaining("--nope");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Bench.Options.parse(java.util.List.of("--subscribers", "0")))
      .hasMessageContaining("--subscribers");
  }
}
