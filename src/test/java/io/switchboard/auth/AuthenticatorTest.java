package io.switchboard.auth;

import io.switchboard.Node;
import io.switchboard.config.ConfigException;
import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.testing.Jwts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** SPEC §1: which tokens and keys the authenticator accepts, and which configurations it refuses. */
class AuthenticatorTest {

  private static final String SECRET = "authenticator-test-secret-0123456789abcdef";
  private static final String ISSUER = "https://issuer.example";
  private static final String AUDIENCE = "switchboard-test";

  private static Vertx vertx;
  private static KeyPair rsa;
  private static KeyPair ec;
  private static String rsaPem;
  private static String ecPem;

  @BeforeAll
  static void setUp() {
    vertx = Vertx.vertx();
    rsa = Jwts.rsaKeyPair();
    ec = Jwts.ecKeyPair();
    rsaPem = Jwts.pem(rsa.getPublic());
    ecPem = Jwts.pem(ec.getPublic());
  }

  @AfterAll
  static void tearDown() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  // ---------------------------------------------------------------- helpers

  private static SwitchboardConfig.Auth auth(JsonObject overrides) {
    return ConfigLoader.fromOverrides(new JsonObject().put("auth", overrides)).auth();
  }

  private static Authenticator hs256Only() {
    return new Authenticator(vertx, auth(new JsonObject().put("jwtSecret", SECRET)));
  }

  /** Public keys only: no HMAC secret, no development tokens. */
  private static Authenticator publicKeysOnly(String... pems) {
    return new Authenticator(vertx, auth(new JsonObject()
      .put("jwtSecret", "")
      .put("devTokens", false)
      .put("publicKeys", new JsonArray(List.of(pems)))));
  }

  private static JsonObject claims(String sub) {
    return new JsonObject().put("sub", sub).put("exp", Jwts.now() + 600);
  }

