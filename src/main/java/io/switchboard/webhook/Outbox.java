package io.switchboard.webhook;

import io.switchboard.config.SwitchboardConfig;
import io.switchboard.store.WebhookStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlClient;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * How services report a change to the webhooks (SPEC §10): one call inside the change's own
 * transaction writes a row per endpoint that wants the event, so the event exists exactly when the
 * change committed. Delivery is {@link WebhookVerticle}'s. With no endpoint for a type, nothing is
 * written and nothing is asked of PostgreSQL.
 *
 * <pre>{@code
 * pool.withTransaction(conn -> ...the change...
 *   .compose(msg -> outbox().add(conn, Outbox.MESSAGE_EDITED, Outbox.conversation(id), payload).map(msg)))
 * }</pre>
 */
public final class Outbox {

  public static final String MESSAGE_CREATED = "message_created";
  public static final String MESSAGE_EDITED = "message_edited";
  public static final String MESSAGE_DELETED = "message_deleted";
  public static final String MEMBER_JOINED = "member_joined";
  public static final String MEMBER_LEFT = "member_left";
  public static final String USER_ONLINE = "user_online";
  public static final String USER_OFFLINE = "user_offline";
  public static final String CALL_STARTED = "call_started";
  public static final String CALL_ENDED = "call_ended";
  public static final String MESSAGE_UNSEEN = "message_unseen";

  /** An outbox with no endpoints (nodes and tests without webhooks). */
  public static final Outbox NONE = new Outbox(List.of(), 0);

  private final List<SwitchboardConfig.Endpoint> endpoints;
  private final int unseenDelaySeconds;

  public Outbox(List<SwitchboardConfig.Endpoint> endpoints, int unseenDelaySeconds) {
    this.endpoints = endpoints;
    this.unseenDelaySeconds = unseenDelaySeconds;
  }

  public static Outbox of(SwitchboardConfig.Webhooks config) {
    return new Outbox(config.endpoints(), config.unseenDelaySeconds());
  }

  /** The ordering key of a conversation's events: delivered in order per conversation. */
  public static String conversation(Object conversationId) {
    return "conv:" + conversationId;
  }

  /** The ordering key of a user's presence events. */
  public static String user(String userId) {
    return "user:" + userId;
  }

  /** The URLs of the endpoints that want {@code type} (empty: none). */
  public String[] endpoints(String type) {
    return endpoints.stream().filter(e -> e.wants(type)).map(SwitchboardConfig.Endpoint::url).toArray(String[]::new);
  }

  /** Whether any endpoint wants {@code type}. */
  public boolean wants(String type) {
    return endpoints.stream().anyMatch(e -> e.wants(type));
  }

  /** Whether any endpoint is configured at all. */
  public boolean enabled() {
    return !endpoints.isEmpty();
  }

  /** The delay of {@code message_unseen} when an endpoint wants it, else null (no check is scheduled). */
  public Integer unseenDelay() {
    return wants(MESSAGE_UNSEEN) ? unseenDelaySeconds : null;
  }

  /** Writes one event (a new id) for every endpoint that wants it, on {@code db}: the change's connection. */
  public Future<Void> add(SqlClient db, String type, String orderingKey, JsonObject data) {
    return add(db, UUID.randomUUID(), type, orderingKey, data);
  }

  /** As {@link #add(SqlClient, String, String, JsonObject)} with a given event id (written once per endpoint). */
  public Future<Void> add(SqlClient db, UUID eventId, String type, String orderingKey, JsonObject data) {
    List<WebhookStore.Pending> rows = rows(eventId, type, orderingKey, data);
    return rows.isEmpty() ? Future.succeededFuture() : WebhookStore.insert(db, rows);
  }

  /** One event to write: its id, type, ordering key and data. */
  public record Event(UUID id, String type, String orderingKey, JsonObject data) {
    public Event(String type, String orderingKey, JsonObject data) {
      this(UUID.randomUUID(), type, orderingKey, data);
    }
  }

  /** Writes several events in one statement (none wanted: no statement). */
  public Future<Void> addAll(SqlClient db, List<Event> events) {
    List<WebhookStore.Pending> rows = new ArrayList<>();
    for (Event e : events) {
      rows.addAll(rows(e.id(), e.type(), e.orderingKey(), e.data()));
    }
    return WebhookStore.insert(db, rows);
  }

  /** The rows of one event, one per endpoint that wants it. */
  public List<WebhookStore.Pending> rows(UUID eventId, String type, String orderingKey, JsonObject data) {
    List<WebhookStore.Pending> rows = new ArrayList<>(endpoints.size());
    for (String url : endpoints(type)) {
      rows.add(new WebhookStore.Pending(eventId, url, orderingKey, type, data));
    }
    return rows;
  }
}
