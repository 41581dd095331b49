package io.switchboard.testing;

import io.switchboard.Node;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;

/** JWTs a development token cannot be: signed with a node's HS256 secret, with a chosen lifetime. */
public final class Tokens {

  private Tokens() {
  }

  /** A token for {@code userId} that expires in {@code seconds} (whole seconds, from now rounded down). */
  public static String expiringIn(Node node, String userId, int seconds) {
    JWTAuth jwt = JWTAuth.create(Api.clientVertx(), new JWTAuthOptions().addPubSecKey(new PubSecKeyOptions()
      .setAlgorithm("HS256").setBuffer(node.context().config().auth().jwtSecret())));
    return jwt.generateToken(new JsonObject().put("sub", userId),
      new JWTOptions().setAlgorithm("HS256").setExpiresInSeconds(seconds));
  }
}
