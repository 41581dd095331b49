// Type declarations for switchboard.js (the Switchboard browser client). See docs/CLIENT.md.

export declare const VERSION: string;
export declare const DURABLE_EVENTS: Set<string>;
export declare const TRANSPORTS: TransportKind[];

export type TransportKind = 'websocket' | 'sse' | 'poll';
export type ConnectionState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'offline';

/** Server codes (SPEC §2, plus outcome_unknown) and the client's own (timeout, disconnected, network). */
export type ErrorCode =
  | 'invalid_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'too_large'
  | 'rate_limited' | 'unavailable' | 'internal' | 'outcome_unknown'
  | 'timeout' | 'disconnected' | 'network';

export declare class SwitchboardError extends Error {
  constructor(code: ErrorCode, message?: string, extra?: { status?: number; retryAfterMs?: number; requestId?: string; type?: string });
  readonly code: ErrorCode;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  /** The reply type: 'error' or 'auth_error'. */
  readonly type?: string;
  /** True when trying again later may succeed. */
  readonly retryable: boolean;
  /** True when the command may have taken effect although no success came back (outcome_unknown, timeout). */
  readonly outcomeUnknown: boolean;
}

export interface Status {
  state: ConnectionState;
  transport: TransportKind | null;
  /** The cluster id of the node the connection is on. */
  node: string | null;
  url: string | null;
  attempt: number;
  /** When the next attempt is due (epoch ms), while reconnecting. */
  retryAt: number | null;
  retryInMs: number | null;
  error: string | null;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface SwitchboardOptions {
  /** One node URL (default: the page's origin). */
  url?: string;
  /** Several node URLs; the client moves to the next one when a node fails or goes away. */
  urls?: string[];
  token?: string;
  getToken?: () => Promise<string>;
  /** Called before the token expires and on token_expired / 401; returns a new token. */
  refreshToken?: (reason: 'expiring' | 'token_expired' | 'unauthorized' | 'manual') => Promise<string | null | undefined>;
  /** Force one transport, or 'auto' (default): WebSocket, then SSE + REST, then long-poll. */
  transport?: 'auto' | TransportKind;
  transports?: TransportKind[];
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  probeTimeoutMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  pollTimeoutSeconds?: number;
  refreshBeforeExpiryMs?: number;
  typingIntervalMs?: number;
  typingIdleMs?: number;
  ringTimeoutMs?: number;
  /** Keeps the cursor and the outbox across page loads (e.g. localStorage). Needs token or userId. */
  storage?: StorageLike | null;
  storageKey?: string;
  userId?: string;
  /** Injection points (tests, other runtimes). */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
  RTCPeerConnection?: typeof RTCPeerConnection;
  mediaDevices?: Pick<MediaDevices, 'getUserMedia'>;
  random?: () => number;
}

export interface Envelope<P = any> {
  type: string;
  payload: P;
  requestId?: string;
  timestamp?: string;
}

export interface Member { userId: string; role: string; name?: string | null; lastSeenAt?: string | null }

export interface Conversation {
  id: string;
  type: 'direct' | 'group';
  name?: string;
  inviteCode?: string;
  members: Member[];
  lastSeq: number;
  lastReadSeq: number;
  unreadCount: number;
  createdAt: string;
  updatedAt?: string;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  kind: string;
  content: string | Record<string, unknown>;
  replyTo?: number;
  threadId?: string;
  clientMessageId?: string;
  createdAt: string;
}

export interface OutboxItem {
  conversationId: string;
  content: string | Record<string, unknown>;
  clientMessageId: string;
  kind?: string;
  replyTo?: number;
  threadId?: string;
  queuedAt: string;
}

export interface Receipt { conversationId: string; userId: string; seq: number; unreadCount?: number }
export interface PresenceState { userId: string; online: boolean; lastSeenAt?: string; status?: string; text?: string }

export interface ClientEvents {
  status: (status: Status) => void;
  connected: (connected: { userId: string; sessionId: string; cursor: string; node: string; heartbeatSeconds: number; transport: TransportKind }) => void;
  event: (envelope: Envelope) => void;
  message: (message: Message) => void;
  sent: (message: Message) => void;
  outbox: (items: OutboxItem[]) => void;
  typing: (update: { conversationId: string; userIds: string[] }) => void;
  presence: (state: PresenceState) => void;
  receipt: (receipt: Receipt) => void;
  resync: (payload: { reason?: string; reset?: boolean }) => void;
  conversations: (list: Conversation[]) => void;
  incomingcall: (call: Call) => void;
  fallback: (change: { from: TransportKind; to: TransportKind; reason?: string }) => void;
  token: (token: string) => void;
  error: (error: SwitchboardError | Error) => void;
}

export declare class Emitter<E extends Record<string, (...args: any[]) => void> = Record<string, (...args: any[]) => void>> {
  on<K extends keyof E & string>(type: K, fn: E[K]): () => void;
  on(type: string, fn: (payload: any, envelope?: Envelope) => void): () => void;
  once<K extends keyof E & string>(type: K, fn: E[K]): () => void;
  once(type: string, fn: (payload: any, envelope?: Envelope) => void): () => void;
  off(type: string, fn: (...args: any[]) => void): void;
  emit(type: string, ...args: any[]): void;
}

export declare class Switchboard extends Emitter<ClientEvents> {
  constructor(options?: SwitchboardOptions);
  readonly options: Required<Omit<SwitchboardOptions, 'url' | 'urls' | 'token' | 'getToken' | 'refreshToken' | 'userId'>> & SwitchboardOptions;
  readonly urls: string[];
  userId: string | null;
  readonly status: Status;
  /** The resume cursor, or null before the first connection. */
  readonly cursor: string | null;
  readonly transport: TransportKind | null;
  readonly outbox: OutboxItem[];
  readonly calls: Call[];

