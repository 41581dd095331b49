package io.switchboard.auth;

import io.switchboard.config.ConfigException;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Text;
import io.switchboard.gateway.TokenBucket;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns credentials into a {@link Principal} (SPEC §1): JWTs signed with HS256 (the configured
 * secret) or RS256/ES256 (configured public keys), and API keys with scopes.
 *
 * <p>Security: vertx-auth-jwt accepts unsigned tokens when it holds no key, so construction
 * refuses a configuration without one. Each key is registered under exactly one algorithm, and
 * a token is verified only with a key of the algorithm its header names, so {@code alg: none}
 * and HS256-signed-with-the-public-key confusion find no key and fail.
 */
public final class Authenticator {

  /** How long a verified token is taken as verified again (never past its exp). */
  static final long VERIFIED_MILLIS = 60_000;
  /** Verified tokens remembered at most; the memory is cleared when full. */
  static final int VERIFIED_MAX = 20_000;
  private final java.util.concurrent.ConcurrentHashMap<String, Verified> verifiedTokens =
    new java.util.concurrent.ConcurrentHashMap<>();

  private static final Logger LOG = LoggerFactory.getLogger(Authenticator.class);
  private static final int DEV_TOKEN_SECONDS = 24 * 3600;
  /** The user-id rule, as error messages state it. */
  public static final String USER_ID_RULE = "must be 1-128 visible characters: not \"*\", and no whitespace,"
    + " control, format or zero-width characters";
  /**
   * Invisible characters that are not in the format category: combining grapheme joiner, Hangul
   * fillers, Khmer inherent vowels, Braille blank. (Zero-width space, joiners and the BOM are
   * format characters.)
   */
  private static final Set<Integer> INVISIBLE = Set.of(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0);
  /** Addresses whose token buckets are kept before idle ones are dropped. */
  private static final int DEV_TOKEN_ADDRESSES = 10_000;

  private final JWTAuth jwt;
  private final boolean canSign;
  private final List<SwitchboardConfig.ApiKey> apiKeys;
  private final int devTokensPerMinute;
  private final Map<String, TokenBucket> devTokenBuckets = new ConcurrentHashMap<>();
  private final Revocations revocations;

