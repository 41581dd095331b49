package io.switchboard.service;

import io.switchboard.auth.Principal;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

import java.util.concurrent.ConcurrentHashMap;

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
  /**
   * When each user last sent a client command through this node (epoch milliseconds): the idle
   * clock of presence ({@code presence.awaySeconds}). Pings and the streams' own commands do not
   * count, only the commands a client chose to send ({@link Types#FORWARDED}).
   */
  private final ConcurrentHashMap<String, Long> lastCommand = new ConcurrentHashMap<>();

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
    long now = System.currentTimeMillis();
    if (Types.FORWARDED.contains(type)) {
      lastCommand.put(principal.userId(), now);
    }
    Command cmd = new Command(type, principal, payload == null ? new JsonObject() : payload, connectionId,
      now + TIMEOUT_MS);
    return vertx.eventBus().<JsonObject>request(Addresses.command(type), cmd.toJson(), options)
      .transform(ar -> ar.succeeded()
        ? Future.succeededFuture(Envelope.fromBus(ar.result().body()))
        : Future.failedFuture(ServiceException.from(ar.cause())));
  }

  /** When {@code userId} last sent a client command through this node, or 0. */
  public long lastCommandAt(String userId) {
    Long at = lastCommand.get(userId);
    return at == null ? 0 : at;
  }

  /** Forgets the users for whom {@code stale} holds (presence drops those not connected here). */
  public void forgetCommands(java.util.function.BiPredicate<String, Long> stale) {
    lastCommand.entrySet().removeIf(e -> stale.test(e.getKey(), e.getValue()));
  }
}
