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

/**
 * {@code java -jar switchboard.jar [-conf FILE]} starts a node;
 * {@code java -jar switchboard.jar bench ...} runs the load generator.
 */
public final class Main {

  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  private Main() {
  }

  public static void main(String[] args) {
    System.setProperty("hazelcast.logging.type", "slf4j");
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
      node = Node.start(config).toCompletionStage().toCompletableFuture().get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      System.err.println("switchboard: cannot start: " + (cause instanceof ConfigException ? "" : cause.getClass().getSimpleName() + ": ")
        + cause.getMessage());
      LOG.debug("start failure", cause);
      System.exit(1);
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
