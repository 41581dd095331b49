package io.switchboard.call;

import io.switchboard.config.SwitchboardConfig;
import io.switchboard.presence.Presence;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Envelope;
import io.switchboard.protocol.ErrorCode;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.Fields;
import io.switchboard.protocol.ServiceException;
import io.switchboard.protocol.Types;
import io.switchboard.service.Command;
import io.switchboard.service.ServiceVerticle;
import io.switchboard.store.CallStore;
import io.switchboard.store.CallStore.Call;
import io.switchboard.store.Db;
import io.switchboard.webhook.Outbox;
import io.vertx.core.Future;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Owns the call rules (SPEC §5): who may call whom, the states {@code ringing → active → ended}
 * or {@code declined / missed / busy}, first answer wins, glare, held ICE candidates, the ring
 * and drop timers. The SDP and the candidates are relayed untouched. The {@code calls} row is the
 * source of truth: offers run under per-user advisory locks, every other change is a conditional
 * update on the row, so any node may answer any command (DESIGN §5).
 *
 * <p>One instance per node is the <em>watcher</em>: it keeps the drop timers of the users whose
 * offline this node announced and who are in a call, and sweeps calls whose ring timer died
 * with its node.
 */
public final class CallVerticle extends ServiceVerticle {

  private static final Logger LOG = LoggerFactory.getLogger(CallVerticle.class);

  static final int MAX_ID = 64;
  static final int MAX_REASON = 64;
  static final int MAX_CANDIDATE_BYTES = 8192;
  /** Candidates held per call before the answer; a real ICE agent gathers a handful. */
  static final int MAX_HELD = 100;
  /** A ringing call this long past its ring time lost its timer (its node died): the sweep ends it. */
  static final int SWEEP_GRACE_SECONDS = 5;
  /** How often the watcher sweeps: the ring time, at most every 10 s. */
  static final long MAX_SWEEP_PERIOD_MS = 10_000;
  /** How often the watcher ends the calls of users whose drop time has passed (one statement for all). */
  static final long DROP_TICK_MS = 250;

  /** Reasons of {@code call_end}. */
  static final String ENDED = "ended";
  static final String CANCELLED = "cancelled";
  static final String MISSED = "missed";
  static final String DROPPED = "dropped";
  static final String DECLINED = "declined";
  static final String ANSWERED_ELSEWHERE = "answered_elsewhere";
  static final String DECLINED_ELSEWHERE = "declined_elsewhere";

  private final Pool pool;
  private final SwitchboardConfig.Calls calls;
  private final SwitchboardConfig.Limits limits;
  private final boolean watcher;
  /** Watcher only: users announced offline by this node (or sent to it) who may be in a call. */
  private final Map<String, Watch> watching = new HashMap<>();
  private boolean dropping;

  public CallVerticle(Pool pool, SwitchboardConfig.Calls calls, SwitchboardConfig.Limits limits, boolean watcher) {
    this.pool = pool;
    this.calls = calls;
    this.limits = limits;
    this.watcher = watcher;
  }

  @Override
  public Future<?> start() {
    handle(Types.CALL_OFFER, this::offer);
    handle(Types.CALL_ANSWER, this::answer);
    handle(Types.CALL_DECLINE, this::decline);
    handle(Types.CALL_END, this::end);
    handle(Types.ICE_CANDIDATE, this::iceCandidate);
    handle(Types.GET_CALL, this::getCall);
    handle(Types.GET_ICE_SERVERS, cmd -> Future.succeededFuture(
      Envelope.of(Types.ICE_SERVERS, new JsonObject().put("iceServers", calls.iceServers().copy()))));
    if (!watcher) {
      return registered();
    }
    // Offline users come from the node that announced them (one node per user); who came back,
    // from this node's presence service, which decodes the gossip once for every service.
    MessageConsumer<JsonObject> watch = vertx.eventBus().consumer(Addresses.CALL_WATCH, msg -> watch(msg.body()));
    MessageConsumer<JsonObject> presence = vertx.eventBus().localConsumer(Addresses.PRESENCE_CHANGES,
      msg -> backOnline(msg.body()));
    vertx.setPeriodic(Math.min(MAX_SWEEP_PERIOD_MS, calls.ringSeconds() * 1000L), id -> sweep());
    vertx.setPeriodic(DROP_TICK_MS, id -> dropDue());
    return Future.all(registered(), watch.completion(), presence.completion());
  }

