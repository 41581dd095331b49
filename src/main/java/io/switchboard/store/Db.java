package io.switchboard.store;

import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.ClosedConnectionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.OffsetDateTime;

/** Helpers shared by the store classes: failure mapping and value conversion. */
public final class Db {

  private static final Logger LOG = LoggerFactory.getLogger(Db.class);
  /** untranslatable_character (a NUL in jsonb) and character_not_in_repertoire (a NUL in text). */
  private static final java.util.Set<String> UNSTORABLE_TEXT = java.util.Set.of("22P05", "22021");

  private Db() {
  }

  /**
   * Maps a database failure to a client-facing one. Connection problems, a full pool queue or
   * a database shutting down are {@code unavailable} (nothing was committed, retry later); a
   * connection lost after the statement was sent and before its answer is {@code outcome_unknown}
   * (it may have committed: retry, idempotently); text
   * PostgreSQL cannot store is {@code invalid_request}; anything else from PostgreSQL is a bug,
   * logged here once and answered as {@code internal}.
   */
  public static <T> Future<T> failure(Throwable t) {
    if (t instanceof ServiceException) {
      return Future.failedFuture(t);
    }
    if (t instanceof ClosedConnectionException) {
      // The statement was written and the connection dropped before its answer: PostgreSQL may
      // have committed it (a cut right after COMMIT), so "nothing was committed" would be a lie.
      LOG.warn("database connection lost with a statement in flight; its outcome is unknown");
      return Future.failedFuture(new ServiceException(ErrorCode.OUTCOME_UNKNOWN, "the database connection was lost"
        + " before the answer: the command may or may not have taken effect; retry it (a send with the same"
        + " clientMessageId)"));
    }
    if (t instanceof PgException pg) {
      String state = pg.getSqlState() == null ? "" : pg.getSqlState();
      if (UNSTORABLE_TEXT.contains(state)) {
        // A backstop: the edges refuse such text (protocol/Text), so this means one was missed.
        LOG.warn("text PostgreSQL cannot store reached the database: {} ({})", pg.getMessage(), state);
        return Future.failedFuture(ServiceException.invalid("the request contains text that cannot be stored"
          + " (a NUL character or invalid Unicode)"));
      }
      if (state.startsWith("08") || state.startsWith("57") || state.startsWith("53")) {
        LOG.warn("database unavailable: {} ({})", pg.getMessage(), state);
        return Future.failedFuture(new ServiceException(ErrorCode.UNAVAILABLE, "database unavailable, try again"));
      }
      LOG.error("database error {}", state, pg);
      return Future.failedFuture(new ServiceException(ErrorCode.INTERNAL, "internal error"));
    }
    LOG.warn("database unavailable: {}", t.toString());
    return Future.failedFuture(new ServiceException(ErrorCode.UNAVAILABLE, "database unavailable, try again"));
  }

  /** A timestamptz column as the wire's ISO-8601 UTC text. */
  public static String timestamp(OffsetDateTime t) {
    return t == null ? null : io.switchboard.protocol.Envelope.format(t.toInstant());
  }
}
