package io.switchboard.service;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.json.JsonObject;

/**
 * A command as it travels on {@code sb.cmd.<type>}: the principal the adapter authenticated and
 * the client's payload. Body: {@code {"principal": {...}, "payload": {...}}}.
 */
public record Command(String type, Principal principal, JsonObject payload) {

  public JsonObject toJson() {
    return new JsonObject().put("principal", principal.toJson()).put("payload", payload);
  }

  public static Command fromJson(String type, JsonObject body) {
    if (body == null || !(body.getValue("principal") instanceof JsonObject p) || p.getString("userId") == null) {
      throw new ServiceException(io.switchboard.protocol.ErrorCode.UNAUTHORIZED, "command without a principal");
    }
    Object payload = body.getValue("payload");
    if (payload != null && !(payload instanceof JsonObject)) {
      throw ServiceException.invalid("'payload' must be an object");
    }
    return new Command(type, Principal.fromJson(p), payload == null ? new JsonObject() : (JsonObject) payload);
  }

  public String userId() {
    return principal.userId();
  }
}