  // ---- offer ----

  /** A validated {@code call_offer}. */
  private record Offer(UUID conversationId, String calleeId, String sdp, String media) {
  }

  /** What an offer led to. */
  private enum Outcome { RINGING, BUSY, GLARE }

  private record Placed(Call call, Outcome outcome) {
  }

  private Future<Envelope> offer(Command cmd) {
    Offer o = parseOffer(cmd.payload());
    String caller = cmd.userId();
    return CallStore.parties(pool, o.conversationId())
      .compose(parties -> {
        String callee = callee(o, caller, parties);
        return pool.withTransaction(conn -> place(conn, o, caller, callee));
      })
      .recover(Db::failure)
      .map(placed -> {
        Call call = placed.call();
        webhooksDue();
        switch (placed.outcome()) {
          case RINGING -> {
            startRinging(call.id());
            publish(Addresses.user(call.calleeId()), Types.CALL_OFFER, new JsonObject()
              .put("callId", call.id().toString())
              .put("conversationId", call.conversationId().toString())
              .put("callerId", call.callerId())
              .put("media", call.media())
              .put("sdp", o.sdp()));
            LOG.debug("call {} ringing: {} -> {}", call.id(), call.callerId(), call.calleeId());
            return Envelope.of(Types.CALL_RINGING, call.toJson());
          }
          case BUSY -> {
            LOG.debug("call {} busy: {} -> {}", call.id(), call.callerId(), call.calleeId());
            return Envelope.of(Types.CALL_BUSY, call.toJson());
          }
          default -> {
            // Glare: the other side's call stands; this offer answers nothing and is not stored.
            LOG.debug("call {} glare: {} called back", call.id(), caller);
            return Envelope.of(Types.CALL_RINGING, call.toJson().put("glare", true).put("sdp", call.offerSdp()));
          }
        }
      });
  }

  /**
   * Who is called: members only; in a direct conversation the other member by default, in a
   * group the named member.
   */
  private static String callee(Offer o, String caller, CallStore.Parties parties) {
    if (parties == null) {
      throw ServiceException.notFound("no such conversation");
    }
    if (!parties.members().contains(caller)) {
      throw ServiceException.forbidden("not a member of this conversation");
    }
    String callee = o.calleeId();
    if (callee == null) {
      if (!parties.direct()) {
        throw ServiceException.invalid("'calleeId' is required in a group conversation");
      }
      callee = parties.members().stream().filter(m -> !m.equals(caller)).findFirst()
        .orElseThrow(() -> new ServiceException(ErrorCode.CONFLICT, "nobody else is in this conversation"));
    }
    if (callee.equals(caller)) {
      throw ServiceException.invalid("you cannot call yourself");
    }
    if (!parties.members().contains(callee)) {
      throw ServiceException.forbidden("the callee is not a member of this conversation");
    }
    return callee;
  }

  /**
   * Under both users' advisory locks, so two offers touching either user are decided one after
   * the other on whatever nodes they run: glare first (the callee is already ringing this caller
   * here), then the caller's own calls, then whether the callee is busy.
   */
  private Future<Placed> place(SqlConnection conn, Offer o, String caller, String callee) {
    return CallStore.lockUsers(conn, caller, callee)
      .compose(v -> CallStore.live(conn, List.of(caller, callee), calls.ringSeconds()))
      .compose(live -> {
        for (Call c : live) {
          if ("ringing".equals(c.state()) && c.callerId().equals(callee) && c.calleeId().equals(caller)
            && c.conversationId().equals(o.conversationId())) {
            return Future.succeededFuture(new Placed(c, Outcome.GLARE));
          }
        }
        for (Call c : live) {
          if (c.callerId().equals(caller) || ("active".equals(c.state()) && c.isParty(caller))) {
            return Future.failedFuture(new ServiceException(ErrorCode.CONFLICT,
              "you are already in call " + c.id() + "; end it first"));
          }
        }
        boolean busy = live.stream().anyMatch(c -> c.isParty(callee));
        CallStore.NewCall call = new CallStore.NewCall(UUID.randomUUID(), o.conversationId(), caller, callee, o.media());
        return busy
          ? CallStore.insertBusy(conn, call).compose(c -> ended(conn, c)).map(c -> new Placed(c, Outcome.BUSY))
          : CallStore.insertRinging(conn, call, o.sdp()).compose(c -> started(conn, c))
            .map(c -> new Placed(c, Outcome.RINGING));
      });
  }

