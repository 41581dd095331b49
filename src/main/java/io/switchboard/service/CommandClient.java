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
 * How adapters send commands: request/reply on {@code sb.cmd.<type>}. On a node that runs the
 * services (every production node) a command is answered where it arrived ({@code localOnly}
 * delivery, DESIGN §2): it never crosses the network, and a dead or frozen peer that is still in
 * the member list cannot swallow it. A node without the services (a test topology) sends over
 * the cluster. Failures come back as {@link ServiceException}s with their code.
 */
public final class CommandClient {

  /** Long enough for a slow transaction, short enough that a client hears back. */
  static final long TIMEOUT_MS = 15_000;

  private final Vertx vertx;
  private final DeliveryOptions options;

  /** @param local whether this node runs the service verticles itself */
  public CommandClient(Vertx vertx, boolean local) {
    this.vertx = vertx;
    this.options = new DeliveryOptions().setSendTimeout(TIMEOUT_MS).setLocalOnly(local);
  }

  public Future<Envelope> request(Principal principal, String type, JsonObject payload) {
    return request(principal, type, payload, null);
  }

  /** A command from one client connection (device); {@code connectionId} may be null. */
  public Future<Envelope> request(Principal principal, String type, JsonObject payload, String connectionId) {
    Command cmd = new Command(type, principal, payload == null ? new JsonObject() : payload, connectionId,
      System.currentTimeMillis() + TIMEOUT_MS);
    return vertx.eventBus().<JsonObject>request(Addresses.command(type), cmd.toJson(), options)
      .transform(ar -> ar.succeeded()
        ? Future.succeededFuture(Envelope.fromBus(ar.result().body()))
        : Future.failedFuture(ServiceException.from(ar.cause())));
  }
}
