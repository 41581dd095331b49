package io.switchboard.http;

import io.switchboard.Node;
import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS from PEM files ({@code http.tls.*}; the TCP bridge uses the same pair): REST over https,
 * the WebSocket protocol over wss and the TCP bridge over TLS, with clients that trust only the
 * test's self-signed certificate and check the host name.
 */
class TlsTest {

  @TempDir
  static Path dir;
  static Path cert;
  static Node node;
  static int httpPort;
  static int bridgePort;

  @BeforeAll
  static void start() throws Exception {
    Path keystore = dir.resolve("node.p12");
    Process keytool = new ProcessBuilder(List.of(
      Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
      "-genkeypair", "-alias", "node", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
      "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
      "-storetype", "PKCS12", "-keystore", keystore.toString(), "-storepass", "changeit", "-keypass", "changeit"))
      .redirectErrorStream(true).redirectOutput(dir.resolve("keytool.log").toFile()).start();
    assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(keytool.exitValue()).as(Files.readString(dir.resolve("keytool.log"))).isZero();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      ks.load(in, "changeit".toCharArray());
    }
    cert = dir.resolve("node.crt");
    Path key = dir.resolve("node.key");
    Certificate certificate = ks.getCertificate("node");
    PrivateKey privateKey = (PrivateKey) ks.getKey("node", "changeit".toCharArray());
    Files.writeString(cert, pem("CERTIFICATE", certificate.getEncoded()), StandardCharsets.US_ASCII);
    // PKCS#8, as getEncoded() gives it.
    Files.writeString(key, pem("PRIVATE KEY", privateKey.getEncoded()), StandardCharsets.US_ASCII);

