package io.switchboard.metrics;

import io.switchboard.protocol.Envelope;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The timestamp reading behind the delivery latency histogram. */
class NodeMetricsTest {

  @Test
  @DisplayName("an envelope's own timestamp is read to the millisecond, as java.time reads it")
  void envelopeTimestamps() {
    for (Instant instant : new Instant[] {Instant.EPOCH, Instant.parse("2024-02-29T23:59:59.999Z"),
      Instant.parse("2026-07-01T12:34:56.789Z"), Instant.ofEpochMilli(System.currentTimeMillis())}) {
      String text = Envelope.format(instant);
      assertThat(NodeMetrics.epochMillis(text)).as(text).isEqualTo(instant.toEpochMilli());
    }
  }

  @Test
  @DisplayName("other ISO-8601 instants are read too, and anything else is -1, never an exception")
  void otherShapes() {
    assertThat(NodeMetrics.epochMillis("2026-07-01T12:34:56Z")).isEqualTo(Instant.parse("2026-07-01T12:34:56Z").toEpochMilli());
    assertThat(NodeMetrics.epochMillis("2026-07-01T12:34:56.123456Z")).isEqualTo(Instant.parse("2026-07-01T12:34:56.123Z").toEpochMilli());
    assertThat(NodeMetrics.epochMillis("2026-02-30T12:34:56.789Z")).isEqualTo(-1);
    assertThat(NodeMetrics.epochMillis("2026-07-01T25:34:56.789Z")).isEqualTo(-1);
    assertThat(NodeMetrics.epochMillis("2026-07-01T1a:34:56.789Z")).isEqualTo(-1);
    assertThat(NodeMetrics.epochMillis("yesterday")).isEqualTo(-1);
    assertThat(NodeMetrics.epochMillis("")).isEqualTo(-1);
  }
}