  private Offer parseOffer(JsonObject p) {
    UUID conversationId = Fields.conversationId(p, "conversationId");
    String calleeId = Fields.optionalString(p, "calleeId", 128);
    if (calleeId != null && calleeId.isBlank()) {
      throw ServiceException.invalid("'calleeId' must not be empty");
    }
    String media = Fields.requiredString(p, "media", 16);
    if (!"audio".equals(media) && !"video".equals(media)) {
      throw ServiceException.invalid("'media' must be \"audio\" or \"video\"");
    }
    return new Offer(conversationId, calleeId, sdp(p), media);
  }

  // ---- answer, decline, end ----

  /**
   * First answer wins: the row is locked and moves from ringing to active once; a second answer,
   * from another device on any node, finds it active and gets 409. The caller gets the SDP and
   * whatever the callee sent early; the callee's other devices stop ringing; the answering device
   * gets the caller's held candidates in the reply.
   */
  private Future<Envelope> answer(Command cmd) {
    UUID id = callId(cmd.payload());
    String sdp = sdp(cmd.payload());
    String user = cmd.userId();
    return pool.withTransaction(conn -> CallStore.lock(conn, id).compose(call -> {
        requireParty(call, user);
        if (!call.calleeId().equals(user)) {
          throw ServiceException.forbidden("only the callee can answer a call");
        }
        requireState(call, "ringing");
        return CallStore.answer(conn, id).map(active -> new Answered(call.held(), changed(active)));
      }))
      .recover(Db::failure)
      .map(a -> {
        Call call = a.call();
        String callId = call.id().toString();
        publish(Addresses.user(call.callerId()), Types.CALL_ANSWER, new JsonObject().put("callId", callId).put("sdp", sdp));
        JsonArray forCallee = new JsonArray();
        for (Object o : a.held()) {
          JsonObject entry = (JsonObject) o;
          if (call.callerId().equals(entry.getString("from"))) {
            forCallee.add(entry.getValue("candidate"));
          } else if (sameDevice(entry.getString("connectionId"), cmd.connectionId())) {
            // Sent after the ice_candidate that was held: the caller sees the answer first.
            publish(Addresses.user(call.callerId()), Types.ICE_CANDIDATE,
              new JsonObject().put("callId", callId).put("candidate", entry.getValue("candidate")));
          }
        }
        publishExcept(Addresses.user(call.calleeId()), Types.CALL_END,
          new JsonObject().put("callId", callId).put("reason", ANSWERED_ELSEWHERE), cmd.connectionId());
        LOG.debug("call {} answered by {}", callId, user);
        return Envelope.of(Types.CALL_ACCEPTED, call.toJson().put("candidates", forCallee));
      });
  }

  private record Answered(JsonArray held, Call call) {
  }

  /** A candidate held from a callee device that did not answer is dropped; unknown devices (REST) pass. */
  private static boolean sameDevice(String held, String answering) {
    return held == null || answering == null || held.equals(answering);
  }

  /** Only the callee declines, only while it rings; the caller hears the reason. */
  private Future<Envelope> decline(Command cmd) {
    UUID id = callId(cmd.payload());
    String reason = Fields.optionalString(cmd.payload(), "reason", MAX_REASON);
    String why = reason == null || reason.isBlank() ? DECLINED : reason;
    String user = cmd.userId();
    return pool.withTransaction(conn -> CallStore.lock(conn, id).compose(call -> {
        requireParty(call, user);
        if (!call.calleeId().equals(user)) {
          throw ServiceException.forbidden("only the callee can decline a call; the caller ends it");
        }
        requireState(call, "ringing");
        return CallStore.finish(conn, id, "declined", why).compose(c -> ended(conn, c));
      }))
      .recover(Db::failure)
      .map(call -> {
        announceDeclined(changed(call), why, cmd.connectionId());
        return Envelope.of(Types.ACK, call.toJson());
      });
  }

