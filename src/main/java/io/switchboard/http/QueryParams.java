package io.switchboard.http;

import java.util.Arrays;
import java.util.List;

/** Query parameters shared by the stream transports. */
public final class QueryParams {

  private QueryParams() {
  }

  /** {@code ?rooms=a,b} as a distinct list without blanks; empty when absent. */
  public static List<String> list(String param) {
    if (param == null || param.isBlank()) {
      return List.of();
    }
    return Arrays.stream(param.split(",")).map(String::trim).filter(s -> !s.isEmpty()).distinct().toList();
  }
}