  private static Principal accepted(Authenticator authenticator, String token) {
    try {
      return authenticator.authenticate(token).await(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("authentication did not complete", e);
    }
  }

  /** Asserts the token is refused with {@code unauthorized}, and that the reason does not echo it. */
  private static ServiceException rejected(Authenticator authenticator, String token) {
    Future<Principal> result = authenticator.authenticate(token);
    Throwable failure;
    try {
      Principal p = result.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      return fail("token was accepted as %s", p);
    } catch (ExecutionException e) {
      failure = e.getCause();
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("authentication did not complete", e);
    }
    assertThat(failure).isInstanceOf(ServiceException.class);
    ServiceException se = (ServiceException) failure;
    assertThat(se.code()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(se.getMessage()).isNotBlank();
    if (!token.isEmpty()) {
      assertThat(se.getMessage()).doesNotContain(token);
    }
    for (String part : token.split("\\.")) {
      if (part.length() >= 8) {
        assertThat(se.getMessage()).doesNotContain(part);
      }
    }
    return se;
  }

  // ---------------------------------------------------------------- tokens

  @Nested
  @DisplayName("HS256 tokens")
  class Hs256 {

    @Test
    @DisplayName("a token verified once is taken again without verifying; a revocation still refuses it")
    void rememberedButRevocable() {
      Authenticator a = hs256Only();
      String token = Jwts.hs256(claims("remembered").put("jti", "t-1").put("iat", Jwts.now()), SECRET);
      Principal first = accepted(a, token);
      assertThat(accepted(a, token)).as("the remembered principal").isSameAs(first);
      a.revocations().add(new JsonObject().put("jti", "t-1").put("exp", Jwts.now() + 600));
      rejected(a, token);
      // A token differing in one character of its signature is not the remembered one.
      String forged = token.substring(0, token.length() - 2) + (token.endsWith("A") ? "BB" : "AA");
      rejected(a, forged);
    }

    @Test
    @DisplayName("a valid HS256 token gives a principal with sub as user id, name and topics")
    void validToken() {
      long exp = Jwts.now() + 600;
      JsonObject c = new JsonObject()
        .put("sub", "alice")
        .put("name", "Alice Liddell")
        .put("topics", new JsonArray().add("stocks.*").add("news.eu"))
        .put("exp", exp);

      Principal p = accepted(hs256Only(), Jwts.hs256(c, SECRET));

      assertThat(p.userId()).isEqualTo("alice");
      assertThat(p.name()).isEqualTo("Alice Liddell");
      assertThat(p.topics()).containsExactly("stocks.*", "news.eu");
      assertThat(p.expiresAt()).isEqualTo(exp);
    }

    @Test
    @DisplayName("a token without name or topics gives a principal with no name and no topics")
    void minimalToken() {
      Principal p = accepted(hs256Only(), Jwts.hs256(claims("bob"), SECRET));

      assertThat(p.userId()).isEqualTo("bob");
      assertThat(p.name()).isNull();
      assertThat(p.topics()).isEmpty();
    }

    @Test
    @DisplayName("a token signed with another secret is refused")
    void wrongSecret() {
      rejected(hs256Only(), Jwts.hs256(claims("alice"), "some-other-secret-0123456789abcdefghij"));
    }

    @Test
    @DisplayName("a token whose payload was changed after signing is refused")
    void tamperedPayload() {
      String good = Jwts.hs256(claims("alice"), SECRET);
      String forged = Jwts.hs256(claims("mallory"), SECRET);
      String[] g = good.split("\\.");
      String[] f = forged.split("\\.");
      rejected(hs256Only(), g[0] + "." + f[1] + "." + g[2]);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"garbage", "a.b.c", "not a token at all", "....", "eyJhbGciOiJIUzI1NiJ9.e30."})
    @DisplayName("a string that is not a signed JWT is refused")
    void garbage(String token) {
      rejected(hs256Only(), token);
    }

    @Test
    @DisplayName("a missing or empty token is refused")
    void missing() {
      rejected(hs256Only(), "");
      Future<Principal> none = hs256Only().authenticate(null);
      assertThat(none.failed()).isTrue();
      assertThat(((ServiceException) none.cause()).code()).isEqualTo(ErrorCode.UNAUTHORIZED);
    }

    @Test
    @DisplayName("an oversize token is refused without being parsed")
    void oversize() {
      JsonObject c = claims("alice").put("pad", "x".repeat(9000));
      rejected(hs256Only(), Jwts.hs256(c, SECRET));
    }

    @Test
    @DisplayName("a development token the authenticator signs is accepted back")
    void devTokenRoundTrip() {
      Authenticator a = hs256Only();
      Principal p = accepted(a, a.devToken("carol", "Carol"));
      assertThat(p.userId()).isEqualTo("carol");
      assertThat(p.name()).isEqualTo("Carol");
      assertThat(p.expiresAt()).isBetween(Jwts.now() + 24 * 3600 - 60, Jwts.now() + 24 * 3600 + 60);
    }
  }

  @Nested
  @DisplayName("unsigned tokens")
  class Unsigned {

    @ParameterizedTest(name = "alg \"{0}\"")
    @ValueSource(strings = {"none", "NONE", "None", "nOnE"})
    @DisplayName("a token with alg none and no signature is refused when an HS256 secret is configured")
    void algNoneWithSecret(String alg) {
      rejected(hs256Only(), Jwts.unsigned(alg, claims("alice")));
    }

    @ParameterizedTest(name = "alg \"{0}\"")
    @ValueSource(strings = {"none", "NONE"})
    @DisplayName("a token with alg none is refused when only public keys are configured")
    void algNoneWithPublicKeys(String alg) {
      rejected(publicKeysOnly(rsaPem, ecPem), Jwts.unsigned(alg, claims("alice")));
    }

    @Test
    @DisplayName("a token whose header names no algorithm is refused")
    void noAlg() {
      String header = java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString("{\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
      String signed = Jwts.hs256(claims("alice"), SECRET);
      rejected(hs256Only(), header + signed.substring(signed.indexOf('.')));
    }
  }

  @Nested
  @DisplayName("claims")
  class Claims {

    @Test
    @DisplayName("a token that expired longer ago than the leeway is refused")
    void expired() {
      JsonObject c = new JsonObject().put("sub", "alice").put("exp", Jwts.now() - 60);
      rejected(hs256Only(), Jwts.hs256(c, SECRET));
    }

    @Test
    @DisplayName("a token that expired 2 s ago is accepted with a 5 s leeway and refused with none")
    void withinLeeway() {
      JsonObject c = new JsonObject().put("sub", "alice").put("exp", Jwts.now() - 2);
      String token = Jwts.hs256(c, SECRET);

      Authenticator lenient = new Authenticator(vertx, auth(new JsonObject()
        .put("jwtSecret", SECRET).put("leewaySeconds", 5)));
      Authenticator strict = new Authenticator(vertx, auth(new JsonObject()
        .put("jwtSecret", SECRET).put("leewaySeconds", 0)));

      assertThat(accepted(lenient, token).userId()).isEqualTo("alice");
      rejected(strict, token);
    }

    @Test
    @DisplayName("a signed token whose exp, nbf or iat is not a number is refused, not thrown")
    void nonNumericTimes() {
      rejected(hs256Only(), Jwts.hs256(new JsonObject().put("sub", "alice").put("exp", "tomorrow"), SECRET));
      rejected(hs256Only(), Jwts.hs256(claims("alice").put("nbf", "now"), SECRET));
      rejected(hs256Only(), Jwts.hs256(claims("alice").put("iat", "now"), SECRET));
    }

    @Test
    @DisplayName("a token that is not valid yet (nbf in the future) is refused")
    void notBefore() {
      JsonObject c = claims("alice").put("nbf", Jwts.now() + 600);
      rejected(hs256Only(), Jwts.hs256(c, SECRET));
    }

    @Test
    @DisplayName("a token without sub is refused")
    void noSub() {
      JsonObject c = new JsonObject().put("name", "Nobody").put("exp", Jwts.now() + 600);
      rejected(hs256Only(), Jwts.hs256(c, SECRET));
    }

    @Test
    @DisplayName("a token whose sub is not a usable user id is refused")
    void badSub() {
      rejected(hs256Only(), Jwts.hs256(claims("").put("sub", 42), SECRET));
      rejected(hs256Only(), Jwts.hs256(claims("has space"), SECRET));
      rejected(hs256Only(), Jwts.hs256(claims(""), SECRET));
      rejected(hs256Only(), Jwts.hs256(claims("x".repeat(129)), SECRET));
    }

    private Authenticator withIssuerAndAudience() {
      return new Authenticator(vertx, auth(new JsonObject()
        .put("jwtSecret", SECRET).put("issuer", ISSUER).put("audience", AUDIENCE)));
    }

    @Test
    @DisplayName("with auth.issuer and auth.audience set, a token with both right is accepted")
    void rightIssuerAndAudience() {
      Authenticator a = withIssuerAndAudience();
      assertThat(accepted(a, Jwts.hs256(claims("alice").put("iss", ISSUER).put("aud", AUDIENCE), SECRET)).userId())
        .isEqualTo("alice");
      JsonArray audiences = new JsonArray().add("other-service").add(AUDIENCE);
      assertThat(accepted(a, Jwts.hs256(claims("alice").put("iss", ISSUER).put("aud", audiences), SECRET)).userId())
        .isEqualTo("alice");
    }

    @Test
    @DisplayName("with auth.issuer set, a token from another issuer or with none is refused")
    void wrongIssuer() {
      Authenticator a = withIssuerAndAudience();
      rejected(a, Jwts.hs256(claims("alice").put("iss", "https://evil.example").put("aud", AUDIENCE), SECRET));
      rejected(a, Jwts.hs256(claims("alice").put("aud", AUDIENCE), SECRET));
    }

    @Test
    @DisplayName("with auth.audience set, a token for another audience or with none is refused")
    void wrongAudience() {
      Authenticator a = withIssuerAndAudience();
      rejected(a, Jwts.hs256(claims("alice").put("iss", ISSUER).put("aud", "other-service"), SECRET));
      rejected(a, Jwts.hs256(claims("alice").put("iss", ISSUER), SECRET));
    }

    @Test
    @DisplayName("without auth.issuer and auth.audience, iss and aud are not checked")
    void unchecked() {
      JsonObject c = claims("alice").put("iss", "anyone").put("aud", "anything");
      assertThat(accepted(hs256Only(), Jwts.hs256(c, SECRET)).userId()).isEqualTo("alice");
    }
  }

  @Nested
  @DisplayName("public-key tokens")
  class PublicKeys {

    @Test
    @DisplayName("a valid RS256 token is accepted with the RSA public key configured as PEM")
    void rs256() {
      Principal p = accepted(publicKeysOnly(rsaPem), Jwts.rs256(claims("rita").put("name", "Rita"), rsa.getPrivate()));
      assertThat(p.userId()).isEqualTo("rita");
      assertThat(p.name()).isEqualTo("Rita");
    }

    @Test
    @DisplayName("a valid ES256 token (JOSE R||S signature) is accepted with the EC public key configured as PEM")
    void es256() {
      Principal p = accepted(publicKeysOnly(ecPem), Jwts.es256(claims("eve").put("name", "Eve"), ec.getPrivate()));
      assertThat(p.userId()).isEqualTo("eve");
      assertThat(p.name()).isEqualTo("Eve");
    }

    @Test
    @DisplayName("RS256 and ES256 tokens are both accepted when both keys and a secret are configured")
    void mixed() {
      Authenticator a = new Authenticator(vertx, auth(new JsonObject()
        .put("jwtSecret", SECRET)
        .put("publicKeys", new JsonArray().add(rsaPem).add(ecPem))));
      assertThat(accepted(a, Jwts.rs256(claims("r"), rsa.getPrivate())).userId()).isEqualTo("r");
      assertThat(accepted(a, Jwts.es256(claims("e"), ec.getPrivate())).userId()).isEqualTo("e");
      assertThat(accepted(a, Jwts.hs256(claims("h"), SECRET)).userId()).isEqualTo("h");
    }

    @Test
    @DisplayName("RS256 and ES256 tokens signed by keys that are not configured are refused")
    void otherKeys() {
      Authenticator a = publicKeysOnly(rsaPem, ecPem);
      rejected(a, Jwts.rs256(claims("alice"), Jwts.rsaKeyPair().getPrivate()));
      rejected(a, Jwts.es256(claims("alice"), Jwts.ecKeyPair().getPrivate()));
    }

    @Test
    @DisplayName("an expired RS256 token is refused")
    void expiredRs256() {
      JsonObject c = new JsonObject().put("sub", "alice").put("exp", Jwts.now() - 60);
      rejected(publicKeysOnly(rsaPem), Jwts.rs256(c, rsa.getPrivate()));
    }

    @Test
    @DisplayName("an HS256 token whose HMAC key is the configured RSA public key's PEM text is refused")
    void confusionWithPemText() {
      Authenticator a = publicKeysOnly(rsaPem);
      rejected(a, Jwts.hs256(claims("mallory"), rsaPem.getBytes(StandardCharsets.UTF_8)));
      // Some libraries normalise the PEM before using it as an HMAC key.
      rejected(a, Jwts.hs256(claims("mallory"), rsaPem.trim().getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    @DisplayName("an HS256 token whose HMAC key is the configured RSA public key's DER bytes is refused")
    void confusionWithDer() {
      rejected(publicKeysOnly(rsaPem), Jwts.hs256(claims("mallory"), rsa.getPublic().getEncoded()));
    }

    @Test
    @DisplayName("an HS256 token keyed with the EC public key is refused when only the EC key is configured")
    void confusionWithEcKey() {
      Authenticator a = publicKeysOnly(ecPem);
      rejected(a, Jwts.hs256(claims("mallory"), ecPem.getBytes(StandardCharsets.UTF_8)));
      rejected(a, Jwts.hs256(claims("mallory"), ec.getPublic().getEncoded()));
    }
  }

  // ---------------------------------------------------------------- configuration

  @Nested
  @DisplayName("configuration")
  class Configuration {

    private SwitchboardConfig noKeys() {
      return ConfigLoader.fromOverrides(new JsonObject().put("auth", new JsonObject()
        .put("jwtSecret", "")
        .put("publicKeys", new JsonArray())));
    }

    @Test
    @DisplayName("no secret and no public key: the authenticator refuses to exist and names auth.jwtSecret")
    void noUsableKey() {
      assertThatThrownBy(() -> new Authenticator(vertx, noKeys().auth()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("auth.jwtSecret");
    }

    @Test
    @DisplayName("a whitespace-only secret counts as no secret")
    void blankSecret() {
      SwitchboardConfig.Auth a = auth(new JsonObject().put("jwtSecret", "   ").put("devTokens", false));
      assertThatThrownBy(() -> new Authenticator(vertx, a))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("auth.jwtSecret");
    }

    @Test
    @DisplayName("no secret and no public key: the node fails to start with the same ConfigException")
    void nodeRefusesToStart() throws Exception {
      Vertx plain = Vertx.vertx();
      try {
        Future<Node> start = Node.start(plain, noKeys(), EnumSet.allOf(Node.Role.class));
        assertThatThrownBy(() -> start.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("auth.jwtSecret");
      } finally {
        plain.close().await(30, TimeUnit.SECONDS);
      }
    }

    @Test
    @DisplayName("development tokens without a secret to sign them: refused, naming auth.devTokens")
    void devTokensNeedSecret() {
      SwitchboardConfig.Auth a = auth(new JsonObject()
        .put("jwtSecret", "")
        .put("devTokens", true)
        .put("publicKeys", new JsonArray().add(rsaPem)));
      assertThatThrownBy(() -> new Authenticator(vertx, a))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("auth.devTokens");
    }

    @Test
    @DisplayName("a public key that is not PEM is refused, naming auth.publicKeys")
    void badPem() {
      SwitchboardConfig.Auth a = auth(new JsonObject()
        .put("jwtSecret", SECRET)
        .put("publicKeys", new JsonArray().add("-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----")));
      assertThatThrownBy(() -> new Authenticator(vertx, a))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("auth.publicKeys");
    }

    @Test
    @DisplayName("with only public keys, development tokens cannot be minted")
    void noDevTokensWithoutSecret() {
      assertThatThrownBy(() -> publicKeysOnly(rsaPem).devToken("alice", null))
        .isInstanceOf(ServiceException.class);
    }
  }

  @Nested
  @DisplayName("API keys")
  class ApiKeys {

    private Authenticator withKeys() {
      return new Authenticator(vertx, auth(new JsonObject()
        .put("jwtSecret", SECRET)
        .put("apiKeys", new JsonArray()
          .add(new JsonObject().put("key", "publisher-key-1").put("scopes", new JsonArray().add("publish")))
          .add(new JsonObject().put("key", "admin-key-2").put("scopes", new JsonArray().add("publish").add("admin"))))));
    }

    @Test
    @DisplayName("a configured API key is found with its scopes")
    void found() {
      Authenticator a = withKeys();
      assertThat(a.apiKey("publisher-key-1")).hasValueSatisfying(k -> {
        assertThat(k.key()).isEqualTo("publisher-key-1");
        assertThat(k.scopes()).containsExactly("publish");
      });
      assertThat(a.apiKey("admin-key-2")).hasValueSatisfying(k ->
        assertThat(k.scopes()).containsExactlyInAnyOrder("publish", "admin"));
    }

    @Test
    @DisplayName("an unknown, partial, empty or missing API key is not found")
    void notFound() {
      Authenticator a = withKeys();
      assertThat(a.apiKey("wrong-key")).isEmpty();
      assertThat(a.apiKey("publisher-key")).isEmpty();
      assertThat(a.apiKey("publisher-key-11")).isEmpty();
      assertThat(a.apiKey("PUBLISHER-KEY-1")).isEmpty();
      assertThat(a.apiKey("")).isEmpty();
      assertThat(a.apiKey(null)).isEmpty();
    }
  }
}