  /**
   * Either party hangs up. An active call ends ({@code ended}); a ringing one is cancelled by the
   * caller or declined by the callee.
   */
  private Future<Envelope> end(Command cmd) {
    UUID id = callId(cmd.payload());
    String user = cmd.userId();
    return pool.withTransaction(conn -> CallStore.lock(conn, id).compose(call -> {
        requireParty(call, user);
        if ("active".equals(call.state())) {
          return CallStore.finish(conn, id, "ended", ENDED).compose(c -> ended(conn, c));
        }
        requireState(call, "ringing");
        return (call.callerId().equals(user)
          ? CallStore.finish(conn, id, "ended", CANCELLED)
          : CallStore.finish(conn, id, "declined", DECLINED)).compose(c -> ended(conn, c));
      }))
      .recover(Db::failure)
      .map(call -> {
        String callId = changed(call).id().toString();
        if ("declined".equals(call.state())) {
          announceDeclined(call, DECLINED, cmd.connectionId());
        } else {
          webhooksDue();
          publish(Addresses.user(call.other(user)), Types.CALL_END,
            new JsonObject().put("callId", callId).put("reason", call.endReason()));
        }
        LOG.debug("call {} {} by {}", callId, call.endReason(), user);
        return Envelope.of(Types.ACK, call.toJson());
      });
  }

  private void announceDeclined(Call call, String reason, String connectionId) {
    webhooksDue();
    String callId = call.id().toString();
    publish(Addresses.user(call.callerId()), Types.CALL_DECLINE, new JsonObject().put("callId", callId).put("reason", reason));
    publishExcept(Addresses.user(call.calleeId()), Types.CALL_END,
      new JsonObject().put("callId", callId).put("reason", DECLINED_ELSEWHERE), connectionId);
  }

  // ---- ICE candidates ----

  /**
   * While the call rings, candidates are held on the row (the callee has no peer connection yet);
   * the answer hands them over. Once active they go straight to the other party. Holding is a
   * conditional update on a ringing row, and the answer locks that row, so a candidate racing the
   * answer is either held and handed over, or relayed: never lost.
   */
  private Future<Envelope> iceCandidate(Command cmd) {
    UUID id = callId(cmd.payload());
    Object candidate = candidate(cmd.payload());
    String user = cmd.userId();
    JsonObject entry = new JsonObject().put("from", user).put("connectionId", cmd.connectionId()).put("candidate", candidate);
    return CallStore.get(pool, id)
      .compose(call -> {
        requireParty(call, user);
        return relay(call, user, entry, true);
      })
      .recover(Db::failure);
  }

  private Future<Envelope> relay(Call call, String user, JsonObject entry, boolean mayHold) {
    String callId = call.id().toString();
    if ("active".equals(call.state())) {
      publish(Addresses.user(call.other(user)), Types.ICE_CANDIDATE,
        new JsonObject().put("callId", callId).put("candidate", entry.getValue("candidate")));
      return Future.succeededFuture(Envelope.of(Types.ACK, new JsonObject().put("callId", callId).put("held", false)));
    }
    requireState(call, "ringing");
    if (!mayHold) {
      return Future.failedFuture(ServiceException.tooLarge(
        "more than " + MAX_HELD + " ICE candidates before the answer"));
    }
    return CallStore.hold(pool, call.id(), entry, MAX_HELD).compose(held -> held
      ? Future.succeededFuture(Envelope.of(Types.ACK, new JsonObject().put("callId", callId).put("held", true)))
      // The call moved on meanwhile (or holds too many): decide again on its new state.
      : CallStore.get(pool, call.id()).compose(now -> relay(now, user, entry, false)));
  }

  private Object candidate(JsonObject p) {
    Object c = p.getValue("candidate");
    if (c instanceof String s && !s.isBlank()) {
      if (s.getBytes(StandardCharsets.UTF_8).length > MAX_CANDIDATE_BYTES) {
        throw ServiceException.tooLarge("'candidate' is larger than " + MAX_CANDIDATE_BYTES + " bytes");
      }
      return s;
    }
    if (c instanceof JsonObject o) {
      if (Json.encode(o).getBytes(StandardCharsets.UTF_8).length > MAX_CANDIDATE_BYTES) {
        throw ServiceException.tooLarge("'candidate' is larger than " + MAX_CANDIDATE_BYTES + " bytes");
      }
      return o;
    }
    throw ServiceException.invalid("'candidate' is required: an RTCIceCandidateInit object or a candidate string");
  }

  // ---- reading ----

  private Future<Envelope> getCall(Command cmd) {
    UUID id = callId(cmd.payload());
    return CallStore.get(pool, id)
      .recover(Db::failure)
      .map(call -> {
        requireParty(call, cmd.userId());
        return Envelope.of(Types.CALL, call.toJson());
      });
  }

  // ---- timers ----

