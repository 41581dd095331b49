package io.switchboard.metrics;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops Micrometer's "This Gauge has been already registered" warning for Vert.x's own event-bus
 * gauges, which every node logged at start. Vert.x Micrometer registers its gauges again for each
 * consumer of an address it already counts, and reuses the gauge it gets back; since Micrometer
 * 1.14 each repeat is reported, though nothing is wrong. The warning stays for any other meter:
 * for Switchboard's own, a double registration would be a bug. Installed by {@code logback.xml}.
 */
public final class VertxGaugeNoise extends TurboFilter {

  private static final String LOGGER = "io.micrometer.core.instrument.MeterRegistry";
  private static final String MESSAGE = "This Gauge has been already registered (MeterId{name='vertx.";

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    return format != null && LOGGER.equals(logger.getName()) && format.startsWith(MESSAGE)
      ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
