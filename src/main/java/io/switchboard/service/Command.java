package io.switchboard.service;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.json.JsonObject;

/**
 * A command as it travels on {@code sb.cmd.<type>}: the principal the adapter authenticated and
 * the client's payload. Body: {@code {"principal": {...}, "payload": {...}, "connectionId"?,
 * "deadline"?}}; the connection id names the client connection (device) a command came from,
 * when it came over a stream, so a service can address "the user's other devices". The deadline
 * (epoch milliseconds, 0 for none) is when the sender stops waiting: a service that only gets to
 * a command after it does not run it, so nothing commits behind an answer already given.
 */
public record Command(String type, Principal principal, JsonObject payload, String connectionId, long deadline) {

  public Command(String type, Principal principal, JsonObject payload) {
    this(type, principal, payload, null, 0);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("principal", principal.toJson()).put("payload", payload);
    if (connectionId != null) {
      json.put("connectionId", connectionId);
    }
    if (deadline > 0) {
      json.put("deadline", deadline);
    }
    return json;
  }

  /** True when the sender has stopped waiting for this command. */
  public boolean expired() {
    return deadline > 0 && System.currentTimeMillis() > deadline;
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
    Object deadline = body.getValue("deadline");
    return new Command(type, Principal.fromJson(p), payload == null ? new JsonObject() : (JsonObject) payload,
      connectionId instanceof String c ? c : null, deadline instanceof Number n ? n.longValue() : 0);
  }

  public String userId() {
    return principal.userId();
  }
}
