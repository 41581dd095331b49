package io.switchboard.gateway;

import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The one command dispatcher of every transport that takes commands (WebSocket, the bridges):
 * the connection's rate limit, the commands about the connection itself (rooms, topics, ping),
 * and the rest sent to their service with the connection's principal and id. Rooms and topics
 * asked for at connect time (SSE and long-poll query parameters) go through the same rules.
 */
final class Dispatcher {

  private final Gateway gateway;

  Dispatcher(Gateway gateway) {
    this.gateway = gateway;
  }

  /** Runs one command of {@code session}; on its loop. */
  Future<Envelope> run(Session session, Envelope env) {
    long wait = session.takeCommandToken();
    if (wait > 0) {
      return Future.failedFuture(new ServiceException(ErrorCode.RATE_LIMITED, "too many commands; retry in " + wait + " s"));
    }
    JsonObject p = env.payload();
    try {
      return switch (env.type()) {
        case Types.PING -> Future.succeededFuture(Envelope.of(Types.PONG, new JsonObject()));
        case Types.JOIN_CONVERSATION -> joinRoom(session, Fields.conversationId(p, "conversationId").toString());
        case Types.LEAVE_CONVERSATION -> leaveRoom(session, p);
        case Types.SUBSCRIBE -> subscribe(session, p);
        case Types.UNSUBSCRIBE -> unsubscribe(session, p);
        case Types.SEND_MESSAGE -> {
          long retry = gateway.takeMessageToken(session.userId());
          if (retry > 0) {
            throw new ServiceException(ErrorCode.RATE_LIMITED, "too many messages; retry in " + retry + " s");
          }
          yield gateway.commands().request(session.principal(), env.type(), p, session.id());
        }
        default -> {
          if (!Types.FORWARDED.contains(env.type())) {
            throw ServiceException.invalid("unknown type '" + env.type() + "'");
          }
          yield gateway.commands().request(session.principal(), env.type(), p, session.id());
        }
      };
    } catch (ServiceException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Rooms and topics asked for when a stream opens: each one granted or refused on its own (a
   * refused one does not take the others with it); completes with the refusals.
   */
  Future<List<ServiceException>> grant(Session session, List<String> rooms, List<String> topics) {
    List<Future<Envelope>> all = new ArrayList<>();
    for (String room : rooms) {
      Future<Envelope> joined;
      try {
        joined = joinRoom(session, Fields.uuid(room, "room").toString());
      } catch (ServiceException e) {
        joined = Future.failedFuture(e);
      }
      all.add(joined);
    }
    for (String topic : topics) {
      Future<Envelope> subscribed;
      try {
        subscribed = subscribe(session, new JsonObject().put("topics", new JsonArray().add(topic)));
      } catch (ServiceException e) {
        subscribed = Future.failedFuture(e);
      }
      all.add(subscribed);
    }
    return Future.join(all).transform(ignored -> {
      List<ServiceException> refused = new ArrayList<>();
      for (Future<Envelope> f : all) {
        if (f.failed()) {
          refused.add(ServiceException.from(f.cause()));
        }
      }
      return Future.succeededFuture(refused);
    });
  }

  private Future<Envelope> joinRoom(Session session, String conv) {
    return gateway.commands().request(session.principal(), Types.JOIN_CONVERSATION, new JsonObject().put("conversationId", conv))
      .map(ok -> {
        session.joinedRoom(conv);
        return ok;
      });
  }

  /**
   * The service answers both forms: with {@code membership:true} it leaves the group, without it
   * it only checks that the user may see the conversation (others' rooms are forbidden, unknown
   * ones not found), as for {@code join_conversation}.
   */
  private Future<Envelope> leaveRoom(Session session, JsonObject p) {
    String conv = Fields.conversationId(p, "conversationId").toString();
    Boolean membership = Fields.optionalBoolean(p, "membership");
    JsonObject payload = new JsonObject().put("conversationId", conv);
    if (Boolean.TRUE.equals(membership)) {
      payload.put("membership", true);
    }
    return gateway.commands().request(session.principal(), Types.LEAVE_CONVERSATION, payload).map(left -> {
      session.leftRoom(conv);
      return left;
    });
  }

  private Future<Envelope> subscribe(Session session, JsonObject p) {
    int max = gateway.config().limits().topicsPerConnection();
    List<String> wanted = Fields.stringList(p, "topics", max, 200);
    if (wanted.isEmpty()) {
      throw ServiceException.invalid("'topics' must be a non-empty array of topic names");
    }
    Set<String> after = new HashSet<>(session.topics());
    after.addAll(wanted);
    if (after.size() > max) {
      throw ServiceException.invalid("at most " + max + " topics per connection");
    }
    return gateway.commands().request(session.principal(), Types.SUBSCRIBE, new JsonObject().put("topics", new JsonArray(wanted)))
      .compose(ok -> session.followTopics(wanted).map(ok));
  }

  private Future<Envelope> unsubscribe(Session session, JsonObject p) {
    List<String> names = Fields.stringList(p, "topics", 1000, 200);
    session.unfollowTopics(names);
    return Future.succeededFuture(Envelope.of(Types.UNSUBSCRIBED, new JsonObject().put("topics", new JsonArray(names))));
  }
}
