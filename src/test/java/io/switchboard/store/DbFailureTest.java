package io.switchboard.store;

import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Future;
import io.vertx.core.VertxException;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.ClosedConnectionException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How database failures reach clients (DECISIONS "Errors and HTTP"): 503 only when nothing can
 * have been committed; 504 {@code outcome_unknown} when the connection dropped with the statement
 * in flight, since PostgreSQL may have committed it (issue 13, scenario 3 caught a committed send
 * answered 503).
 */
class DbFailureTest {

  private static ErrorCode code(Throwable t) {
    Future<Object> f = Db.failure(t);
    assertThat(f.failed()).isTrue();
    assertThat(f.cause()).isInstanceOf(ServiceException.class);
    return ((ServiceException) f.cause()).code();
  }

  @Test
  @DisplayName("a connection lost with the statement in flight is outcome_unknown (504), never unavailable")
  void lostInFlight() {
    assertThat(code(ClosedConnectionException.INSTANCE)).isEqualTo(ErrorCode.OUTCOME_UNKNOWN);
    assertThat(ErrorCode.OUTCOME_UNKNOWN.status()).isEqualTo(504);
  }

  @Test
  @DisplayName("no connection, a statement never sent, a backend shut down: unavailable (503)")
  void nothingCommitted() {
    assertThat(code(new ConnectException("Connection refused"))).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(code(new VertxException("Pending requests failed to be sent due to connection has been closed.", true)))
      .isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(code(new PgException("terminating connection due to administrator command", "FATAL", "57P01", null)))
      .isEqualTo(ErrorCode.UNAVAILABLE);
  }
}
