package io.switchboard.http.api;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §1: tokens never reach the logs, not even inside a logged URL. */
class TokenLoggingTest {

  /** Loggers that could see a request: at DEBUG while the test runs, so nothing hides below the level. */
  private static final String[] LOGGERS = {"io.switchboard", "io.vertx", "io.netty"};

  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private final Level[] saved = new Level[LOGGERS.length];
  private Logger root;

  @BeforeEach
  void capture() {
    root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    appender.start();
    root.addAppender(appender);
    for (int i = 0; i < LOGGERS.length; i++) {
      Logger logger = (Logger) LoggerFactory.getLogger(LOGGERS[i]);
      saved[i] = logger.getLevel();
      logger.setLevel(Level.DEBUG);
    }
  }

  @AfterEach
  void release() {
    for (int i = 0; i < LOGGERS.length; i++) {
      ((Logger) LoggerFactory.getLogger(LOGGERS[i])).setLevel(saved[i]);
    }
    root.detachAppender(appender);
  }

  @Test
  @DisplayName("valid, expired and garbage tokens in headers and query strings never appear in any log line")
  void tokensAreNeverLogged() {
    var node = TestNodes.shared();
    Api api = new Api(TestNodes.port(node));
    String token = api.token(Api.user("logged"));
    String garbage = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZS1zaG91bGQtbm90LWxlYWs";
    for (String t : new String[] {token, garbage}) {
      api.get("/api/conversations?token=" + t, null);
      api.get("/api/conversations/not-a-uuid?token=" + t, null);
      api.get("/api/events/nope?token=" + t, null);
      api.postRaw("/api/conversations?token=" + t, null, "{malformed");
      WebSocketClient ws = Api.clientVertx().createWebSocketClient();
      try {
        await(ws.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(TestNodes.port(node))
          .setURI("/api/ws?token=" + t)).compose(s -> s.close()));
      } finally {
        await(ws.close());
      }
    }
    for (ILoggingEvent event : appender.list) {
      String line = event.getFormattedMessage() + " " + (event.getThrowableProxy() == null ? "" : event.getThrowableProxy().getMessage());
      assertThat(line).doesNotContain(token).doesNotContain(garbage).doesNotContain(token.substring(token.lastIndexOf('.')));
    }
  }
}
