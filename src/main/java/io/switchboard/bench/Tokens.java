package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.vertx.ext.web.client.WebClient;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * Tokens for the bench's users: signed locally with {@code --jwt-secret} (the node's
 * {@code auth.jwtSecret}, so that thousands of users cost the server nothing before the run), or
 * asked one by one from {@code POST /api/auth/dev-token} (needs {@code auth.devTokens}).
 */
final class Tokens {

  private static final int PARALLEL = 16;

  private final JWTAuth local;
  private final WebClient rest;
  private final URI node;

  Tokens(Clients clients, URI node, String secret) {
    this.rest = clients.rest;
    this.node = node;
    this.local = secret == null ? null : JWTAuth.create(clients.vertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret)));
  }

  Future<String> token(String userId) {
    if (local != null) {
      return Future.succeededFuture(local.generateToken(new JsonObject().put("sub", userId).put("name", userId),
        new JWTOptions().setAlgorithm("HS256").setExpiresInSeconds(86_400)));
    }
    return rest.post(port(node), node.getHost(), "/api/auth/dev-token")
      .sendJsonObject(new JsonObject().put("userId", userId).put("name", userId))
      .compose(r -> r.statusCode() == 201 ? Future.succeededFuture(r.bodyAsJsonObject().getString("token"))
        : Future.failedFuture("cannot get a development token (is auth.devTokens on, or give --jwt-secret): "
          + r.statusCode() + " " + r.bodyAsString()));
  }

  /** Tokens for every user, in order, at most {@value #PARALLEL} requests at a time. */
  Future<List<String>> tokens(List<String> users) {
    String[] out = new String[users.size()];
    if (local != null) {
      for (int i = 0; i < out.length; i++) {
        out[i] = token(users.get(i)).result();
      }
      return Future.succeededFuture(List.of(out));
    }
    return Parallel.forEach(users.size(), PARALLEL, i -> token(users.get(i)).map(t -> {
      out[i] = t;
      return null;
    })).map(v -> List.of(out));
  }

  static int port(URI u) {
    return u.getPort() > 0 ? u.getPort() : 80;
  }

  static List<String> names(String prefix, int n) {
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(prefix + i);
    }
    return out;
  }
}