  connect(): Promise<Status>;
  close(): void;
  reconnect(): void;
  whenLive(timeoutMs?: number): Promise<Status>;

  request<P = any>(type: string, payload?: object, options?: { timeoutMs?: number }): Promise<P>;
  requestEnvelope<P = any>(type: string, payload?: object, options?: { timeoutMs?: number }): Promise<{ type: string; payload: P }>;

  conversations(): Promise<Conversation[]>;
  conversation(conversationId: string): Promise<Conversation>;
  createGroup(name: string, participantIds?: string[]): Promise<Conversation>;
  createDirect(userId: string): Promise<Conversation>;
  joinGroup(inviteCode: string): Promise<Conversation>;
  leaveGroup(conversationId: string): Promise<{ conversationId: string; seq: number }>;
  messages(conversationId: string, page?: { before?: number; after?: number; limit?: number }): Promise<Message[]>;
  messagesSince(conversationId: string, afterSeq: number, options?: { limit?: number; max?: number }): Promise<Message[]>;
  reloadHistory(options?: { limit?: number }): Promise<Conversation[]>;
  send(conversationId: string, content: string | Record<string, unknown>,
       options?: { kind?: string; replyTo?: number; threadId?: string; clientMessageId?: string }): Promise<Message>;
  discard(clientMessageId: string): void;
  markRead(conversationId: string, seq: number): Promise<Receipt>;
  lastSeq(conversationId: string): number;

  joinConversation(conversationId: string): Promise<void>;
  leaveConversation(conversationId: string): Promise<void>;
  subscribe(topics: string[]): Promise<void>;
  unsubscribe(topics: string[]): Promise<void>;
  typing(conversationId: string): void;
  stopTyping(conversationId: string): void;
  presence(userId: string): PresenceState | undefined;
  loadPresence(userIds: string[]): Promise<PresenceState[]>;

  setToken(token: string): Promise<void>;
  refreshToken(reason?: string): Promise<boolean>;

  iceServers(): Promise<RTCIceServer[]>;
  call(conversationId: string, options?: { media?: 'audio' | 'video'; calleeId?: string; localStream?: MediaStream }): Promise<Call>;
}

export type CallState = 'new' | 'ringing' | 'active' | 'ended' | 'declined' | 'missed' | 'busy';

export interface CallEvents {
  state: (state: CallState) => void;
  remotestream: (stream: MediaStream) => void;
  connectionstatechange: (state: RTCPeerConnectionState) => void;
  ended: (info: { reason: string }) => void;
  error: (error: Error) => void;
}

export declare class Call extends Emitter<CallEvents> {
  readonly client: Switchboard;
  callId: string | null;
  readonly conversationId: string;
  peerId: string | null;
  readonly media: 'audio' | 'video';
  direction: 'incoming' | 'outgoing';
  state: CallState;
  /** Why it ended: ended, cancelled, declined, missed, busy, answered_elsewhere, declined_elsewhere, dropped, failed. */
  endReason: string | null;
  pc: RTCPeerConnection | null;
  localStream: MediaStream | null;
  remoteStream: MediaStream | null;
  readonly connectionState: RTCPeerConnectionState | 'new';
  readonly ended: boolean;
  accept(options?: { localStream?: MediaStream }): Promise<void>;
  decline(reason?: string): Promise<void>;
  hangup(reason?: string): Promise<void>;
}

export declare class Cursor {
  constructor(sessionId: string, positions?: Map<string, number>);
  sessionId: string;
  positions: Map<string, number>;
  static prefix(conversationId: string): string;
  static parse(text: string | null | undefined): Cursor | null;
  advance(conversationId: string, seq: number): void;
  merged(other: Cursor | null | undefined): Cursor;
  toString(): string;
}

export declare class SseParser {
  constructor(handlers: {
    onEvent: (event: { event: string; data: string; id?: string }) => void;
    onComment?: (text: string) => void;
    onRetry?: (ms: number) => void;
  });
  push(chunk: string): void;
}

export declare function backoffDelay(attempt: number, options?: { baseMs?: number; maxMs?: number }, random?: () => number): number;
export declare function parseRetryDelay(text: string | null | undefined): number | null;
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number | null;
export declare function decodeJwt(token: string): Record<string, any> | null;
export declare function restRoute(type: string, payload?: object): [string, string, object?] | null;
export declare function devToken(baseUrl: string, userId: string, name?: string, fetchImpl?: typeof fetch): Promise<string>;

export default Switchboard;
