package io.switchboard;

import io.switchboard.config.ConfigException;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.Logging;
import io.switchboard.config.SwitchboardConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code java -jar switchboard.jar [-conf FILE]} starts a node;
 * {@code java -jar switchboard.jar bench ...} runs the load generator.
 */
public final class Main {

  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  /**
   * A backstop: a start that neither succeeds nor fails within this long is given up, so that a
   * supervisor sees an exit instead of a process that never serves. A healthy start takes seconds.
   */
  static final long START_SECONDS = 180;

  private Main() {
  }

  /**
   * The one line a failed start prints, then exit status 1. Shutdown hooks still run, so an
   * embedded PostgreSQL this process started stops with it.
   */
  private static void cannotStart(String reason, Throwable cause) {
    LOG.error("cannot start: {}", reason, cause);
    System.err.println("switchboard: cannot start: " + reason);
    System.exit(1);
  }

  /** The operator's reasons (configuration, ports, database, cluster) as they are; anything else with its type. */
  static String reason(Throwable cause) {
    if (cause instanceof ConfigException || cause instanceof StartException) {
      return StartException.describe(cause);
    }
    return cause.getClass().getSimpleName() + ": " + StartException.describe(cause);
  }

  public static void main(String[] args) {
    System.setProperty("hazelcast.logging.type", "slf4j");
    // Netty's leak detector, on by default, touches every buffer at every handler it passes; a
    // node in production runs without it (-Dio.netty.leakDetection.level=simple turns it back on).
    // The tests, which start nodes in-process, keep it.
    if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
      System.setProperty("io.netty.leakDetection.level", "disabled");
    }
    if (args.length > 0 && "bench".equals(args[0])) {
      io.switchboard.bench.Bench.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    Path conf = null;
    for (int i = 0; i < args.length; i++) {
      if (("-conf".equals(args[i]) || "--conf".equals(args[i])) && i + 1 < args.length) {
        conf = Path.of(args[++i]);
      } else {
        System.err.println("usage: java -jar switchboard.jar [-conf FILE] | bench [options]");
        System.exit(2);
      }
    }
    SwitchboardConfig config;
    try {
      config = ConfigLoader.load(conf, System.getenv());
      Logging.apply(config);
    } catch (ConfigException e) {
      System.err.println("switchboard: " + e.getMessage());
      System.exit(1);
      return;
    }
    Node node;
    try {
      node = Node.start(config).toCompletionStage().toCompletableFuture().get(START_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      cannotStart(reason(e.getCause()), e.getCause());
      return;
    } catch (TimeoutException e) {
      cannotStart("not started within " + START_SECONDS + " s", e);
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    int drain = config.drainSeconds();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      LOG.info("stopping node {}", node.nodeId());
      try {
        node.stop().toCompletionStage().toCompletableFuture().get(drain + 15L, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("node did not stop cleanly: {}", e.toString());
      }
    }, "switchboard-shutdown"));
  }
}
