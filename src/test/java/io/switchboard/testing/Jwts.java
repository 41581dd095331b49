package io.switchboard.testing;

import io.vertx.core.json.JsonObject;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Base64;

/**
 * Builds JWTs with the JDK alone (javax.crypto / java.security), so tests of the authenticator do
 * not trust the library under test to make the tokens they feed it.
 */
public final class Jwts {

  private static final Base64.Encoder URL = Base64.getUrlEncoder().withoutPadding();

  private Jwts() {
  }

  /** Seconds since the epoch, as JWT {@code exp}/{@code iat} use. */
  public static long now() {
    return System.currentTimeMillis() / 1000;
  }

  /** {@code header.payload.} with an empty signature, whatever {@code alg} says. */
  public static String unsigned(String alg, JsonObject claims) {
    return signingInput(alg, claims) + ".";
  }

  /** HS256 with {@code key} as the HMAC key. */
  public static String hs256(JsonObject claims, byte[] key) {
    String input = signingInput("HS256", claims);
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return input + "." + URL.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** HS256 with the UTF-8 bytes of {@code secret}. */
  public static String hs256(JsonObject claims, String secret) {
    return hs256(claims, secret.getBytes(StandardCharsets.UTF_8));
  }

  /** RS256 (RSASSA-PKCS1-v1_5 with SHA-256). */
  public static String rs256(JsonObject claims, PrivateKey key) {
    String input = signingInput("RS256", claims);
    return input + "." + URL.encodeToString(sign("SHA256withRSA", key, input));
  }

  /** ES256 with the JOSE signature format: raw R||S, 32 bytes each (RFC 7518 §3.4), not DER. */
  public static String es256(JsonObject claims, PrivateKey key) {
    String input = signingInput("ES256", claims);
    byte[] der = sign("SHA256withECDSA", key, input);
    return input + "." + URL.encodeToString(derToJose(der, 32));
  }

  /** A fresh RSA 2048 key pair. */
  public static KeyPair rsaKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(2048);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A fresh EC P-256 (secp256r1) key pair. */
  public static KeyPair ecKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The X.509 SubjectPublicKeyInfo PEM ({@code -----BEGIN PUBLIC KEY-----}) of {@code key}. */
  public static String pem(PublicKey key) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
      .encodeToString(key.getEncoded());
    return "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n";
  }

  private static String signingInput(String alg, JsonObject claims) {
    JsonObject header = new JsonObject().put("alg", alg).put("typ", "JWT");
    return URL.encodeToString(header.encode().getBytes(StandardCharsets.UTF_8))
      + "." + URL.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] sign(String algorithm, PrivateKey key, String input) {
    try {
      Signature s = Signature.getInstance(algorithm);
      s.initSign(key);
      s.update(input.getBytes(StandardCharsets.US_ASCII));
      return s.sign();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * DER {@code SEQUENCE { INTEGER r, INTEGER s }} to the fixed-width {@code r || s} of JOSE. The
   * integers are signed and minimal in DER (a leading 0x00 when the top bit is set, shorter when
   * the value is small), so each is stripped or left-padded to {@code width} bytes.
   */
  public static byte[] derToJose(byte[] der, int width) {
    int[] pos = {0};
    expect(der, pos, 0x30);
    readLength(der, pos);
    byte[] r = readInteger(der, pos);
    byte[] s = readInteger(der, pos);
    if (pos[0] != der.length) {
      throw new IllegalArgumentException("trailing bytes after ECDSA signature");
    }
    byte[] out = new byte[2 * width];
    System.arraycopy(fixed(r, width), 0, out, 0, width);
    System.arraycopy(fixed(s, width), 0, out, width, width);
    return out;
  }

  private static byte[] readInteger(byte[] der, int[] pos) {
    expect(der, pos, 0x02);
    int len = readLength(der, pos);
    byte[] v = Arrays.copyOfRange(der, pos[0], pos[0] + len);
    pos[0] += len;
    return v;
  }

  private static void expect(byte[] der, int[] pos, int tag) {
    if ((der[pos[0]++] & 0xff) != tag) {
      throw new IllegalArgumentException("unexpected DER tag");
    }
  }

  private static int readLength(byte[] der, int[] pos) {
    int first = der[pos[0]++] & 0xff;
    if (first < 0x80) {
      return first;
    }
    int n = first & 0x7f;
    int len = 0;
    for (int i = 0; i < n; i++) {
      len = (len << 8) | (der[pos[0]++] & 0xff);
    }
    return len;
  }

  private static byte[] fixed(byte[] signedBigEndian, int width) {
    byte[] magnitude = new BigInteger(1, signedBigEndian).toByteArray();
    // toByteArray() may add a sign byte; drop it, then left-pad to the width.
    int start = magnitude.length > width ? magnitude.length - width : 0;
    for (int i = 0; i < start; i++) {
      if (magnitude[i] != 0) {
        throw new IllegalArgumentException("ECDSA integer wider than " + width + " bytes");
      }
    }
    byte[] out = new byte[width];
    int len = magnitude.length - start;
    System.arraycopy(magnitude, start, out, width - len, len);
    return out;
  }
}
