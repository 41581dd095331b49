package io.switchboard.topic;

import io.switchboard.auth.AuthProxy;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Owns the topic rules (SPEC §6): who may subscribe to what ({@code topics.public} patterns and the
 * token's {@code topics} claim), and what a backend may publish.
 */
public final class TopicVerticle extends ServiceVerticle {

  /** Internal command: a backend's push, already authorised by its API key's scope. */
  public static final String PUBLISH = "publish";

  static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9_.:-]{1,200}");
  static final Pattern EVENT = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

  private final List<String> publicPatterns;
  private final AuthProxy proxy;

  public TopicVerticle(List<String> publicPatterns) {
    this(publicPatterns, AuthProxy.NONE);
  }

  /** @param proxy asked about topics no static rule grants (SPEC §10), when configured */
  public TopicVerticle(List<String> publicPatterns, AuthProxy proxy) {
    this.publicPatterns = publicPatterns;
    this.proxy = proxy;
  }

  @Override
  public Future<?> start() {
    handle(Types.SUBSCRIBE, this::subscribe);
    handle(PUBLISH, this::publishEvent);
    return registered();
  }

  private Future<Envelope> subscribe(Command cmd) {
    List<String> topics = Fields.stringList(cmd.payload(), "topics", 1000, 200);
    if (topics.isEmpty()) {
      throw ServiceException.invalid("'topics' must be a non-empty array of topic names");
    }
    List<Future<Void>> asked = new ArrayList<>();
    for (String t : topics) {
      if (!TOPIC.matcher(t).matches()) {
        throw ServiceException.invalid("invalid topic name '" + t + "'");
      }
      if (allowed(t, cmd.principal().topics())) {
        continue;
      }
      if (!proxy.asksSubscribe()) {
        throw ServiceException.forbidden("not allowed to subscribe to '" + t + "'");
      }
      // Granted by neither topics.public nor the token: the application's backend decides.
      asked.add(proxy.subscribe(cmd.userId(), t).compose(d -> d.allow() ? Future.succeededFuture()
        : Future.failedFuture(ServiceException.forbidden("not allowed to subscribe to '" + t + "'"))));
    }
    Envelope reply = Envelope.of(Types.SUBSCRIBED, new JsonObject().put("topics", new JsonArray(topics)));
    if (asked.isEmpty()) {
      return Future.succeededFuture(reply);
    }
    // Every answer is awaited, so the first refusal (in the order asked) is the one reported.
    return Future.join(asked).transform(ar -> {
      for (Future<Void> f : asked) {
        if (f.failed()) {
          return Future.failedFuture(f.cause());
        }
      }
      return Future.succeededFuture(reply);
    });
  }

  /** {@code {topic|userId|broadcast, event, data}} → an envelope named {@code event} on the target's address. */
  private Future<Envelope> publishEvent(Command cmd) {
    JsonObject p = cmd.payload();
    String event = Fields.requiredString(p, "event", 64);
    if (!EVENT.matcher(event).matches() || Types.RESERVED.contains(event)) {
      throw ServiceException.invalid("'event' must match [a-z][a-z0-9_.-]* and not be a protocol type");
    }
    if (!p.containsKey("data")) {
      throw ServiceException.invalid("'data' is required");
    }
    Object data = p.getValue("data");
    String topic = Fields.optionalString(p, "topic", 200);
    String userId = Fields.optionalString(p, "userId", 128);
    Boolean broadcast = Fields.optionalBoolean(p, "broadcast");
    int targets = (topic != null ? 1 : 0) + (userId != null ? 1 : 0) + (Boolean.TRUE.equals(broadcast) ? 1 : 0);
    if (targets != 1) {
      throw ServiceException.invalid("give exactly one of 'topic', 'userId' or 'broadcast': true");
    }
    String address;
    JsonObject payload = new JsonObject().put("data", data);
    if (topic != null) {
      if (!TOPIC.matcher(topic).matches()) {
        throw ServiceException.invalid("invalid topic name");
      }
      address = Addresses.topic(topic);
      payload = new JsonObject().put("topic", topic).put("data", data);
    } else if (userId != null) {
      address = Addresses.user(userId);
    } else {
      address = Addresses.BROADCAST;
    }
    publish(address, event, payload);
    return Future.succeededFuture(Envelope.of(Types.ACK, new JsonObject().put("published", true)));
  }

  private boolean allowed(String topic, List<String> granted) {
    List<String> patterns = new ArrayList<>(publicPatterns);
    patterns.addAll(granted);
    return patterns.stream().anyMatch(p -> matches(p, topic));
  }

  /** Glob match: {@code *} stands for any run of characters. */
  static boolean matches(String pattern, String topic) {
    String regex = ("\\Q" + pattern + "\\E").replace("*", "\\E.*\\Q");
    return Pattern.matches(regex, topic);
  }
}