  public Authenticator(Vertx vertx, SwitchboardConfig.Auth auth) {
    JWTAuthOptions options = new JWTAuthOptions();
    if (!auth.jwtSecret().isBlank()) {
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(auth.jwtSecret()));
    }
    for (String pem : auth.publicKeys()) {
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(algorithmOf(pem)).setBuffer(pem));
    }
    // JWTAuthOptions has no key list at all until a key is added.
    if (options.getPubSecKeys() == null || options.getPubSecKeys().isEmpty()) {
      throw new ConfigException("no usable JWT key: set auth.jwtSecret or auth.publicKeys");
    }
    if (auth.devTokens() && auth.jwtSecret().isBlank()) {
      throw new ConfigException("auth.devTokens needs auth.jwtSecret to sign development tokens");
    }
    JWTOptions jwtOptions = new JWTOptions().setLeeway(auth.leewaySeconds());
    if (!auth.issuer().isBlank()) {
      jwtOptions.setIssuer(auth.issuer());
    }
    if (!auth.audience().isBlank()) {
      jwtOptions.addAudience(auth.audience());
    }
    options.setJWTOptions(jwtOptions);
    this.jwt = JWTAuth.create(vertx, options);
    this.canSign = !auth.jwtSecret().isBlank();
    this.apiKeys = auth.apiKeys();
    this.devTokensPerMinute = auth.devTokensPerMinute();
    this.revocations = new Revocations(auth.leewaySeconds());
  }

  /** The tokens this node knows to be revoked; every authentication checks them. */
  public Revocations revocations() {
    return revocations;
  }

  /**
   * The key checks that need no Vert.x instance, so a node refuses a keyless configuration
   * before it joins a cluster.
   */
  public static void check(SwitchboardConfig.Auth auth) {
    if (auth.jwtSecret().isBlank() && auth.publicKeys().isEmpty()) {
      throw new ConfigException("no usable JWT key: set auth.jwtSecret or auth.publicKeys");
    }
    if (auth.devTokens() && auth.jwtSecret().isBlank()) {
      throw new ConfigException("auth.devTokens needs auth.jwtSecret to sign development tokens");
    }
    auth.publicKeys().forEach(Authenticator::algorithmOf);
  }

  /** Verifies a JWT; fails with {@code unauthorized} and a reason that never echoes the token. */
  public Future<Principal> authenticate(String token) {
    if (token == null || token.isBlank()) {
      return Future.failedFuture(unauthorized("missing token"));
    }
    if (token.length() > 8192) {
      return Future.failedFuture(unauthorized("token too long"));
    }
    Verified known = verifiedTokens.get(token);
    if (known != null) {
      if (System.currentTimeMillis() < known.until()) {
        return revocations.revoked(known.principal())
          ? Future.failedFuture(unauthorized("token revoked"))
          : Future.succeededFuture(known.principal());
      }
      verifiedTokens.remove(token, known);
    }
    String alg = headerAlgorithm(token);
    if (alg == null || alg.equalsIgnoreCase("none")) {
      return Future.failedFuture(unauthorized("unsigned or malformed token"));
    }
    Future<User> verified;
    try {
      verified = jwt.authenticate(new TokenCredentials(token));
    } catch (RuntimeException e) {
      // vertx-auth-jwt throws, rather than fails, on a signed token whose exp/nbf/iat is not a
      // number (ClassCastException); that is a bad token, not a server error.
      verified = Future.failedFuture(e);
    }
    return verified
      .recover(t -> Future.failedFuture(unauthorized("invalid token")))
      .compose(user -> {
        // vertx-auth-jwt moves exp/iat/nbf out of the principal; the full claim set is the
        // "accessToken" attribute.
        JsonObject claims = user.attributes().getJsonObject("accessToken", user.principal());
        Object sub = claims.getValue("sub");
        Object name = claims.getValue("name");
        Object topics = claims.getValue("topics");
        List<String> patterns = new ArrayList<>();
        if (topics instanceof JsonArray a) {
          a.forEach(p -> {
            if (p instanceof String str) {
              patterns.add(str);
            }
          });
        }
        // A well-signed token whose claims are not text is bad input, not bad credentials: said
        // as such, naming the claim, before any of it reaches a service or the database.
        try {
          claimText("sub", sub);
          claimText("name", name);
          patterns.forEach(p -> claimText("topics", p));
        } catch (ServiceException e) {
          return Future.failedFuture(e);
        }
        if (!(sub instanceof String s) || !validUserId(s)) {
          return Future.failedFuture(unauthorized("token has no valid 'sub'"));
        }
        long exp = claims.getValue("exp") instanceof Number n ? n.longValue() : 0L;
        long iat = claims.getValue("iat") instanceof Number n ? n.longValue() : 0L;
        String jti = claims.getValue("jti") instanceof String j ? j : null;
        Principal principal = new Principal(s, name instanceof String str ? str : null, List.copyOf(patterns), exp,
          jti, iat, claims.copy());
        if (revocations.revoked(principal)) {
          return Future.failedFuture(unauthorized("token revoked"));
        }
        remember(token, principal);
        return Future.succeededFuture(principal);
      });
  }

  /** A token this node verified, and until when it may skip verifying it again. */
  private record Verified(Principal principal, long until) {
  }

  /**
   * Remembers a verified token for {@link #VERIFIED_MILLIS}, never past its {@code exp}: the same
   * token comes back with every REST request and every reconnect (a storm of them after a node
   * dies), and its signature, header and claims need checking once. The key is the whole token,
   * signature included; revocations are still checked on every use.
   */
  private void remember(String token, Principal principal) {
    long until = System.currentTimeMillis() + VERIFIED_MILLIS;
    if (principal.expiresAt() > 0) {
      until = Math.min(until, principal.expiresAt() * 1000L);
    }
    if (verifiedTokens.size() >= VERIFIED_MAX) {
      verifiedTokens.clear();
    }
    verifiedTokens.put(token, new Verified(principal, until));
  }

  /** The API key's scopes, if the key is configured (constant-time comparison). */
  public Optional<SwitchboardConfig.ApiKey> apiKey(String presented) {
    if (presented == null || presented.isEmpty()) {
      return Optional.empty();
    }
    byte[] given = presented.getBytes(StandardCharsets.UTF_8);
    SwitchboardConfig.ApiKey match = null;
    for (SwitchboardConfig.ApiKey key : apiKeys) {
      if (MessageDigest.isEqual(given, key.key().getBytes(StandardCharsets.UTF_8))) {
        match = key;
      }
    }
    return Optional.ofNullable(match);
  }

  /** A development token for {@code userId}, valid for a day (only when {@code auth.devTokens} is on). */
  public String devToken(String userId, String name) {
    if (!canSign) {
      throw new ServiceException(ErrorCode.NOT_FOUND, "development tokens are off");
    }
    JsonObject claims = new JsonObject().put("sub", userId);
    if (name != null) {
      claims.put("name", name);
    }
    return jwt.generateToken(claims, new JWTOptions().setAlgorithm("HS256").setExpiresInSeconds(DEV_TOKEN_SECONDS));
  }

  /**
   * The one rule for user ids, wherever one enters (a token's {@code sub}, {@code participantIds},
   * a development token's {@code userId}): 1–128 characters, not {@code *}, and every character
   * visible. Whitespace, control and format characters (zero-width space and joiners, bidi
   * marks, the BOM), other invisible ones and unpaired surrogates are refused: two ids that look
   * the same to people must not be two users, and {@code *} reads as "everyone". Ids starting
   * with {@code ~} are the node's own principals ({@link Principal#BACKEND}, {@link Principal#NODE}).
   */
  public static boolean validUserId(String userId) {
    if (userId == null || userId.isEmpty() || userId.length() > 128 || "*".equals(userId) || userId.startsWith("~")) {
      return false;
    }
    return userId.codePoints().allMatch(Authenticator::visible);
  }

  private static boolean visible(int cp) {
    if (Character.isWhitespace(cp) || Character.isSpaceChar(cp) || INVISIBLE.contains(cp)) {
      return false;
    }
    int type = Character.getType(cp);
    return type != Character.CONTROL && type != Character.FORMAT && type != Character.SURROGATE;
  }

  /**
   * Takes one development token from the bucket of {@code address}: 0 when allowed, else the
   * seconds to wait. {@code auth.devTokensPerMinute} per address, as a burst or spread out.
   */
  public long takeDevTokenSlot(String address) {
    if (devTokenBuckets.size() > DEV_TOKEN_ADDRESSES) {
      // Bounded: buckets that have refilled hold nothing worth keeping.
      devTokenBuckets.values().removeIf(b -> {
        synchronized (b) {
          return b.isFull();
        }
      });
    }
    TokenBucket bucket = devTokenBuckets.computeIfAbsent(address,
      a -> new TokenBucket(devTokensPerMinute / 60.0, devTokensPerMinute));
    synchronized (bucket) {
      return bucket.take();
    }
  }

  private static void claimText(String claim, Object value) {
    String problem = value instanceof String s ? Text.problem(s) : null;
    if (problem != null) {
      throw ServiceException.invalid("the token's '" + claim + "' claim " + problem);
    }
  }

  private static ServiceException unauthorized(String message) {
    return new ServiceException(ErrorCode.UNAUTHORIZED, message);
  }

  private static String headerAlgorithm(String token) {
    int dot = token.indexOf('.');
    if (dot <= 0) {
      return null;
    }
    try {
      byte[] header = Base64.getUrlDecoder().decode(token.substring(0, dot));
      Object alg = new JsonObject(new String(header, StandardCharsets.UTF_8)).getValue("alg");
      return alg instanceof String s ? s : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** RS256 for an RSA public key, ES256 for an EC one; anything else stops the start. */
  static String algorithmOf(String pem) {
    String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    byte[] der;
    try {
      der = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new ConfigException("auth.publicKeys: not a PEM public key");
    }
    for (String[] candidate : new String[][] {{"RSA", "RS256"}, {"EC", "ES256"}}) {
      try {
        KeyFactory.getInstance(candidate[0]).generatePublic(new X509EncodedKeySpec(der));
        return candidate[1];
      } catch (Exception e) {
        LOG.trace("public key is not {}", candidate[0]);
      }
    }
    throw new ConfigException("auth.publicKeys: only RSA (RS256) and EC P-256 (ES256) public keys are supported");
  }
}
