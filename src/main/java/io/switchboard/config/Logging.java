package io.switchboard.config;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import ch.qos.logback.core.joran.util.ConfigurationWatchListUtil;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

import java.net.URL;

/**
 * {@code log.format} ({@code text} or {@code json}). The packaged {@code logback.xml} reads it
 * from {@code SWITCHBOARD_LOG_FORMAT} as it starts, before any configuration file is read; a
 * {@code -conf} file that sets it takes effect here, by reloading that same {@code logback.xml}
 * with the format as a system property. A logback configuration of the operator's own
 * ({@code -Dlogback.configurationFile}) is left alone.
 */
public final class Logging {

  /** Read by {@code logback.xml} before the environment variable. */
  static final String FORMAT_PROPERTY = "switchboard.log.format";
  /** The context property {@code logback.xml} records its choice in. */
  static final String CHOSEN = "SB_LOG_FORMAT";

  private Logging() {
  }

  public static void apply(SwitchboardConfig config) {
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof LoggerContext context)) {
      return;
    }
    String chosen = context.getProperty(CHOSEN);
    if (chosen == null || chosen.equals(config.logFormat())) {
      return;
    }
    // The file logback read (ours, since it records the choice), read again with the new format.
    URL packaged = ConfigurationWatchListUtil.getMainWatchURL(context);
    if (packaged == null) {
      packaged = Logging.class.getClassLoader().getResource("logback.xml");
    }
    if (packaged == null) {
      return;
    }
    System.setProperty(FORMAT_PROPERTY, config.logFormat());
    context.reset();
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    try {
      configurator.doConfigure(packaged);
    } catch (JoranException e) {
      throw new ConfigException("log.format: cannot reload the logging configuration: " + e.getMessage());
    }
  }
}
