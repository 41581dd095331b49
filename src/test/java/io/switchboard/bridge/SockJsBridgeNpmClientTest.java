package io.switchboard.bridge;

import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official, unmodified npm client ({@code @vertx/eventbus-bridge-client.js} 1.0.0 over
 * {@code sockjs-client} 1.6.1, pinned in {@code src/test/js/package-lock.json}) against a real
 * node, through {@code src/test/js/bridge-client.js}. Installs the packages with {@code npm ci}
 * when {@code node_modules} is missing; skipped only when Node.js itself is not installed.
 */
class SockJsBridgeNpmClientTest {

  static final Path JS = Path.of("src", "test", "js");
  static final long NPM_TIMEOUT_SECONDS = 300;

  static Api api;
  final List<NodeClient> clients = new ArrayList<>();

  @BeforeAll
  static void setUp() throws Exception {
    assumeTrue(run(List.of("node", "--version"), 30) == 0, "Node.js is not installed");
    if (!Files.isDirectory(JS.resolve("node_modules"))) {
      int rc = run(List.of("npm", "ci", "--no-audit", "--no-fund"), NPM_TIMEOUT_SECONDS);
      assertThat(rc).as("npm ci in " + JS).isZero();
    }
    api = new Api(BridgeNode.httpPort());
  }

  @AfterEach
  void stopClients() {
    clients.forEach(NodeClient::stop);
  }

  @Test
  @DisplayName("the npm client's send to sb.cmd gets the reply envelope, and its registration streams the user's events")
  void sendAndEvents() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    NodeClient c = client(alice, api.token(alice));
    assertThat(c.next(l -> "open".equals(l.getString("kind"))).getString("transport")).isEqualTo("websocket");
    assertThat(c.event("connected").getJsonObject("payload").getString("userId")).isEqualTo(alice);

    c.command(new JsonObject().put("op", "send").put("id", "s1").put("address", Addresses.BRIDGE_COMMANDS)
      .put("body", FrameClient.command("create_group", new JsonObject().put("name", "From npm"), "c-1")));
    JsonObject reply = c.next(l -> "s1".equals(l.getString("id"))).getJsonObject("body");
    assertThat(reply.getString("type")).isEqualTo("conversation_created");
    assertThat(reply.getString("requestId")).isEqualTo("c-1");
    String conversationId = reply.getJsonObject("payload").getString("id");

    c.command(new JsonObject().put("op", "send").put("id", "s2").put("address", Addresses.BRIDGE_COMMANDS)
      .put("body", FrameClient.command("send_message",
        new JsonObject().put("conversationId", conversationId).put("content", "hello from node"), "c-2")));
    JsonObject sent = c.next(l -> "s2".equals(l.getString("id"))).getJsonObject("body");
    assertThat(sent.getString("type")).isEqualTo("message_sent");
    assertThat(sent.getJsonObject("payload").getLong("seq")).isEqualTo(1L);

