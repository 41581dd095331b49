package io.switchboard.protocol;

import io.vertx.core.eventbus.ReplyException;
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
   * failure by its code, anything else as {@code internal}. No handler means the command never
   * ran ({@code unavailable}); a timeout means it may have run ({@code outcome_unknown}), so the
   * client is never told "nothing was committed" about a command that could still commit.
   */
  public static ServiceException from(Throwable t) {
    if (t instanceof ServiceException se) {
      return se;
    }
    if (t instanceof ReplyException re) {
      return switch (re.failureType()) {
        case RECIPIENT_FAILURE -> new ServiceException(ErrorCode.ofStatus(re.failureCode()), re.getMessage());
        case TIMEOUT -> new ServiceException(ErrorCode.OUTCOME_UNKNOWN,
          "no answer in time: the command may or may not have taken effect; retry it (a send with the same clientMessageId)");
        default -> new ServiceException(ErrorCode.UNAVAILABLE, "service unavailable, try again");
      };
    }
    return new ServiceException(ErrorCode.INTERNAL, "internal error");
  }

  /** The {@code {code, message}} object used in error bodies and envelopes. */
  public JsonObject toJson() {
    return new JsonObject().put("code", code.code()).put("message", getMessage());
  }
}
