package io.switchboard.config;

/** A configuration problem that stops the node from starting; the message names the key. */
public final class ConfigException extends RuntimeException {

  public ConfigException(String message) {
    super(message);
  }
}
