package io.switchboard.service;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.json.JsonObject;

/**
 * A command as it travels on {@code sb.cmd.<type>}: the principal the adapter authenticated and
 * the client's payload. Body: {@code {"principal": {...}, "payload": {...}, "connectionId"?}}; the
 * connection id names the client connection (device) a command came from, when it came over a
 * stream, so a service can address "the user's other devices".
 */
public record Command(String type, Principal principal, JsonObject payload, String connectionId) {

  public Command(String type, Principal principal, JsonObject payload) {
    this(type, principal, payload, null);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("principal", principal.toJson()).put("payload", payload);
    if (connectionId != null) {
      json.put("connectionId", connectionId);
    }
    return json;
  }

  public static Command fromJson(String type, JsonObject body) {
    if (body == null || !(body.getValue("principal") instanceof JsonObject p) || p.getString("userId") == null) {
      throw new ServiceException(io.switchboard.protocol.ErrorCode.UNAUTHORIZED, "command without a principal");
    }
    Object payload = body.getValue("payload");
    if (payload != null && !(payload instanceof JsonObject)) {
      throw ServiceException.invalid("'payload' must be an object");
    }
    Object connectionId = body.getValue("connectionId");
    return new Command(type, Principal.fromJson(p), payload == null ? new JsonObject() : (JsonObject) payload,
      connectionId instanceof String c ? c : null);
  }

  public String userId() {
    return principal.userId();
  }
}
