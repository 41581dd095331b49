package io.switchboard.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The whole validated configuration of a node, parsed once at start and handed to each verticle.
 * Sections mirror the keys of SPEC §9.
 */
public record SwitchboardConfig(
  Http http,
  Bridge bridge,
  Db db,
  String dataDir,
  Cluster cluster,
  Auth auth,
  List<String> publicTopics,
  Sse sse,
  Ws ws,
  int typingTtlSeconds,
  int presenceNodeTimeoutSeconds,
  int presenceAwaySeconds,
  int editWindowSeconds,
  Calls calls,
  Limits limits,
  Webhooks webhooks,
  int drainSeconds,
  Tls tls,
  String logFormat,
  JsonObject raw) {

  /**
   * {@code http.*}: the one HTTP port, and how long a connection may take to send a request's
   * headers, or stay idle between requests (streams excepted).
   */
  public record Http(int port, String host, List<String> allowedOrigins, int headerTimeoutSeconds,
                     int idleTimeoutSeconds) {
  }

  /** {@code bridge.*}: the TCP event-bus bridge (0 = off). */
  public record Bridge(int tcpPort) {
  }

  /**
   * {@code db.*}: PostgreSQL; an empty url means the embedded database, which is durable (fsync,
   * synchronous commit) unless {@code embeddedDurable} is false (tests, for speed).
   */
  public record Db(String url, int poolSize, int waitQueueSize, int connectTimeoutSeconds, boolean embeddedDurable) {
    public boolean embedded() {
      return url.isBlank();
    }
  }

  /**
   * {@code cluster.*}: Hazelcast discovery, the clustered event bus's own port (0 = any free one)
   * and the address other nodes reach this one at, and how many members a whole cluster has
   * (0 = not said; {@code /api/health} reports {@code DEGRADED} below it).
   */
  public record Cluster(String name, String host, int port, List<String> members, boolean multicast, String dns,
                        int busPort, String publicHost, int expectedMembers) {
  }

  /** A certificate chain and its private key, both PEM files; both empty means plain TCP. */
  public record Pem(String certFile, String keyFile) {
    public boolean enabled() {
      return !certFile.isEmpty();
    }
  }

  /**
   * {@code http.tls.*} and {@code bridge.tls.*}. The TCP bridge uses its own pair when it has one,
   * else the HTTP port's, so one certificate set once covers both.
   */
  public record Tls(Pem http, Pem bridgeOwn) {
    /** What the TCP bridge serves: its own pair, or the HTTP port's. */
    public Pem bridge() {
      return bridgeOwn.enabled() ? bridgeOwn : http;
    }
  }

  /** One server-to-server key and what it may do. */
  public record ApiKey(String key, Set<String> scopes) {
  }

  /** {@code auth.*}: JWT verification, development tokens, API keys and the authorization proxy. */
  public record Auth(String jwtSecret, List<String> publicKeys, String issuer, String audience,
                     int leewaySeconds, boolean devTokens, int devTokensPerMinute, List<ApiKey> apiKeys,
                     Proxy proxy) {
  }

  /**
   * {@code auth.proxy.*} (SPEC §10): the backend URLs asked on connect and on subscribe (empty =
   * not asked), how long to wait, what a failure means, how long answers are kept, and the
   * secret its requests are signed with (empty = unsigned).
   */
  public record Proxy(String connectUrl, String subscribeUrl, int timeoutMillis, boolean failOpen, int cacheSeconds,
                      String secret) {
    public boolean connect() {
      return !connectUrl.isEmpty();
    }

    public boolean subscribe() {
      return !subscribeUrl.isEmpty();
    }
  }

  /** One webhook endpoint: where to POST, the signing secret, and the event types it wants. */
  public record Endpoint(String url, String secret, Set<String> events) {
    public boolean wants(String type) {
      return events.contains(type);
    }
  }

  /**
   * {@code webhooks.*} (SPEC §10): the endpoints, attempts before a delivery is dead-lettered, the
   * delay of {@code message_unseen}, the timeout of one POST, the backoff (base, doubling, capped)
   * and how many deliveries one node runs at once.
   */
  public record Webhooks(List<Endpoint> endpoints, int maxAttempts, int unseenDelaySeconds, int timeoutSeconds,
                         int retryBaseMillis, int retryMaxSeconds, int concurrency) {
    /** The event types webhooks report. */
    public static final List<String> EVENTS = List.of("message_created", "message_edited", "message_deleted",
      "member_joined", "member_left", "user_online", "user_offline", "call_started", "call_ended", "message_unseen");
  }

  /** {@code sse.*}. */
  public record Sse(int heartbeatSeconds, int retryMillis, int resumeWindowSeconds) {
  }

  /** {@code ws.*}. */
  public record Ws(int pingSeconds, int idleTimeoutSeconds) {
  }

  /** {@code calls.*}. */
  public record Calls(int ringSeconds, int dropSeconds, JsonArray iceServers) {
  }

  /** {@code limits.*}: SPEC §8. */
  public record Limits(int messageBytes, int frameBytes, int commandsPerSecond, int commandBurst,
                       int messagesPerSecond, int messageBurst, int topicsPerConnection,
                       int queueEvents, int queueBytes, int connectionsPerUser,
                       int openConcurrency, int openQueueSeconds, int handshakeSeconds,
                       int unauthenticatedPerIp) {
  }

  /** Builds the records from a merged, type-checked JSON tree, checking ranges and element types. */
  public static SwitchboardConfig from(JsonObject c) {
    JsonObject http = c.getJsonObject("http");
    JsonObject db = c.getJsonObject("db");
    JsonObject cluster = c.getJsonObject("cluster");
    JsonObject auth = c.getJsonObject("auth");
    JsonObject sse = c.getJsonObject("sse");
    JsonObject ws = c.getJsonObject("ws");
    JsonObject calls = c.getJsonObject("calls");
    JsonObject limits = c.getJsonObject("limits");
    return new SwitchboardConfig(
      new Http(port(http, "http.port", "port", true), http.getString("host"),
        strings(http, "http.allowedOrigins", "allowedOrigins"),
        positive(http, "http.headerTimeoutSeconds", "headerTimeoutSeconds"),
        positive(http, "http.idleTimeoutSeconds", "idleTimeoutSeconds")),
      new Bridge(port(c.getJsonObject("bridge"), "bridge.tcpPort", "tcpPort", true)),
      new Db(db.getString("url"), positive(db, "db.poolSize", "poolSize"),
        positive(db, "db.waitQueueSize", "waitQueueSize"),
        positive(db, "db.connectTimeoutSeconds", "connectTimeoutSeconds"), db.getBoolean("embeddedDurable")),
      c.getJsonObject("data").getString("dir"),
      new Cluster(nonBlank(cluster, "cluster.name", "name"), nonBlank(cluster, "cluster.host", "host"),
        port(cluster, "cluster.port", "port", false), strings(cluster, "cluster.members", "members"),
        cluster.getBoolean("multicast"), cluster.getString("dns"),
        port(cluster, "cluster.busPort", "busPort", true), cluster.getString("publicHost"),
        nonNegative(cluster, "cluster.expectedMembers", "expectedMembers")),
      new Auth(auth.getString("jwtSecret"), strings(auth, "auth.publicKeys", "publicKeys"),
        auth.getString("issuer"), auth.getString("audience"),
        nonNegative(auth, "auth.leewaySeconds", "leewaySeconds"), auth.getBoolean("devTokens"),
        positive(auth, "auth.devTokensPerMinute", "devTokensPerMinute"), apiKeys(auth.getJsonArray("apiKeys")),
        proxy(auth.getJsonObject("proxy"))),
      strings(c.getJsonObject("topics"), "topics.public", "public"),
      new Sse(positive(sse, "sse.heartbeatSeconds", "heartbeatSeconds"),
        positive(sse, "sse.retryMillis", "retryMillis"),
        positive(sse, "sse.resumeWindowSeconds", "resumeWindowSeconds")),
      new Ws(positive(ws, "ws.pingSeconds", "pingSeconds"),
        positive(ws, "ws.idleTimeoutSeconds", "idleTimeoutSeconds")),
      positive(c.getJsonObject("typing"), "typing.ttlSeconds", "ttlSeconds"),
      positive(c.getJsonObject("presence"), "presence.nodeTimeoutSeconds", "nodeTimeoutSeconds"),
      nonNegative(c.getJsonObject("presence"), "presence.awaySeconds", "awaySeconds"),
      nonNegative(c.getJsonObject("messages"), "messages.editWindowSeconds", "editWindowSeconds"),
      new Calls(positive(calls, "calls.ringSeconds", "ringSeconds"),
        positive(calls, "calls.dropSeconds", "dropSeconds"), objects(calls, "calls.iceServers", "iceServers")),
      new Limits(positive(limits, "limits.messageBytes", "messageBytes"),
        positive(limits, "limits.frameBytes", "frameBytes"),
        positive(limits, "limits.commandsPerSecond", "commandsPerSecond"),
        positive(limits, "limits.commandBurst", "commandBurst"),
        positive(limits, "limits.messagesPerSecond", "messagesPerSecond"),
        positive(limits, "limits.messageBurst", "messageBurst"),
        positive(limits, "limits.topicsPerConnection", "topicsPerConnection"),
        positive(limits, "limits.queueEvents", "queueEvents"),
        positive(limits, "limits.queueBytes", "queueBytes"),
        positive(limits, "limits.connectionsPerUser", "connectionsPerUser"),
        positive(limits, "limits.openConcurrency", "openConcurrency"),
        positive(limits, "limits.openQueueSeconds", "openQueueSeconds"),
        positive(limits, "limits.handshakeSeconds", "handshakeSeconds"),
        nonNegative(limits, "limits.unauthenticatedPerIp", "unauthenticatedPerIp")),
      webhooks(c.getJsonObject("webhooks")),
      positive(c.getJsonObject("shutdown"), "shutdown.drainSeconds", "drainSeconds"),
      new Tls(pem(http.getJsonObject("tls"), "http.tls"), pem(c.getJsonObject("bridge").getJsonObject("tls"), "bridge.tls")),
      oneOf(c.getJsonObject("log"), "log.format", "format", List.of("text", "json")),
      c);
  }

  private static int integer(JsonObject o, String key, String field) {
    Number n = o.getNumber(field);
    if (n.doubleValue() != Math.rint(n.doubleValue()) || Math.abs(n.doubleValue()) > Integer.MAX_VALUE) {
      throw new ConfigException("configuration key '" + key + "' must be a whole number");
    }
    return n.intValue();
  }

  private static int positive(JsonObject o, String key, String field) {
    int v = integer(o, key, field);
    if (v <= 0) {
      throw new ConfigException("configuration key '" + key + "' must be greater than 0");
    }
    return v;
  }

  private static int nonNegative(JsonObject o, String key, String field) {
    int v = integer(o, key, field);
    if (v < 0) {
      throw new ConfigException("configuration key '" + key + "' must not be negative");
    }
    return v;
  }

  private static int port(JsonObject o, String key, String field, boolean zeroAllowed) {
    int v = integer(o, key, field);
    if (v < (zeroAllowed ? 0 : 1) || v > 65535) {
      throw new ConfigException("configuration key '" + key + "' must be a port number (0-65535)");
    }
    return v;
  }

  private static String nonBlank(JsonObject o, String key, String field) {
    String v = o.getString(field);
    if (v.isBlank()) {
      throw new ConfigException("configuration key '" + key + "' must not be empty");
    }
    return v;
  }

  private static String oneOf(JsonObject o, String key, String field, List<String> allowed) {
    String v = o.getString(field);
    if (!allowed.contains(v)) {
      throw new ConfigException("configuration key '" + key + "' must be one of " + String.join(", ", allowed));
    }
    return v;
  }

  /** Both files or neither; each must be readable now, so a typo stops the start rather than the first handshake. */
  private static Pem pem(JsonObject o, String prefix) {
    String cert = o.getString("certFile");
    String key = o.getString("keyFile");
    if (cert.isEmpty() != key.isEmpty()) {
      throw new ConfigException("configuration keys '" + prefix + ".certFile' and '" + prefix
        + ".keyFile' must be set together");
    }
    for (String[] file : new String[][] {{"certFile", cert}, {"keyFile", key}}) {
      if (!file[1].isEmpty() && !Files.isReadable(Path.of(file[1]))) {
        throw new ConfigException("configuration key '" + prefix + "." + file[0] + "': cannot read " + file[1]);
      }
    }
    return new Pem(cert, key);
  }

  private static List<String> strings(JsonObject o, String key, String field) {
    List<String> out = new ArrayList<>();
    for (Object v : o.getJsonArray(field)) {
      if (!(v instanceof String s)) {
        throw new ConfigException("configuration key '" + key + "' must be an array of strings");
      }
      out.add(s);
    }
    return List.copyOf(out);
  }

  private static JsonArray objects(JsonObject o, String key, String field) {
    JsonArray a = o.getJsonArray(field);
    for (Object v : a) {
      if (!(v instanceof JsonObject)) {
        throw new ConfigException("configuration key '" + key + "' must be an array of objects");
      }
    }
    return a.copy();
  }

  private static Proxy proxy(JsonObject p) {
    String connect = p.getString("connectUrl");
    String subscribe = p.getString("subscribeUrl");
    httpUrl(connect, "auth.proxy.connectUrl");
    httpUrl(subscribe, "auth.proxy.subscribeUrl");
    return new Proxy(connect, subscribe, positive(p, "auth.proxy.timeoutMillis", "timeoutMillis"),
      p.getBoolean("failOpen"), nonNegative(p, "auth.proxy.cacheSeconds", "cacheSeconds"), p.getString("secret"));
  }

  private static Webhooks webhooks(JsonObject w) {
    List<Endpoint> endpoints = new ArrayList<>();
    String shape = "configuration key 'webhooks.endpoints' must be an array of {\"url\": string, \"secret\": string,"
      + " \"events\": [names]}";
    for (Object v : w.getJsonArray("endpoints")) {
      if (!(v instanceof JsonObject o) || !(o.getValue("url") instanceof String url)
        || !(o.getValue("secret") instanceof String secret) || secret.isEmpty()) {
        throw new ConfigException(shape + " (each with a url and a non-empty secret)");
      }
      for (String field : o.fieldNames()) {
        if (!Set.of("url", "secret", "events").contains(field)) {
          throw new ConfigException("configuration key 'webhooks.endpoints' has an unknown field '" + field + "'");
        }
      }
      httpUrl(url, "webhooks.endpoints");
      if (url.isEmpty()) {
        throw new ConfigException("configuration key 'webhooks.endpoints' has an endpoint without a url");
      }
      Object events = o.getValue("events");
      Set<String> wanted = new java.util.LinkedHashSet<>();
      if (events == null) {
        wanted.addAll(Webhooks.EVENTS);
      } else if (events instanceof JsonArray a) {
        for (Object e : a) {
          if ("*".equals(e)) {
            wanted.addAll(Webhooks.EVENTS);
          } else if (e instanceof String name && Webhooks.EVENTS.contains(name)) {
            wanted.add(name);
          } else {
            throw new ConfigException("configuration key 'webhooks.endpoints' has an unknown event '" + e
              + "' (known: " + String.join(", ", Webhooks.EVENTS) + ", or \"*\")");
          }
        }
      } else {
        throw new ConfigException(shape);
      }
      if (endpoints.stream().anyMatch(e -> e.url().equals(url))) {
        throw new ConfigException("configuration key 'webhooks.endpoints' lists " + url + " twice");
      }
      endpoints.add(new Endpoint(url, secret, Set.copyOf(wanted)));
    }
    return new Webhooks(List.copyOf(endpoints), positive(w, "webhooks.maxAttempts", "maxAttempts"),
      nonNegative(w, "webhooks.unseenDelaySeconds", "unseenDelaySeconds"),
      positive(w, "webhooks.timeoutSeconds", "timeoutSeconds"),
      positive(w, "webhooks.retryBaseMillis", "retryBaseMillis"),
      positive(w, "webhooks.retryMaxSeconds", "retryMaxSeconds"),
      positive(w, "webhooks.concurrency", "concurrency"));
  }

  /** Empty, or an absolute http(s) URL with a host. */
  private static void httpUrl(String url, String key) {
    if (url.isEmpty()) {
      return;
    }
    try {
      java.net.URI uri = new java.net.URI(url);
      if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
        return;
      }
    } catch (java.net.URISyntaxException e) {
      // said below
    }
    throw new ConfigException("configuration key '" + key + "' must be an http:// or https:// URL: " + url);
  }

  private static List<ApiKey> apiKeys(JsonArray a) {
    List<ApiKey> out = new ArrayList<>();
    for (Object v : a) {
      if (!(v instanceof JsonObject o) || !(o.getValue("key") instanceof String key) || key.isBlank()
        || !(o.getValue("scopes") instanceof JsonArray scopes)) {
        throw new ConfigException(
          "configuration key 'auth.apiKeys' must be an array of {\"key\": string, \"scopes\": [\"publish\"|\"admin\"]}");
      }
      for (Object s : scopes) {
        if (!"publish".equals(s) && !"admin".equals(s)) {
          throw new ConfigException("configuration key 'auth.apiKeys' has an unknown scope: " + s);
        }
      }
      out.add(new ApiKey(key, Set.copyOf(scopes.getList())));
    }
    return List.copyOf(out);
  }
}
