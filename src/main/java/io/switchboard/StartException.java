package io.switchboard;

/**
 * A start refused for a reason the operator can act on: a port in use, a database held by
 * another node, a migration that failed, a cluster address this machine does not have. Its
 * message is the one line {@link Main} prints before it exits; it names the cause and, where
 * there is one, the configuration key.
 */
public final class StartException extends RuntimeException {

  public StartException(String message) {
    super(oneLine(message), null, false, false);
  }

  public StartException(String message, Throwable cause) {
    super(oneLine(message), cause, false, false);
  }

  /** A failure's own message on one line (PostgreSQL and Hazelcast messages may span several). */
  public static String describe(Throwable t) {
    String message = t.getMessage();
    return oneLine(message == null || message.isBlank() ? t.getClass().getSimpleName() : message);
  }

  private static String oneLine(String text) {
    return text == null ? "" : text.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
