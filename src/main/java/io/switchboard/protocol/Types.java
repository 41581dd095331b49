package io.switchboard.protocol;

import java.util.Set;

/** Envelope type names of SPEC §3–§5: commands, their replies, and server events. */
public final class Types {

  // Commands (client -> server)
  public static final String LOAD_CONVERSATIONS = "load_conversations";
  public static final String GET_CONVERSATION = "get_conversation";
  public static final String CREATE_CONVERSATION = "create_conversation";
  public static final String CREATE_GROUP = "create_group";
  public static final String JOIN_GROUP = "join_group";
  public static final String JOIN_CONVERSATION = "join_conversation";
  public static final String LEAVE_CONVERSATION = "leave_conversation";
  public static final String SEND_MESSAGE = "send_message";
  public static final String LOAD_MESSAGES = "load_messages";
  public static final String LOAD_MORE_MESSAGES = "load_more_messages";
  public static final String MARK_READ = "mark_read";
  public static final String TYPING_START = "typing_start";
  public static final String TYPING_STOP = "typing_stop";
  public static final String SUBSCRIBE = "subscribe";
  public static final String UNSUBSCRIBE = "unsubscribe";
  public static final String PING = "ping";
  public static final String AUTH = "auth";
  public static final String RESUME = "resume";
  public static final String CALL_OFFER = "call_offer";
  public static final String CALL_ANSWER = "call_answer";
  public static final String CALL_DECLINE = "call_decline";
  public static final String CALL_END = "call_end";
  public static final String ICE_CANDIDATE = "ice_candidate";
  public static final String GET_CALL = "get_call";
  public static final String GET_ICE_SERVERS = "get_ice_servers";
  // SPEC §3b: message lifecycle, threads, search, status and roles
  public static final String EDIT_MESSAGE = "edit_message";
  public static final String DELETE_MESSAGE = "delete_message";
  public static final String REACT = "react";
  public static final String LOAD_THREAD = "load_thread";
  public static final String SEARCH_MESSAGES = "search_messages";
  public static final String SET_STATUS = "set_status";
  /** Not in the specification's table: {@code GET /api/presence} as a command. */
  public static final String GET_PRESENCE = "get_presence";
  /** Not in the specification's table: {@code GET /api/conversations/{id}/presence} as a command. */
  public static final String GET_CONVERSATION_PRESENCE = "get_conversation_presence";
  public static final String UPDATE_CONVERSATION = "update_conversation";
  public static final String SET_ROLE = "set_role";
  public static final String REMOVE_MEMBER = "remove_member";
  public static final String ROTATE_INVITE = "rotate_invite";
  public static final String MUTE = "mute";

  // Replies and events (server -> client)
  public static final String CONVERSATIONS_LOADED = "conversations_loaded";
  public static final String CONVERSATION_CREATED = "conversation_created";
  public static final String CONVERSATION_JOINED = "conversation_joined";
  public static final String CONVERSATION_LEFT = "conversation_left";
  public static final String CONVERSATION = "conversation";
  public static final String MESSAGE_SENT = "message_sent";
  public static final String MESSAGE_RECEIVED = "message_received";
  public static final String MESSAGES_LOADED = "messages_loaded";
  public static final String MEMBER_JOINED = "member_joined";
  public static final String MEMBER_LEFT = "member_left";
  public static final String RECEIPT = "receipt";
  public static final String TYPING_UPDATE = "typing_update";
  public static final String USER_ONLINE = "user_online";
  public static final String USER_OFFLINE = "user_offline";
  public static final String SUBSCRIBED = "subscribed";
  public static final String UNSUBSCRIBED = "unsubscribed";
  public static final String PONG = "pong";
  public static final String ACK = "ack";
  public static final String ERROR = "error";
  public static final String CONNECTED = "connected";
  public static final String AUTH_SUCCESS = "auth_success";
  public static final String AUTH_ERROR = "auth_error";
  public static final String TOKEN_EXPIRED = "token_expired";
  public static final String RECONNECT = "reconnect";
  /** The server ended the connection for good (admin disconnect, revoked token): {@code {reason, reconnect:false}}. */
  public static final String DISCONNECT = "disconnect";
  public static final String RESYNC_REQUIRED = "resync_required";
  public static final String CALL_RINGING = "call_ringing";
  public static final String CALL_ACCEPTED = "call_accepted";
  public static final String CALL_BUSY = "call_busy";
  public static final String CALL = "call";
  public static final String ICE_SERVERS = "ice_servers";
  public static final String MESSAGE_EDITED = "message_edited";
  public static final String MESSAGE_DELETED = "message_deleted";
  public static final String REACTION_UPDATED = "reaction_updated";
  public static final String SEARCH_RESULTS = "search_results";
  public static final String PRESENCE_CHANGED = "presence_changed";
  /** Reply of {@code get_presence}: {@code {users:[...]}}. */
  public static final String PRESENCE = "presence";
  /** Reply of {@code get_conversation_presence}: {@code {conversationId, onlineUsers:[...]}}. */
  public static final String CONVERSATION_PRESENCE = "conversation_presence";
  public static final String CONVERSATION_UPDATED = "conversation_updated";

