package io.switchboard.service;

import io.switchboard.metrics.NodeMetrics;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.ServiceException;
import io.switchboard.webhook.Outbox;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Base of the service verticles: registers one consumer per command type on
 * {@code sb.cmd.<type>} (clustered, so that a node without the services can reach them; nodes
 * with them send their own commands {@code localOnly}, see {@link CommandClient}), decodes the {@link Command}, and answers with the reply envelope or a
 * failure whose code is the {@link ErrorCode}'s status. Exceptions thrown by a handler become
 * failures too, so no command goes unanswered.
 */
public abstract class ServiceVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(ServiceVerticle.class);

  private final List<MessageConsumer<JsonObject>> consumers = new ArrayList<>();
  private NodeMetrics metrics;
  private Outbox outbox = Outbox.NONE;

  /** Counts this verticle's answers in the node's meters; called before it is deployed. */
  public ServiceVerticle metered(NodeMetrics metrics) {
    this.metrics = metrics;
    return this;
  }

  /** The node's webhook outbox, for the changes this verticle reports; called before it is deployed. */
  public ServiceVerticle webhooks(Outbox outbox) {
    this.outbox = outbox;
    return this;
  }

  /** Where a change's webhook events are written, in the change's transaction (none configured: nothing). */
  protected Outbox outbox() {
    return outbox;
  }

  /**
   * After a commit that wrote webhook rows: this node's delivery looks at once instead of at its
   * next poll (any node may deliver them; this only saves the wait).
   */
  protected void webhooksDue() {
    if (outbox.enabled()) {
      vertx.eventBus().send(Addresses.WEBHOOKS_WAKE, null, new io.vertx.core.eventbus.DeliveryOptions().setLocalOnly(true));
    }
  }

  /** Registers the handler of one command type. */
  protected void handle(String type, Function<Command, Future<Envelope>> handler) {
    consumers.add(vertx.eventBus().consumer(Addresses.command(type), msg -> dispatch(type, handler, msg)));
  }

  /** Completes when every registration has reached the cluster. */
  protected Future<Void> registered() {
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).mapEmpty();
  }

  /** Publishes an event envelope to the followers of an address on every node ({@link Events}). */
  protected void publish(String address, String type, JsonObject payload) {
    Events.publish(vertx.eventBus(), address, Envelope.of(type, payload).toJson());
  }

  private void dispatch(String type, Function<Command, Future<Envelope>> handler, Message<JsonObject> msg) {
    Future<Envelope> result;
    try {
      Command cmd = Command.fromJson(type, msg.body());
      // Queued past its sender's patience (a node frozen and resumed, a saturated event loop):
      // the sender has answered outcome_unknown already, and running it now would commit late.
      result = cmd.expired()
        ? Future.failedFuture(new ServiceException(ErrorCode.UNAVAILABLE, "the command expired before it ran"))
        : handler.apply(cmd);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      if (ar.succeeded()) {
        msg.reply(ar.result().toJson());
        counted(type, "ok");
        return;
      }
      ServiceException se = ServiceException.from(ar.cause());
      if (se.code() == ErrorCode.INTERNAL && !(ar.cause() instanceof ServiceException)) {
        LOG.error("command {} failed", type, ar.cause());
      }
      msg.fail(se.code().status(), se.getMessage());
      counted(type, se.code().code());
    });
  }

  /** The types are bounded: an unknown type never reaches a service. */
  private void counted(String type, String outcome) {
    if (metrics != null) {
      metrics.commandAnswered(type, outcome);
    }
  }
}