    JsonObject group = api.group(bobToken, "Bob's room", alice);
    api.send(bobToken, group.getString("id"), "hi alice, from REST");
    JsonObject received = c.event("message_received", e -> group.getString("id").equals(
      e.getJsonObject("payload").getString("conversationId")));
    assertThat(received.getJsonObject("payload").getString("content")).isEqualTo("hi alice, from REST");
    assertThat(received.getJsonObject("payload").getString("senderId")).isEqualTo(bob);
  }

  @Test
  @DisplayName("the npm client registering on another user's address gets an error and none of their events")
  void foreignRegister() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    NodeClient c = client(alice, api.token(alice));
    c.next(l -> "open".equals(l.getString("kind")));
    c.event("connected");
    c.command(new JsonObject().put("op", "register").put("address", Addresses.user(bob)));
    JsonObject failure = c.next(l -> "failure".equals(l.getString("kind"))
      && Addresses.user(bob).equals(l.getString("address")));
    assertThat(failure.getJsonObject("failure").getString("failureType")).isEqualTo("access_denied");

    api.group(api.token(bob), "Bob only");
    assertThat(c.drain(1500)).noneMatch(l -> Addresses.user(bob).equals(l.getString("address"))
      && "event".equals(l.getString("kind")));
  }

  @Test
  @DisplayName("the npm client's send to an address other than sb.cmd is refused to its reply callback")
  void foreignSend() {
    String alice = Api.user("alice");
    NodeClient c = client(alice, api.token(alice));
    c.next(l -> "open".equals(l.getString("kind")));
    c.command(new JsonObject().put("op", "send").put("id", "s3").put("address", Addresses.command("create_group"))
      .put("body", new JsonObject().put("principal", new JsonObject().put("userId", "mallory"))));
    JsonObject failure = c.next(l -> "s3".equals(l.getString("id")));
    assertThat(failure.getString("kind")).isEqualTo("failure");
    assertThat(failure.getJsonObject("failure").getString("failureType")).isEqualTo("access_denied");

    c.command(new JsonObject().put("op", "publish").put("address", Addresses.user(alice))
      .put("body", FrameClient.command("message_received", new JsonObject(), null)));
    JsonObject error = c.next(l -> "error".equals(l.getString("kind")));
    assertThat(error.getJsonObject("frame").getString("failureType")).isEqualTo("access_denied");
  }

  @Test
  @DisplayName("the npm client works over SockJS's xhr-polling fallback, with the token in the URL")
  void pollingFallback() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    NodeClient c = client(alice, api.token(alice), "xhr-polling", true);
    assertThat(c.next(l -> "open".equals(l.getString("kind"))).getString("transport")).isEqualTo("xhr-polling");
    c.event("connected");
    JsonObject group = api.group(bobToken, "Polled", alice);
    c.command(new JsonObject().put("op", "send").put("id", "p1").put("address", Addresses.BRIDGE_COMMANDS)
      .put("body", FrameClient.command("send_message",
        new JsonObject().put("conversationId", group.getString("id")).put("content", "polled hello"), "c-3")));
    assertThat(c.next(l -> "p1".equals(l.getString("id"))).getJsonObject("body").getString("type"))
      .isEqualTo("message_sent");
    api.send(bobToken, group.getString("id"), "and back");
    assertThat(c.event("message_received", e -> "and back".equals(e.getJsonObject("payload").getString("content"))))
      .isNotNull();
  }

  private NodeClient client(String userId, String token) {
    return client(userId, token, null, false);
  }

  private NodeClient client(String userId, String token, String transports, boolean tokenInUrl) {
    NodeClient c = new NodeClient("http://127.0.0.1:" + BridgeNode.httpPort(), token, userId, transports, tokenInUrl);
    clients.add(c);
    return c;
  }

  /**
   * Runs a command in src/test/js, killed after {@code seconds}; its exit code. Its output goes to
   * a log file, never to this JVM's own streams, which carry the test runner's protocol.
   */
  static int run(List<String> command, long seconds) throws IOException, InterruptedException {
    Process p;
    java.io.File log = java.nio.file.Files.createTempFile("sb-npm", ".log").toFile();
    try {
      p = new ProcessBuilder(command).directory(JS.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .redirectErrorStream(true)
        .redirectOutput(log)
        .start();
    } catch (IOException e) {
      return -1;
    }
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " took more than " + seconds + " s (log: " + log + ")");
    }
    return p.exitValue();
  }

  /** {@code node bridge-client.js}: JSON commands on stdin, JSON lines on stdout. */
  static final class NodeClient {
    private final Process process;
    private final OutputStream stdin;
    private final LinkedBlockingQueue<JsonObject> lines = new LinkedBlockingQueue<>();
    private final List<JsonObject> backlog = new ArrayList<>();
    private final StringBuilder stderr = new StringBuilder();

    NodeClient(String baseUrl, String token, String userId, String transports, boolean tokenInUrl) {
      try {
        List<String> command = new ArrayList<>(List.of("node", "bridge-client.js", baseUrl, token, userId,
          transports == null ? "*" : transports, tokenInUrl ? "url" : "headers"));
        process = new ProcessBuilder(command)
          .directory(JS.toFile())
          .redirectError(ProcessBuilder.Redirect.PIPE)
          .start();
      } catch (IOException e) {
        throw new AssertionError("cannot start node", e);
      }
      stdin = process.getOutputStream();
      Thread out = new Thread(() -> read(new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.UTF_8)), true), "node-stdout");
      Thread err = new Thread(() -> read(new BufferedReader(new InputStreamReader(process.getErrorStream(),
        StandardCharsets.UTF_8)), false), "node-stderr");
      out.setDaemon(true);
      err.setDaemon(true);
      out.start();
      err.start();
    }

    private void read(BufferedReader reader, boolean json) {
      try {
        String line;
        while ((line = reader.readLine()) != null) {
          if (json) {
            lines.add(new JsonObject(line));
          } else {
            synchronized (stderr) {
              stderr.append(line).append('\n');
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        // the process ended
      }
    }

    void command(JsonObject cmd) {
      try {
        stdin.write((cmd.encode() + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
      } catch (IOException e) {
        throw new AssertionError("node client gone; stderr:\n" + stderr(), e);
      }
    }

    /**
     * The first line not yet taken that matches {@code which}, waiting up to 15 s (the client may
     * still be connecting); other lines stay for later calls.
     */
    JsonObject next(Predicate<JsonObject> which) {
      for (Iterator<JsonObject> it = backlog.iterator(); it.hasNext(); ) {
        JsonObject l = it.next();
        if (which.test(l)) {
          it.remove();
          return l;
        }
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      try {
        while (System.nanoTime() < deadline) {
          JsonObject l = lines.poll(100, TimeUnit.MILLISECONDS);
          if (l == null) {
            continue;
          }
          if (which.test(l)) {
            return l;
          }
          backlog.add(l);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new AssertionError("no matching line from the node client within 15 s; alive="
        + process.isAlive() + "; not taken: " + backlog + "; stderr:\n" + stderr());
    }

    /** The envelope of the next event of {@code type} on the user's address. */
    JsonObject event(String type) {
      return event(type, e -> true);
    }

    JsonObject event(String type, Predicate<JsonObject> which) {
      return next(l -> "event".equals(l.getString("kind")) && l.getValue("body") instanceof JsonObject b
        && type.equals(b.getString("type")) && which.test(b)).getJsonObject("body");
    }

    List<JsonObject> drain(long millis) {
      List<JsonObject> out = new ArrayList<>(backlog);
      backlog.clear();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      try {
        while (System.nanoTime() < deadline) {
          JsonObject l = lines.poll(50, TimeUnit.MILLISECONDS);
          if (l != null) {
            out.add(l);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return out;
    }

    private String stderr() {
      synchronized (stderr) {
        return stderr.toString();
      }
    }

    /** Asks the client to close, then kills it by its handle if it has not exited in 5 s. */
    void stop() {
      try {
        command(new JsonObject().put("op", "close"));
        stdin.close();
      } catch (IOException | AssertionError e) {
        // already gone
      }
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }
}
