package io.switchboard.auth;

import io.switchboard.config.SwitchboardConfig;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.ServiceException;
import io.switchboard.webhook.Signature;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The authorization proxy (SPEC §10): asks the application's backend whether a user may open a
 * stream ({@code POST connectUrl {userId, claims, transport}}) or subscribe to a topic
 * ({@code POST subscribeUrl {userId, topic}}); the answer is {@code {allow, topics?, info?}}.
 * One per node, shared by its service verticles.
 *
 * <p>Bounded: each request waits at most {@code auth.proxy.timeoutMillis}. A timeout, a failed
 * connection, a non-2xx status or an answer without a boolean {@code allow} is a failure, and
 * {@code failOpen} decides it: allowed (with nothing attached), or refused as {@code unavailable}
 * — the client tries again later, as it would when the database is down. Answers, refusals
 * included, are kept {@code cacheSeconds}; failures never are.
 */
public final class AuthProxy {

  private static final Logger LOG = LoggerFactory.getLogger(AuthProxy.class);
  /** Answers kept at most; past it expired ones go, then all (the cache only saves requests). */
  static final int MAX_CACHED = 50_000;
  private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9_.:-]{1,200}");

  /** A proxy that asks nothing (not configured). */
  public static final AuthProxy NONE = new AuthProxy(null, new SwitchboardConfig.Proxy("", "", 1000, false, 0, ""));

  private final SwitchboardConfig.Proxy config;
  private final WebClient client;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  /** The backend's answer. */
  public record Decision(boolean allow, List<String> topics, JsonObject info) {
    static final Decision ALLOW = new Decision(true, List.of(), null);
  }

  private record Cached(Decision decision, long expiresAt) {
  }

  public AuthProxy(Vertx vertx, SwitchboardConfig.Proxy config) {
    this.config = config;
    this.client = vertx == null || !(config.connect() || config.subscribe()) ? null : WebClient.create(vertx,
      new WebClientOptions().setConnectTimeout(config.timeoutMillis()).setFollowRedirects(false)
        .setUserAgent("Switchboard-AuthProxy/1"));
  }

  /** Whether stream opens are asked. */
  public boolean asksConnect() {
    return config.connect();
  }

  /** Whether subscribes that no static rule grants are asked. */
  public boolean asksSubscribe() {
    return config.subscribe();
  }

  /** May {@code userId} open a stream on {@code transport}? With extra topics and info when allowed. */
  public Future<Decision> connect(String userId, JsonObject claims, String transport) {
    JsonObject body = new JsonObject().put("userId", userId).put("claims", claims).put("transport", transport);
    return ask(config.connectUrl(), "c|" + transport + "|" + claims.encode(), body);
  }

  /** May {@code userId} subscribe to {@code topic}? */
  public Future<Decision> subscribe(String userId, String topic) {
    return ask(config.subscribeUrl(), "s|" + userId + "|" + topic, new JsonObject().put("userId", userId).put("topic", topic));
  }

  private Future<Decision> ask(String url, String key, JsonObject body) {
    long now = System.currentTimeMillis();
    Cached hit = cache.get(key);
    if (hit != null && hit.expiresAt() > now) {
      return Future.succeededFuture(hit.decision());
    }
    String text = body.encode();
    var request = client.postAbs(url)
      .timeout(config.timeoutMillis())
      .putHeader("Content-Type", "application/json; charset=utf-8");
    if (!config.secret().isEmpty()) {
      request.putHeader(Signature.HEADER, Signature.header(config.secret(), Instant.now().getEpochSecond(), text));
    }
    return request.sendBuffer(Buffer.buffer(text.getBytes(StandardCharsets.UTF_8)))
      // The request's own timeout is per silence; this one bounds the whole answer.
      .timeout(config.timeoutMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
      .map(AuthProxy::decision)
      .map(decision -> {
        remember(key, decision, now);
        return decision;
      })
      .recover(t -> {
        LOG.warn("authorization backend {} failed ({}); {}", url, t.getMessage(),
          config.failOpen() ? "allowed (auth.proxy.failOpen)" : "refused as unavailable");
        return config.failOpen() ? Future.succeededFuture(Decision.ALLOW)
          : Future.failedFuture(new ServiceException(ErrorCode.UNAVAILABLE,
            "the authorization backend did not answer; try again"));
      });
  }

  private void remember(String key, Decision decision, long now) {
    if (config.cacheSeconds() <= 0) {
      return;
    }
    if (cache.size() >= MAX_CACHED) {
      cache.values().removeIf(c -> c.expiresAt() <= now);
      if (cache.size() >= MAX_CACHED) {
        cache.clear();
      }
    }
    cache.put(key, new Cached(decision, now + config.cacheSeconds() * 1000L));
  }

  /** A 2xx answer with a boolean {@code allow}; anything else is a failure of the backend. */
  static Decision decision(HttpResponse<Buffer> response) {
    if (response.statusCode() / 100 != 2) {
      throw new IllegalStateException("HTTP " + response.statusCode());
    }
    JsonObject answer;
    try {
      answer = response.bodyAsJsonObject();
    } catch (RuntimeException e) {
      throw new IllegalStateException("the answer is not a JSON object");
    }
    if (answer == null || !(answer.getValue("allow") instanceof Boolean allow)) {
      throw new IllegalStateException("the answer has no boolean 'allow'");
    }
    List<String> topics = new ArrayList<>();
    if (answer.getValue("topics") instanceof JsonArray a) {
      for (Object t : a) {
        if (!(t instanceof String s) || !TOPIC.matcher(s).matches()) {
          throw new IllegalStateException("the answer's 'topics' holds an invalid topic name");
        }
        topics.add(s);
      }
    }
    JsonObject info = answer.getValue("info") instanceof JsonObject i ? i : null;
    return new Decision(allow, List.copyOf(topics), info);
  }
}
