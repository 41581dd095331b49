package io.switchboard.service;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ServiceException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

/**
 * How adapters send commands: request/reply on {@code sb.cmd.<type>}, answered by whichever node
 * runs the service. Failures come back as {@link ServiceException}s with their code.
 */
public final class CommandClient {

  /** Long enough for a slow transaction, short enough that a client hears back. */
  static final long TIMEOUT_MS = 15_000;

  private final Vertx vertx;
  private final DeliveryOptions options = new DeliveryOptions().setSendTimeout(TIMEOUT_MS);

  public CommandClient(Vertx vertx) {
    this.vertx = vertx;
  }

  public Future<Envelope> request(Principal principal, String type, JsonObject payload) {
    return request(principal, type, payload, null);
  }

  /** A command from one client connection (device); {@code connectionId} may be null. */
  public Future<Envelope> request(Principal principal, String type, JsonObject payload, String connectionId) {
    Command cmd = new Command(type, principal, payload == null ? new JsonObject() : payload, connectionId);
    return vertx.eventBus().<JsonObject>request(Addresses.command(type), cmd.toJson(), options)
      .transform(ar -> ar.succeeded()
        ? Future.succeededFuture(Envelope.fromJson(ar.result().body()))
        : Future.failedFuture(ServiceException.from(ar.cause())));
  }
}
