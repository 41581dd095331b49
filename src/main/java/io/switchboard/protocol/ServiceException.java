package io.switchboard.protocol;

import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;

/**
 * A failure with a client-facing {@link ErrorCode} and message. Service verticles fail with it,
 * adapters turn it into an HTTP error body, an {@code error} envelope or a close code.
 */
public final class ServiceException extends RuntimeException {

  private final ErrorCode code;

  public ServiceException(ErrorCode code, String message) {
    super(message, null, false, false);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  public static ServiceException invalid(String message) {
    return new ServiceException(ErrorCode.INVALID_REQUEST, message);
  }

  public static ServiceException forbidden(String message) {
    return new ServiceException(ErrorCode.FORBIDDEN, message);
  }

  public static ServiceException notFound(String message) {
    return new ServiceException(ErrorCode.NOT_FOUND, message);
  }

  public static ServiceException tooLarge(String message) {
    return new ServiceException(ErrorCode.TOO_LARGE, message);
  }

  /**
   * Maps any failure to a client-facing one: a {@link ServiceException} as is, an event-bus
   * failure by its code (no handler or timeout means the service is unavailable), anything else
   * as {@code internal}.
   */
  public static ServiceException from(Throwable t) {
    if (t instanceof ServiceException se) {
      return se;
    }
    if (t instanceof ReplyException re) {
      if (re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
        return new ServiceException(ErrorCode.ofStatus(re.failureCode()), re.getMessage());
      }
      return new ServiceException(ErrorCode.UNAVAILABLE, "service unavailable, try again");
    }
    return new ServiceException(ErrorCode.INTERNAL, "internal error");
  }

  /** The {@code {code, message}} object used in error bodies and envelopes. */
  public JsonObject toJson() {
    return new JsonObject().put("code", code.code()).put("message", getMessage());
  }
}