  /** The ring timer lives on the node that placed the call; the row decides whether it still matters. */
  private void startRinging(UUID id) {
    vertx.setTimer(calls.ringSeconds() * 1000L, t -> pool.withTransaction(conn -> CallStore.miss(conn, id)
        .compose(c -> ended(conn, c)))
      .onSuccess(missed -> {
        if (missed != null) {
          announceMissed(missed);
        }
      })
      .onFailure(e -> LOG.warn("call {} could not be marked missed (the sweep will): {}", id, e.getMessage())));
  }

  private void sweep() {
    pool.withTransaction(conn -> CallStore.sweep(conn, calls.ringSeconds() + SWEEP_GRACE_SECONDS)
        .compose(missed -> ended(conn, missed)))
      .onSuccess(missed -> missed.forEach(this::announceMissed))
      .onFailure(e -> LOG.warn("sweep of unanswered calls failed: {}", e.getMessage()));
  }

  private void announceMissed(Call call) {
    webhooksDue();
    JsonObject payload = new JsonObject().put("callId", call.id().toString()).put("reason", MISSED);
    publish(Addresses.user(call.callerId()), Types.CALL_END, payload);
    publish(Addresses.user(call.calleeId()), Types.CALL_END, payload);
    LOG.debug("call {} missed", call.id());
  }

  /**
   * Users whose last connection anywhere closed, from the node that announced it (this node's
   * presence service, or one without the services): those who are a party to a live call get
   * {@code calls.dropSeconds} to come back. One read per announcement tells who they are, so
   * users without a call cost nothing more.
   */
  private void watch(JsonObject envelope) {
    if (!Presence.WATCH.equals(envelope.getString("type"))) {
      return;
    }
    long dueAt = System.currentTimeMillis() + calls.dropSeconds() * 1000L;
    Map<String, Watch> armed = new HashMap<>();
    for (Object o : envelope.getJsonObject("payload", new JsonObject()).getJsonArray("userIds", new JsonArray())) {
      if (o instanceof String userId) {
        Watch w = new Watch(dueAt);
        watching.put(userId, w);
        armed.put(userId, w);
      }
    }
    if (armed.isEmpty()) {
      return;
    }
    CallStore.liveParties(pool, armed.keySet())
      .onSuccess(inCall -> armed.forEach((userId, w) -> {
        w.checked = true;
        w.inCall = inCall.contains(userId);
        if (!w.inCall) {
          watching.remove(userId, w);
        }
      }))
      .onFailure(e -> {
        // Cannot tell: the drop's own conditional update will.
        LOG.warn("could not tell whether {} offline user(s) are in a call: {}", armed.size(), e.getMessage());
        armed.values().forEach(w -> {
          w.checked = true;
          w.inCall = true;
        });
      });
  }

  /** Users who came online again (announced by any node) keep their calls. */
  private void backOnline(JsonObject envelope) {
    if (!Presence.CHANGES.equals(envelope.getString("type"))) {
      return;
    }
    for (Object o : envelope.getJsonObject("payload", new JsonObject()).getJsonArray("changes", new JsonArray())) {
      if (o instanceof JsonObject change && change.getBoolean("online", false)
        && change.getValue("userId") instanceof String userId) {
        watching.remove(userId);
      }
    }
  }

  /** Every tick, one statement ends the live calls of all users whose drop time has passed. */
  private void dropDue() {
    if (dropping || watching.isEmpty()) {
      return;
    }
    long now = System.currentTimeMillis();
    List<String> gone = new ArrayList<>();
    for (Iterator<Map.Entry<String, Watch>> it = watching.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Watch> e = it.next();
      Watch w = e.getValue();
      if (w.checked && w.dueAt <= now) {
        it.remove();
        if (w.inCall) {
          gone.add(e.getKey());
        }
      }
    }
    if (gone.isEmpty()) {
      return;
    }
    dropping = true;
    pool.withTransaction(conn -> CallStore.drop(conn, gone).compose(dropped -> ended(conn, dropped)))
      .onComplete(ar -> dropping = false)
      .onSuccess(dropped -> dropped.forEach(call -> {
        webhooksDue();
        JsonObject payload = new JsonObject().put("callId", call.id().toString()).put("reason", DROPPED);
        publish(Addresses.user(call.callerId()), Types.CALL_END, payload);
        publish(Addresses.user(call.calleeId()), Types.CALL_END, payload);
        LOG.debug("call {} dropped: a party went away", call.id());
      }))
      .onFailure(e -> LOG.warn("calls of {} user(s) could not be dropped: {}", gone.size(), e.getMessage()));
  }

