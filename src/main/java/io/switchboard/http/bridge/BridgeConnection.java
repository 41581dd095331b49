package io.switchboard.http.bridge;

import io.switchboard.auth.Principal;
import io.switchboard.gateway.Connection;
import io.switchboard.gateway.Event;
import io.switchboard.gateway.Gateway;
import io.switchboard.http.ConnectionCounts;
import io.switchboard.protocol.Addresses;
import io.vertx.core.Context;
import io.vertx.core.Future;

/**
 * A bridge client's stream: every event of the user goes out as a message frame on
 * {@code sb.user.<userId>}, with the stream cursor in the frame headers for timeline events.
 * It runs the client's commands from its first authenticated frame and starts streaming on its
 * {@code register}.
 */
final class BridgeConnection extends Connection {

  private final BridgeSession session;
  private final String quotedAddress;
  private boolean detaching;

  BridgeConnection(Gateway gateway, Context context, Principal principal, BridgeSession session) {
    super(gateway, context, ConnectionCounts.Transport.BRIDGE, principal);
    this.session = session;
    this.quotedAddress = BridgeFrames.quote(Addresses.user(principal.userId()));
  }

  @Override
  protected Future<Void> write(Event event, String cursor) {
    return session.writeEvent(quotedAddress, cursor, event.text());
  }

  @Override
  protected void terminate(int code, String reason) {
    if (!detaching) {
      session.shutdown(code, reason);
    }
  }

  /** {@code unregister} of the user's address: the stream ends, the socket stays open for commands. */
  void detach() {
    detaching = true;
    close(CLOSE_NORMAL, "unregistered");
  }

  void peerClosed() {
    closedByPeer();
  }
}
