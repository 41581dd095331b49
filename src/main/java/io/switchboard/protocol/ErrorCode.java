package io.switchboard.protocol;

import java.util.Arrays;
import java.util.Locale;

/**
 * The error codes of SPEC §2. Each carries its HTTP status, which is also its event-bus failure
 * code, so a failure crosses the bus and comes out of any adapter as the same error.
 */
public enum ErrorCode {
  /** Malformed JSON, unknown type, missing or mistyped field. */
  INVALID_REQUEST(400),
  /** Missing or invalid credentials. */
  UNAUTHORIZED(401),
  /** Authenticated, but not allowed. */
  FORBIDDEN(403),
  /** No such conversation, message, call or route. */
  NOT_FOUND(404),
  /** The request contradicts the current state. */
  CONFLICT(409),
  /** A body, frame or message over its limit. */
  TOO_LARGE(413),
  /** Over a rate limit; retry later. */
  RATE_LIMITED(429),
  /** A dependency (database, service, cluster) is down; retry later. Nothing was committed. */
  UNAVAILABLE(503),
  /**
   * The command timed out after it may have reached its service, or the database connection was
   * lost with its statement in flight: it may or may not have taken effect. Retrying with the
   * same {@code clientMessageId} is safe (sends are idempotent).
   */
  OUTCOME_UNKNOWN(504),
  /** A bug; logged with its cause on the node. */
  INTERNAL(500);

  private final int status;

  ErrorCode(int status) {
    this.status = status;
  }

  /** The HTTP status, also used as the event-bus failure code. */
  public int status() {
    return status;
  }

  /** The wire name, e.g. {@code invalid_request}. */
  public String code() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The code for an HTTP status or event-bus failure code; unknown values are {@link #INTERNAL}. */
  public static ErrorCode ofStatus(int status) {
    return Arrays.stream(values()).filter(c -> c.status == status).findFirst().orElse(INTERNAL);
  }
}