    bridgePort = TestNodes.freePort();
    node = TestNodes.TestCluster.create().start(new JsonObject()
        .put("http", new JsonObject().put("tls", new JsonObject()
          .put("certFile", cert.toString()).put("keyFile", key.toString())))
        .put("bridge", new JsonObject().put("tcpPort", bridgePort)),
      EnumSet.allOf(Node.Role.class));
    httpPort = TestNodes.port(node);
  }

  @AfterAll
  static void stop() {
    if (node != null) {
      await(node.stop());
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
      + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
      + "\n-----END " + type + "-----\n";
  }

  private static PemTrustOptions trust() {
    return new PemTrustOptions().addCertPath(cert.toString());
  }

  private static WebClient https() {
    return WebClient.create(Api.clientVertx(), new WebClientOptions()
      .setSsl(true).setTrustOptions(trust()).setVerifyHost(true)
      .setDefaultHost("localhost").setDefaultPort(httpPort));
  }

  private static String token(WebClient client, String userId) {
    HttpResponse<Buffer> r = await(client.post("/api/auth/dev-token")
      .sendJsonObject(new JsonObject().put("userId", userId).put("name", userId)));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject().getString("token");
  }

  @Test
  @DisplayName("REST over https answers with the node's certificate; plain http on the TLS port gets no answer")
  void restOverHttps() {
    WebClient client = https();
    HttpResponse<Buffer> health = await(client.get("/api/health").send());
    assertThat(health.statusCode()).isEqualTo(200);
    String alice = Api.user("alice");
    String token = token(client, alice);
    HttpResponse<Buffer> group = await(client.post("/api/groups").bearerTokenAuthentication(token)
      .sendJsonObject(new JsonObject().put("name", "Secure")));
    assertThat(group.statusCode()).as(group.bodyAsString()).isEqualTo(201);

    WebClient plain = WebClient.create(Api.clientVertx(), new WebClientOptions()
      .setDefaultHost("127.0.0.1").setDefaultPort(httpPort).setIdleTimeout(10));
    assertThatThrownBy(() -> await(plain.get("/api/health").timeout(10_000).send()))
      .as("a plain request to the TLS port").isNotNull();
  }

  @Test
  @DisplayName("the WebSocket protocol over wss: connected, then the reply to a ping")
  void webSocketOverWss() {
    String token = token(https(), Api.user("bob"));
    WebSocket ws = await(Api.clientVertx().createWebSocketClient(new WebSocketClientOptions()
        .setSsl(true).setTrustOptions(trust()).setVerifyHost(true))
      .connect(new WebSocketConnectOptions().setHost("localhost").setPort(httpPort)
        .setURI("/api/ws?token=" + token).setAllowOriginHeader(false)));
    try {
      Promise<JsonObject> connected = Promise.promise();
      Promise<JsonObject> pong = Promise.promise();
      ws.textMessageHandler(text -> {
        JsonObject env = new JsonObject(text);
        if ("connected".equals(env.getString("type"))) {
          connected.tryComplete(env);
        } else if ("p-1".equals(env.getString("requestId"))) {
          pong.tryComplete(env);
        }
      });
      assertThat(await(connected.future()).getJsonObject("payload").getString("userId")).startsWith("bob-");
      ws.writeTextMessage(new JsonObject().put("type", "ping").put("payload", new JsonObject()).put("requestId", "p-1").encode());
      assertThat(await(pong.future()).getString("type")).isEqualTo("pong");
    } finally {
      ws.close();
    }
  }

  @Test
  @DisplayName("the TCP bridge over TLS: a user registered on their own address receives connected, then a message posted over https")
  void tcpBridgeOverTls() {
    WebClient client = https();
    String carol = Api.user("carol");
    String dave = Api.user("dave");
    String carolToken = token(client, carol);
    String daveToken = token(client, dave);
    HttpResponse<Buffer> group = await(client.post("/api/groups").bearerTokenAuthentication(daveToken)
      .sendJsonObject(new JsonObject().put("name", "Backend").put("participantIds", new JsonArray().add(carol))));
    String conversation = group.bodyAsJsonObject().getString("id");

    NetSocket socket = await(Api.clientVertx().createNetClient(new NetClientOptions()
        .setSsl(true).setTrustOptions(trust()).setHostnameVerificationAlgorithm("HTTPS"))
      .connect(bridgePort, "localhost"));
    try {
      Promise<JsonObject> connected = Promise.promise();
      Promise<JsonObject> message = Promise.promise();
      RecordParser frames = RecordParser.newFixed(4);
      frames.handler(new io.vertx.core.Handler<>() {
        int size = -1;

        @Override
        public void handle(Buffer b) {
          if (size == -1) {
            size = b.getInt(0);
            frames.fixedSizeMode(size);
            return;
          }
          JsonObject frame = new JsonObject(b);
          size = -1;
          frames.fixedSizeMode(4);
          JsonObject body = frame.getJsonObject("body");
          String type = body == null ? null : body.getString("type");
          if ("connected".equals(type)) {
            connected.tryComplete(frame);
          } else if ("message_received".equals(type)) {
            message.tryComplete(frame);
          }
        }
      });
      socket.handler(frames);
      write(socket, new JsonObject().put("type", "register").put("address", Addresses.user(carol))
        .put("headers", new JsonObject().put("token", carolToken)));
      assertThat(await(connected.future()).getJsonObject("body").getJsonObject("payload").getString("userId"))
        .isEqualTo(carol);
      HttpResponse<Buffer> sent = await(client.post("/api/conversations/" + conversation + "/messages")
        .bearerTokenAuthentication(daveToken).sendJsonObject(new JsonObject().put("content", "over tls")));
      assertThat(sent.statusCode()).as(sent.bodyAsString()).isEqualTo(201);
      assertThat(await(message.future()).getJsonObject("body").getJsonObject("payload").getString("content"))
        .isEqualTo("over tls");
    } finally {
      socket.close();
    }
  }

  private static void write(NetSocket socket, JsonObject frame) {
    byte[] bytes = frame.encode().getBytes(StandardCharsets.UTF_8);
    socket.write(Buffer.buffer().appendInt(bytes.length).appendBytes(bytes));
  }
}