  /** Internal, never sent to clients: apply a topic subscription to every open stream of a user. */
  public static final String STREAMS_SUBSCRIBE = "~subscribe";
  /** Internal, never sent to clients: drop a topic subscription from every open stream of a user. */
  public static final String STREAMS_UNSUBSCRIBE = "~unsubscribe";

  /** Commands a client may send over WebSocket or a bridge and that a service answers. */
  public static final Set<String> FORWARDED = Set.of(
    LOAD_CONVERSATIONS, GET_CONVERSATION, CREATE_CONVERSATION, CREATE_GROUP, JOIN_GROUP, SEND_MESSAGE,
    LOAD_MESSAGES, LOAD_MORE_MESSAGES, MARK_READ, TYPING_START, TYPING_STOP, CALL_OFFER, CALL_ANSWER,
    CALL_DECLINE, CALL_END, ICE_CANDIDATE, GET_CALL, GET_ICE_SERVERS, EDIT_MESSAGE, DELETE_MESSAGE, REACT,
    LOAD_THREAD, SEARCH_MESSAGES, SET_STATUS, GET_PRESENCE, GET_CONVERSATION_PRESENCE, UPDATE_CONVERSATION, SET_ROLE,
    REMOVE_MEMBER, ROTATE_INVITE, MUTE);

  /** Names a backend may not use as a published event name (SPEC §6). */
  public static final Set<String> RESERVED = Set.of(
    LOAD_CONVERSATIONS, GET_CONVERSATION, CREATE_CONVERSATION, CREATE_GROUP, JOIN_GROUP, JOIN_CONVERSATION,
    LEAVE_CONVERSATION, SEND_MESSAGE, LOAD_MESSAGES, LOAD_MORE_MESSAGES, MARK_READ, TYPING_START,
    TYPING_STOP, SUBSCRIBE, UNSUBSCRIBE, PING, AUTH, RESUME, CALL_OFFER, CALL_ANSWER, CALL_DECLINE,
    CALL_END, ICE_CANDIDATE, CONVERSATIONS_LOADED, CONVERSATION_CREATED, CONVERSATION_JOINED,
    CONVERSATION_LEFT, CONVERSATION, MESSAGE_SENT, MESSAGE_RECEIVED, MESSAGES_LOADED, MEMBER_JOINED,
    MEMBER_LEFT, RECEIPT, TYPING_UPDATE, USER_ONLINE, USER_OFFLINE, SUBSCRIBED, UNSUBSCRIBED, PONG, ACK,
    ERROR, CONNECTED, AUTH_SUCCESS, AUTH_ERROR, TOKEN_EXPIRED, RECONNECT, DISCONNECT, RESYNC_REQUIRED, CALL_RINGING,
    CALL_ACCEPTED, CALL_BUSY, CALL, ICE_SERVERS, GET_CALL, GET_ICE_SERVERS, EDIT_MESSAGE, DELETE_MESSAGE, REACT,
    LOAD_THREAD, SEARCH_MESSAGES, SET_STATUS, GET_PRESENCE, GET_CONVERSATION_PRESENCE, UPDATE_CONVERSATION, SET_ROLE,
    REMOVE_MEMBER, ROTATE_INVITE, MUTE, MESSAGE_EDITED, MESSAGE_DELETED, REACTION_UPDATED, SEARCH_RESULTS,
    PRESENCE_CHANGED, PRESENCE, CONVERSATION_PRESENCE, CONVERSATION_UPDATED);

  private Types() {
  }
}
