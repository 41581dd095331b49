package io.switchboard.bridge;

import io.switchboard.gateway.Gateway;
import io.switchboard.gateway.Handshakes;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.bridge.BridgeFrames.Dialect;
import io.switchboard.http.Tls;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;

/**
 * The TCP event-bus bridge for backends on {@code bridge.tcpPort} (SPEC §7): the framing of
 * vertx-tcp-eventbus-bridge (4-byte big-endian length + UTF-8 JSON) and the frames and rules of
 * {@link BridgeSession}. Users authenticate with {@code headers.token}; backends with
 * {@code headers.apiKey}, which only lets them publish. Deployed once per event loop, like the
 * HTTP port; Vert.x spreads connections across the instances.
 */
public final class TcpBridgeVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(TcpBridgeVerticle.class);

  private final Gateway gateway;
  private NetServer server;

  public TcpBridgeVerticle(Gateway gateway) {
    this.gateway = gateway;
  }

  @Override
  public Future<?> start() {
    NetServerOptions options = new NetServerOptions()
      .setHost(gateway.config().http().host())
      .setPort(gateway.config().bridge().tcpPort())
      .setTcpKeepAlive(true);
    server = vertx.createNetServer(Tls.apply(options, gateway.config().tls().bridge())).connectHandler(this::accept);
    return server.listen().onSuccess(s -> LOG.debug("TCP bridge instance listening on {}", s.actualPort()));
  }

  private void accept(NetSocket socket) {
    Handshakes.Ticket ticket = gateway.handshakes().admit(socket.remoteAddress().hostAddress());
    if (ticket == null) {
      // Over limits.unauthenticatedPerIp: told why in one err frame, and closed at once.
      LOG.debug("refusing a TCP bridge connection from {}: too many unauthenticated connections", socket.remoteAddress());
      new Socket(socket).write(BridgeFrames.err(ErrorCode.RATE_LIMITED.status(), ErrorCode.RATE_LIMITED.code(),
        "too many unauthenticated connections from this address", null)).onComplete(ar -> socket.close());
      return;
    }
    BridgeSession session = new BridgeSession(gateway, new Socket(socket), context, Dialect.TCP, ticket);
    TcpFrameParser parser = new TcpFrameParser(gateway.config().limits().frameBytes(), session::receive, session::tooLarge);
    socket.handler(parser);
    socket.closeHandler(v -> {
      parser.stop();
      session.peerClosed();
    });
    socket.exceptionHandler(t -> {
      LOG.debug("TCP bridge socket from {} failed", socket.remoteAddress(), t);
      socket.close();
    });
  }

  /** A TCP socket as the session sees it: each frame written with its length. */
  private static final class Socket implements BridgeSocket {
    private final NetSocket socket;

    Socket(NetSocket socket) {
      this.socket = socket;
    }

    @Override
    public Future<Void> write(String frame) {
      byte[] bytes = frame.getBytes(StandardCharsets.UTF_8);
      return socket.write(Buffer.buffer(bytes.length + 4).appendInt(bytes.length).appendBytes(bytes));
    }

    @Override
    public void close(int code, String reason) {
      socket.close();
    }

    @Override
    public void pause() {
      socket.pause();
    }

    @Override
    public void resume() {
      socket.resume();
    }

    @Override
    public String queryParam(String name) {
      return null;
    }

    @Override
    public long idleTimeoutMs() {
      // Backends keep connections open without pinging; TCP keep-alive finds dead peers.
      return 0;
    }
  }
}
