package io.switchboard.admin;

import io.switchboard.auth.Revocations;
import io.switchboard.gateway.Gateway;
import io.switchboard.protocol.Addresses;
import io.switchboard.store.RevocationStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One per node: the node's end of the admin API's control messages ({@link Addresses#CONTROL},
 * published to every node). A revocation joins the node's {@link Revocations}, so the tokens are
 * refused from then on, and the node's streams that use them end; a disconnect ends the user's
 * streams here. The revocations are read from PostgreSQL before the node serves, and again every
 * {@link #RELOAD_MS}, which also ends streams a lost message or a start in between missed.
 */
public final class ControlVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(ControlVerticle.class);
  static final long RELOAD_MS = 30_000;

  private final Pool pool;
  private final Revocations revocations;
  private final Gateway gateway;
  private boolean failing;

  /** @param gateway the node's streams (null on a node without the HTTP role) */
  public ControlVerticle(Pool pool, Revocations revocations, Gateway gateway) {
    this.pool = pool;
    this.revocations = revocations;
    this.gateway = gateway;
  }

  @Override
  public Future<?> start() {
    var consumer = vertx.eventBus().<JsonObject>consumer(Addresses.CONTROL, msg -> control(msg.body()));
    vertx.setPeriodic(RELOAD_MS, id -> reload());
    return Future.all(consumer.completion(), reload());
  }

  private void control(JsonObject envelope) {
    JsonObject p = envelope.getJsonObject("payload", new JsonObject());
    switch (String.valueOf(envelope.getString("type"))) {
      case AdminVerticle.REVOKED -> {
        revocations.add(p);
        int ended = endRevoked();
        LOG.info("token revocation {} applied; {} stream(s) ended here", p.encode(), ended);
      }
      case AdminVerticle.DISCONNECTED -> {
        if (gateway != null) {
          int ended = gateway.disconnect(p.getString("userId"), p.getString("reason", "disconnected"));
          LOG.info("disconnect of {}: {} stream(s) ended here", p.getString("userId"), ended);
        }
      }
      default -> LOG.debug("unknown control message {}", envelope.getString("type"));
    }
  }

  private int endRevoked() {
    return gateway == null ? 0 : gateway.disconnect(revocations::revoked, "token_revoked");
  }

  private Future<Void> reload() {
    revocations.prune(System.currentTimeMillis() / 1000);
    return RevocationStore.all(pool).map(all -> {
      all.forEach(o -> revocations.add((JsonObject) o));
      endRevoked();
      if (failing) {
        failing = false;
        LOG.info("token revocations readable again");
      }
      return (Void) null;
    }).recover(t -> {
      if (!failing) {
        failing = true;
        LOG.warn("cannot read token revocations ({}); retrying every {} s", t.toString(), RELOAD_MS / 1000);
      }
      return Future.succeededFuture();
    });
  }
}