  /** A user announced offline, waiting for their drop time; {@code checked} once it is known whether they are in a call. */
  private static final class Watch {
    final long dueAt;
    boolean checked;
    boolean inCall;

    Watch(long dueAt) {
      this.dueAt = dueAt;
    }
  }

  // ---- webhooks ----

  /** {@code call_started}, in the transaction that placed the call: it rings. */
  private Future<Call> started(SqlConnection conn, Call call) {
    return outbox().add(conn, Outbox.CALL_STARTED, Outbox.conversation(call.conversationId()), callData(call))
      .map(call);
  }

  /** {@code call_ended}, in the transaction that ended the call (null: nothing changed). */
  private Future<Call> ended(SqlConnection conn, Call call) {
    return call == null ? Future.succeededFuture() : ended(conn, List.of(call)).map(call);
  }

  private Future<List<Call>> ended(SqlConnection conn, List<Call> ended) {
    List<Outbox.Event> events = new ArrayList<>(ended.size());
    for (Call c : ended) {
      events.add(new Outbox.Event(Outbox.CALL_ENDED, Outbox.conversation(c.conversationId()), endedData(c)));
    }
    return outbox().addAll(conn, events).map(ended);
  }

  private static JsonObject callData(Call c) {
    return new JsonObject()
      .put("callId", c.id().toString())
      .put("conversationId", c.conversationId().toString())
      .put("callerId", c.callerId())
      .put("calleeId", c.calleeId())
      .put("media", c.media())
      .put("startedAt", io.switchboard.store.Db.timestamp(c.startedAt()));
  }

  /**
   * {@code call_ended {callId, conversationId, outcome, durationSeconds, …}}: the outcome is
   * {@code ended} (answered, then hung up), {@code cancelled}, {@code dropped}, {@code declined},
   * {@code missed} or {@code busy}; the duration counts talk time only (0 when never answered).
   */
  static JsonObject endedData(Call c) {
    String outcome = switch (c.state()) {
      case "declined" -> DECLINED;
      case "missed" -> MISSED;
      case "busy" -> "busy";
      default -> c.endReason() == null ? ENDED : c.endReason();
    };
    long ms = c.durationMs() == null ? 0 : Math.max(0, c.durationMs());
    return callData(c)
      .put("outcome", outcome)
      .put("reason", c.endReason())
      .put("durationSeconds", Math.round(ms / 1000.0))
      .put("answeredAt", io.switchboard.store.Db.timestamp(c.answeredAt()))
      .put("endedAt", io.switchboard.store.Db.timestamp(c.endedAt()));
  }

  // ---- helpers ----

  /** Publishes an event that every connection of the user gets except {@code connectionId} (null: all). */
  private void publishExcept(String address, String type, JsonObject payload, String connectionId) {
    JsonObject envelope = Envelope.of(type, payload).toJson();
    if (connectionId != null) {
      envelope.put(Envelope.EXCEPT, connectionId);
    }
    Events.publish(vertx.eventBus(), address, envelope);
  }

  private static UUID callId(JsonObject p) {
    return Fields.uuid(Fields.requiredString(p, "callId", MAX_ID), "call");
  }

  /** The SDP, relayed untouched: any non-empty string up to {@code limits.messageBytes}. */
  private String sdp(JsonObject p) {
    String sdp = Fields.requiredString(p, "sdp", Integer.MAX_VALUE);
    if (sdp.getBytes(StandardCharsets.UTF_8).length > limits.messageBytes()) {
      throw ServiceException.tooLarge("'sdp' is larger than " + limits.messageBytes() + " bytes");
    }
    return sdp;
  }

  private static void requireParty(Call call, String userId) {
    if (call == null) {
      throw ServiceException.notFound("no such call");
    }
    if (!call.isParty(userId)) {
      throw ServiceException.forbidden("not a party to this call");
    }
  }

  private static void requireState(Call call, String state) {
    if (!state.equals(call.state())) {
      throw new ServiceException(ErrorCode.CONFLICT, "the call is " + call.state());
    }
  }

  /** Under the row lock the conditional update cannot miss; if it does, say so rather than guess. */
  private static Call changed(Call call) {
    if (call == null) {
      throw new ServiceException(ErrorCode.CONFLICT, "the call changed meanwhile; try again");
    }
    return call;
  }
}
