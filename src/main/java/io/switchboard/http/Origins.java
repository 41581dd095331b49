package io.switchboard.http;

import java.util.List;

/** {@code http.allowedOrigins}: which browser origins may open WebSocket and SockJS connections. */
public final class Origins {

  private final List<String> allowed;
  private final boolean any;

  public Origins(List<String> allowed) {
    this.allowed = allowed;
    this.any = allowed.contains("*");
  }

  /** A request without an Origin header is not from a browser page and is allowed. */
  public boolean allowed(String origin) {
    return any || origin == null || allowed.contains(origin);
  }
}
