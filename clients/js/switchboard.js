/**
 * Switchboard browser client: one ES module, no dependencies, no build step.
 *
 * Transports WebSocket → SSE + REST → long-poll (automatic or forced), a list of node URLs,
 * reconnection with full-jitter backoff, a resume cursor kept across reconnects on any node,
 * requests as promises, an outbox that sends each message exactly once, typing, presence,
 * receipts, topics, WebRTC calls and token refresh. See docs/CLIENT.md.
 */

export const VERSION = '0.1.0';

/** Timeline events: they carry conversationId and seq, are replayed on resume and advance the cursor. */
export const DURABLE_EVENTS = new Set([
  'message_received', 'member_joined', 'member_left',
  'message_edited', 'message_deleted', 'reaction_updated', 'conversation_updated',
]);

/** The transports, best first. */
export const TRANSPORTS = ['websocket', 'sse', 'poll'];

const DEFAULTS = {
  transport: 'auto',
  transports: TRANSPORTS,
  requestTimeoutMs: 20000,
  connectTimeoutMs: 15000,
  probeTimeoutMs: 4000,
  backoff: { baseMs: 500, maxMs: 30000 },
  pingIntervalMs: 25000,
  pongTimeoutMs: 10000,
  pollTimeoutSeconds: 25,
  refreshBeforeExpiryMs: 60000,
  typingIntervalMs: 2500,
  typingIdleMs: 4000,
  ringTimeoutMs: 45000,
  storage: null,
  storageKey: 'switchboard',
};

/** Codes whose command may be retried as it is (sends keep their clientMessageId). */
const RETRYABLE = new Set(['unavailable', 'outcome_unknown', 'rate_limited', 'timeout', 'disconnected', 'network']);

const STATUS_CODES = {
  400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  413: 'too_large', 429: 'rate_limited', 500: 'internal', 503: 'unavailable', 504: 'outcome_unknown',
};

/**
 * A failed request or connection. `code` is one of the server's codes (SPEC §2, plus
 * `outcome_unknown`: the command may or may not have happened) or a client-side one:
 * `timeout` (no reply in time: also outcome unknown), `disconnected`, `network`.
 */
export class SwitchboardError extends Error {
  constructor(code, message, { status, retryAfterMs, requestId, type } = {}) {
    super(message || code);
    this.name = 'SwitchboardError';
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
    this.requestId = requestId;
    this.type = type;
  }

  /** True when trying again later may succeed (a send retried with its clientMessageId stays one message). */
  get retryable() {
    return RETRYABLE.has(this.code);
  }

  /** True when the command may have taken effect although no success came back. */
  get outcomeUnknown() {
    return this.code === 'outcome_unknown' || this.code === 'timeout';
  }
}

/** Full-jitter exponential backoff: a random delay in [0, min(maxMs, baseMs * 2^attempt)). */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 30000 } = {}, random = Math.random) {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * The delay a close 1013 (or any "try again" text) asks for, in ms, or null. Understands
 * "1500", "retry in 1500 ms", "retryAfterMs=1500", "try again in 2 s", "2.5s".
 */
export function parseRetryDelay(text) {
  if (text == null) return null;
  const m = /(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)?\b/i.exec(String(text));
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] || '').toLowerCase();
  if (unit.startsWith('s')) return Math.round(n * 1000);
  return Math.round(n);
}

/** `Retry-After` (seconds or an HTTP date) in ms, or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The claims of a JWT (not verified: only to read `sub` and `exp`), or null. */
export function decodeJwt(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * A resume cursor: `<sessionId>.<p>:<seq>,...` where p is the first 8 hex digits of a
 * conversation id (docs/PROTOCOL.md). Positions only move forward.
 */
export class Cursor {
  constructor(sessionId, positions = new Map()) {
    this.sessionId = sessionId;
    this.positions = new Map(positions);
  }

  static prefix(conversationId) {
    return String(conversationId).replace(/-/g, '').slice(0, 8);
  }

  /** Parses a cursor text; null when it is not one. */
  static parse(text) {
    if (typeof text !== 'string') return null;
    const dot = text.indexOf('.');
    if (dot <= 0) return null;
    const positions = new Map();
    const rest = text.slice(dot + 1);
    if (rest) {
      for (const entry of rest.split(',')) {
        const m = /^([0-9a-f]{8}):(\d{1,18})$/.exec(entry);
        if (!m) return null;
        positions.set(m[1], Math.max(positions.get(m[1]) ?? 0, Number(m[2])));
      }
    }
    return new Cursor(text.slice(0, dot), positions);
  }

  /** Records that `seq` of a conversation was delivered (never moves back). */
  advance(conversationId, seq) {
    const p = Cursor.prefix(conversationId);
    const known = this.positions.get(p);
    if (known === undefined || seq > known) this.positions.set(p, seq);
  }

  /** A copy whose positions are the greater of both. */
  merged(other) {
    const c = new Cursor(this.sessionId, this.positions);
    if (other) for (const [p, s] of other.positions) if (!(c.positions.get(p) >= s)) c.positions.set(p, s);
    return c;
  }

  toString() {
    return this.sessionId + '.' + [...this.positions].map(([p, s]) => `${p}:${s}`).join(',');
  }
}

/**
 * Incremental `text/event-stream` parser (the WHATWG rules): feed it text chunks; it calls
 * `onEvent({event, data, id})`, `onComment(text)` and `onRetry(ms)`.
 */
export class SseParser {
  constructor({ onEvent, onComment = () => {}, onRetry = () => {} }) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.onRetry = onRetry;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.event = '';
    this.data = [];
    this.id = undefined;
  }

  push(chunk) {
    this.buffer += chunk;
    let start = 0;
    for (;;) {
      const nl = this.buffer.slice(start).search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const end = start + nl;
      // A lone \r at the end of a chunk may be half of \r\n: wait for the next chunk.
      if (this.buffer[end] === '\r' && end + 1 === this.buffer.length) break;
      const line = this.buffer.slice(start, end);
      start = end + (this.buffer.startsWith('\r\n', end) ? 2 : 1);
      this.line(line);
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) {
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/** A small event emitter: `on` returns a function that removes the listener. */
export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  once(type, fn) {
    const off = this.on(type, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  off(type, fn) {
    this._listeners.get(type)?.delete(fn);
  }

  emit(type, ...args) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (e) {
        setTimeout(() => { throw e; });
      }
    }
  }
}

/**
 * The REST route of a command for the transports without a command channel (SSE, long-poll):
 * `[method, path, body?]`, or null when the command has no REST form.
 */
export function restRoute(type, payload = {}) {
  const p = { ...payload };
  const enc = encodeURIComponent;
  const cid = p.conversationId != null ? enc(p.conversationId) : '';
  const without = (...keys) => {
    const o = { ...p };
    for (const k of keys) delete o[k];
    return o;
  };
  const query = (keys) => {
    const q = keys.filter((k) => p[k] != null && p[k] !== '').map((k) => `${k}=${enc(p[k])}`);
    return q.length ? '?' + q.join('&') : '';
  };
  switch (type) {
    case 'load_conversations': return ['GET', '/api/conversations'];
    case 'get_conversation': return ['GET', `/api/conversations/${cid}`];
    case 'create_conversation': return ['POST', '/api/conversations', p];
    case 'create_group': return ['POST', '/api/groups', p];
    case 'join_group': return ['POST', '/api/groups/join', p];
    case 'leave_conversation': return p.membership ? ['POST', `/api/conversations/${cid}/leave`, {}] : null;
    case 'send_message': return ['POST', `/api/conversations/${cid}/messages`, without('conversationId')];
    case 'load_messages':
    case 'load_more_messages': return ['GET', `/api/conversations/${cid}/messages${query(['before', 'after', 'limit'])}`];
    case 'mark_read': return ['POST', `/api/conversations/${cid}/read`, { seq: p.seq }];
    case 'typing_start': return ['POST', `/api/conversations/${cid}/typing`, { state: 'start' }];
    case 'typing_stop': return ['POST', `/api/conversations/${cid}/typing`, { state: 'stop' }];
    case 'call_offer': return ['POST', '/api/calls/offer', p];
    case 'call_answer': return ['POST', '/api/calls/answer', p];
    case 'call_decline': return ['POST', '/api/calls/decline', p];
    case 'call_end': return ['POST', '/api/calls/end', p];
    case 'ice_candidate': return ['POST', '/api/calls/ice-candidate', p];
    case 'get_call': return ['GET', `/api/calls/${enc(p.callId)}`];
    case 'get_ice_servers': return ['GET', '/api/calls/ice-servers'];
    case 'ping': return ['GET', '/api/health'];
    // SPEC §3b, for nodes that have them.
    case 'edit_message': return ['PATCH', `/api/conversations/${cid}/messages/${enc(p.messageId)}`, { content: p.content }];
    case 'delete_message': return ['DELETE', `/api/conversations/${cid}/messages/${enc(p.messageId)}`];
    case 'react': return [p.on === false ? 'DELETE' : 'PUT',
      `/api/conversations/${cid}/messages/${enc(p.messageId)}/reactions/${enc(p.emoji)}`];
    case 'load_thread': return ['GET',
      `/api/conversations/${cid}/threads/${enc(p.threadId)}/messages${query(['before', 'after', 'limit'])}`];
    case 'search_messages': return ['GET', `/api/search${query(['q', 'conversationId', 'limit', 'cursor'])}`];
    case 'set_status': return ['PUT', '/api/presence/me', p];
    case 'update_conversation': return ['PATCH', `/api/conversations/${cid}`, without('conversationId')];
    case 'set_role': return ['PUT', `/api/conversations/${cid}/members/${enc(p.userId)}`, { role: p.role }];
    case 'remove_member': return ['DELETE', `/api/conversations/${cid}/members/${enc(p.userId)}`];
    case 'rotate_invite': return ['POST', `/api/conversations/${cid}/invite-code`, {}];
    case 'mute': return ['PUT', `/api/conversations/${cid}/mute`, { muted: p.muted }];
    default: return null;
  }
}

/** Mints a development token (`auth.devTokens` must be on). */
export async function devToken(baseUrl, userId, name, fetchImpl = globalThis.fetch) {
  const res = await fetchImpl(trimSlash(baseUrl) + '/api/auth/dev-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(name ? { userId, name } : { userId }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw errorFromBody(res.status, body, res.headers);
  return body.token;
}

function trimSlash(url) {
  return String(url).replace(/\/+$/, '');
}

function errorFromBody(status, body, headers) {
  const e = body && body.error ? body.error : {};
  const code = e.code || STATUS_CODES[status] || (status >= 500 ? 'unavailable' : 'invalid_request');
  return new SwitchboardError(code, e.message || `HTTP ${status}`, {
    status,
    retryAfterMs: parseRetryAfter(headers && headers.get ? headers.get('Retry-After') : null) ?? undefined,
  });
}

function randomId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  return 'id-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
}

// ---------------------------------------------------------------------------------------------
// Transports. Each one reports to its client through _opened, _envelope, _heartbeat and _closed;
// the client ignores reports from a transport that is no longer its current one.

class WebSocketTransport {
  constructor(client, baseUrl, cursor) {
    this.kind = 'websocket';
    this.client = client;
    this.baseUrl = baseUrl;
    this.cursor = cursor;
  }

  async open() {
    const token = await this.client._tokenNow();
    if (this.closed) return;
    const url = trimSlash(this.baseUrl).replace(/^http/, 'ws') + '/api/ws' +
      (this.cursor ? '?cursor=' + encodeURIComponent(this.cursor) : '');
    let ws;
    try {
      ws = new this.client._WebSocket(url);
    } catch (e) {
      this.client._closed(this, { reason: String(e), network: true });
      return;
    }
    this.ws = ws;
    // The token goes in a first auth envelope, never in the URL (URLs end up in logs).
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', payload: { token }, requestId: 'auth' }));
    ws.onmessage = (e) => {
      let env;
      try {
        env = JSON.parse(e.data);
      } catch {
        return;
      }
      if (env.type === 'auth_success' && env.requestId === 'auth') return;
      this.client._envelope(this, env);
    };
    ws.onclose = (e) => this.client._closed(this, { code: e.code, reason: e.reason, network: e.code === 1006 });
    ws.onerror = () => {};
  }

  send(envelope) {
    if (!this.ws || this.ws.readyState !== 1) throw new SwitchboardError('disconnected', 'not connected');
    this.ws.send(JSON.stringify(envelope));
  }

  close(code = 1000, reason = 'client') {
    this.closed = true;
    try {
      this.ws && this.ws.close(code, reason);
    } catch {
      /* already closed */
    }
  }
}

class SseTransport {
  constructor(client, baseUrl, cursor, rooms, topics) {
    this.kind = 'sse';
    this.client = client;
    this.baseUrl = baseUrl;
    this.cursor = cursor;
    this.rooms = rooms;
    this.topics = topics;
    this.abort = new AbortController();
  }

  async open() {
    const token = await this.client._tokenNow();
    if (this.closed) return;
    const q = [];
    if (this.rooms.length) q.push('rooms=' + this.rooms.map(encodeURIComponent).join(','));
    if (this.topics.length) q.push('topics=' + this.topics.map(encodeURIComponent).join(','));
    const headers = { Accept: 'text/event-stream', Authorization: 'Bearer ' + token };
    if (this.cursor) headers['Last-Event-ID'] = this.cursor;
    const url = trimSlash(this.baseUrl) + '/api/events' + (q.length ? '?' + q.join('&') : '');
    let res;
    try {
      res = await this.client._fetch(url, { headers, signal: this.abort.signal, cache: 'no-store' });
    } catch (e) {
      if (!this.closed) this.client._closed(this, { reason: String(e), network: true });
      return;
    }
    if (res.status !== 200) {
      const body = await res.json().catch(() => ({}));
      const err = errorFromBody(res.status, body, res.headers);
      this.client._closed(this, {
        status: res.status,
        code: res.status === 401 ? 4401 : undefined,
        reason: err.message,
        retryAfterMs: err.retryAfterMs,
        network: res.status >= 500 && res.status !== 503,
      });
      return;
    }
    let retryAfterMs;
    const parser = new SseParser({
      onEvent: ({ event, data, id }) => {
        let env;
        try {
          env = JSON.parse(data);
        } catch {
          return;
        }
        if (!env.type) env.type = event;
        // SPEC §7's "try again": an unavailable error, then the end of the stream.
        if (env.type === 'error' && env.payload && env.payload.code === 'unavailable' && !env.requestId) {
          retryAfterMs = env.payload.retryAfterMs ?? retryAfterMs;
        }
        if (id) this.lastId = id;
        this.client._envelope(this, env, id);
      },
      onComment: () => this.client._heartbeat(this),
      onRetry: (ms) => {
        this.retryMs = ms;
      },
    });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.client._bytes(this);
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (e) {
      if (!this.closed) this.client._closed(this, { reason: String(e), network: true, retryAfterMs });
      return;
    }
    if (!this.closed) this.client._closed(this, { reason: 'end of stream', retryAfterMs, ended: true });
  }

  close() {
    this.closed = true;
    this.abort.abort();
  }
}

class PollTransport {
  constructor(client, baseUrl, cursor, rooms, topics) {
    this.kind = 'poll';
    this.client = client;
    this.baseUrl = baseUrl;
    this.cursor = cursor;
    this.rooms = rooms;
    this.topics = topics;
  }

  async open() {
    let first = true;
    while (!this.closed) {
      const token = await this.client._tokenNow();
      if (this.closed) return;
      // The first poll is short: it proves the way through and, with a cursor, brings what was
      // missed; waiting for a live event there would hold the connection as not yet open.
      const q = [`timeout=${first ? 1 : this.client.options.pollTimeoutSeconds}`];
      if (this.cursor) q.push('cursor=' + encodeURIComponent(this.cursor));
      if (this.rooms.length) q.push('rooms=' + this.rooms.map(encodeURIComponent).join(','));
      if (this.topics.length) q.push('topics=' + this.topics.map(encodeURIComponent).join(','));
      this.abort = new AbortController();
      const timer = setTimeout(() => this.abort.abort(), (this.client.options.pollTimeoutSeconds + 15) * 1000);
      let res;
      let body;
      try {
        res = await this.client._fetch(trimSlash(this.baseUrl) + '/api/events/poll?' + q.join('&'), {
          headers: { Authorization: 'Bearer ' + token },
          signal: this.abort.signal,
          cache: 'no-store',
        });
        body = await res.json().catch(() => ({}));
      } catch (e) {
        clearTimeout(timer);
        if (!this.closed) this.client._closed(this, { reason: String(e), network: true });
        return;
      } finally {
        clearTimeout(timer);
      }
      if (this.closed) return;
      if (res.status !== 200) {
        const err = errorFromBody(res.status, body, res.headers);
        this.client._closed(this, {
          status: res.status,
          code: res.status === 401 ? 4401 : undefined,
          reason: err.message,
          retryAfterMs: err.retryAfterMs,
          network: res.status >= 500 && res.status !== 503,
        });
        return;
      }
      const events = Array.isArray(body.events) ? body.events : [];
      if (first) {
        first = false;
        if (!events.some((e) => e.type === 'connected')) this.client._opened(this, null);
      }
      let reconnect = false;
      for (const env of events) {
        if (this.closed) return;
        if (env.type === 'reconnect') reconnect = true;
        this.client._envelope(this, env);
      }
      if (typeof body.cursor === 'string') {
        this.cursor = body.cursor;
        this.client._pollCursor(this, body.cursor);
      }
      if (reconnect) {
        this.client._closed(this, { reason: 'reconnect', reconnect: true });
        return;
      }
    }
  }

  close() {
    this.closed = true;
    this.abort && this.abort.abort();
  }
}

const TRANSPORT_CLASSES = { websocket: WebSocketTransport, sse: SseTransport, poll: PollTransport };

// ---------------------------------------------------------------------------------------------

/**
 * A connection to a Switchboard cluster. Events: `status`, `connected`, `event` (every server
 * envelope), each server event type, `message` (timeline messages, each once), `typing`,
 * `presence`, `receipt`, `resync`, `incomingcall`, `outbox`, `sent`, `token`, `error`.
 */
export class Switchboard extends Emitter {
  constructor(options = {}) {
    super();
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS, ...given, backoff: { ...DEFAULTS.backoff, ...(given.backoff || {}) } };
    const o = this.options;
    const here = globalThis.location && globalThis.location.origin;
    this.urls = (o.urls && o.urls.length ? o.urls : [o.url || here]).map(trimSlash);
    if (!this.urls[0]) throw new SwitchboardError('invalid_request', 'no node URL: give url or urls');
    this.kinds = o.transport && o.transport !== 'auto' ? [o.transport] : [...o.transports];
    for (const k of this.kinds) {
      if (!TRANSPORT_CLASSES[k]) throw new SwitchboardError('invalid_request', `unknown transport '${k}'`);
    }
    this._WebSocket = o.WebSocket || globalThis.WebSocket;
    this._fetchImpl = o.fetch || globalThis.fetch.bind(globalThis);
    this._random = o.random || Math.random;
    this._token = o.token || null;
    this.userId = o.userId || (this._token && (decodeJwt(this._token) || {}).sub) || null;
    this._urlIndex = 0;
    this._kindIndex = 0;
    this._attempt = 0;
    this._everLive = false;
    this._stopped = true;
    this._transport = null;
    this._pending = new Map();
    this._nextRequest = 1;
    this._liveWaiters = [];
    this._rooms = new Set();
    this._topics = new Set();
    this._seen = new Map();
    this._presence = new Map();
    this._calls = new Map();
    this._earlyCandidates = new Map();
    this._typing = new Map();
    this._outbox = [];
    this._outboxPromises = new Map();
    this._cursor = null;
    this._status = { state: 'idle', transport: null, node: null, url: null, attempt: 0, retryAt: null, error: null };
    this._loadStored();
    this._onOnline = () => {
      if (!this._stopped && this._status.state !== 'live' && this._status.state !== 'connecting') this._attemptNow();
    };
    this._onOffline = () => {
      if (!this._stopped && this._status.state !== 'live') this._setStatus({ state: 'offline', error: 'the browser is offline' });
    };
  }

  // ---- public state ----

  /** `{state: 'idle'|'connecting'|'live'|'reconnecting'|'offline', transport, node, url, attempt, retryAt, error}`. */
  get status() {
    return { ...this._status, retryInMs: this._status.retryAt ? Math.max(0, this._status.retryAt - Date.now()) : null };
  }

  /** The resume cursor (text), or null before the first connection. */
  get cursor() {
    return this._cursor ? this._cursor.toString() : null;
  }

  get transport() {
    return this._transport ? this._transport.kind : null;
  }

  /** Messages waiting to be sent: `[{conversationId, content, kind, clientMessageId, queuedAt}]`. */
  get outbox() {
    return this._outbox.map((i) => ({ ...i }));
  }

  /** `{online, lastSeenAt}` of a user, as last announced, or undefined. */
  presence(userId) {
    return this._presence.get(userId);
  }

  /** The highest seq delivered for a conversation (0 when none). */
  lastSeq(conversationId) {
    return this._seen.get(conversationId) || 0;
  }

  // ---- connecting ----

  /** Opens the connection (and keeps it open until close()). Resolves when live. */
  connect() {
    if (this._stopped) {
      this._stopped = false;
      this._attempt = 0;
      globalThis.addEventListener && globalThis.addEventListener('online', this._onOnline);
      globalThis.addEventListener && globalThis.addEventListener('offline', this._onOffline);
      this._start();
    }
    return this.whenLive();
  }

  /** Closes the connection for good (pending requests fail with `disconnected`). */
  close() {
    this._stopped = true;
    globalThis.removeEventListener && globalThis.removeEventListener('online', this._onOnline);
    globalThis.removeEventListener && globalThis.removeEventListener('offline', this._onOffline);
    clearTimeout(this._retryTimer);
    clearTimeout(this._refreshTimer);
    this._drop(new SwitchboardError('disconnected', 'closed by the client'));
    for (const t of this._typing.values()) clearTimeout(t.stopTimer);
    this._typing.clear();
    this._setStatus({ state: 'idle', retryAt: null });
    for (const w of this._liveWaiters) w.reject(new SwitchboardError('disconnected', 'closed by the client'));
    this._liveWaiters = [];
  }

  /** Resolves when the connection is live (at once if it is). */
  whenLive(timeoutMs) {
    if (this._status.state === 'live') return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      this._liveWaiters.push(w);
      if (timeoutMs != null) {
        w.timer = setTimeout(() => {
          this._liveWaiters = this._liveWaiters.filter((x) => x !== w);
          reject(new SwitchboardError('timeout', 'not connected in time'));
        }, timeoutMs);
      }
    });
  }

  /** Drops the current connection and reconnects at once, resuming by cursor (same node first). */
  reconnect() {
    if (this._stopped) return;
    this._drop(new SwitchboardError('disconnected', 'reconnecting'));
    this._attemptNow();
  }

  _start() {
    clearTimeout(this._retryTimer);
    this._status.retryAt = null;
    if (this._stopped) return;
    if (this._kindIndex > 0 && Date.now() - this._fallbackAt > 300000) this._kindIndex = 0; // try the best one again
    const kind = this.kinds[this._kindIndex];
    const url = this.urls[this._urlIndex % this.urls.length];
    const cursor = this.cursor;
    const t = new TRANSPORT_CLASSES[kind](this, url, cursor, [...this._rooms].slice(-64), [...this._topics]);
    t.sentCursor = cursor;
    this._transport = t;
    this._askedReconnect = false;
    this._setStatus({
      state: this._everLive ? 'reconnecting' : 'connecting',
      transport: kind,
      url,
      attempt: this._attempt,
      retryAt: null,
    });
    t.connectTimer = setTimeout(() => {
      if (this._transport === t && !t.live) {
        t.close();
        this._closed(t, { reason: 'connect timeout', network: true, timeout: true });
      }
    }, this.options.connectTimeoutMs);
    Promise.resolve(t.open()).catch((e) => this._closed(t, e && e.code === 'unauthorized'
      ? { status: 401, reason: e.message } : { reason: String(e), network: true }));
  }

  _attemptNow() {
    clearTimeout(this._retryTimer);
    this._start();
  }

  /** Ends the current transport without reconnecting (the caller decides what comes next). */
  _drop(error) {
    const t = this._transport;
    this._transport = null;
    if (this._status.state === 'live' && !this._stopped) this._setStatus({ state: 'reconnecting' });
    if (t) {
      clearTimeout(t.connectTimer);
      clearInterval(t.pingTimer);
      clearTimeout(t.watchdog);
      t.close();
    }
    for (const [id, p] of this._pending) {
      if (p.viaSocket) {
        clearTimeout(p.timer);
        this._pending.delete(id);
        p.reject(error);
      }
    }
  }

  _setStatus(patch) {
    Object.assign(this._status, patch);
    this.emit('status', this.status);
  }

  // ---- transport reports ----

  _opened(t, connected) {
    if (t !== this._transport || t.live) return;
    t.live = true;
    clearTimeout(t.connectTimer);
    this._attempt = 0;
    this._everLive = true;
    this._lastOpenAt = Date.now();
    if (connected) {
      if (connected.userId) this.userId = connected.userId;
      const fresh = Cursor.parse(connected.cursor);
      if (!t.sentCursor || !this._cursor) {
        this._cursor = fresh;
      } else {
        // Resumed: keep resuming from the old cursor until the replay is known to be complete
        // (a cursor of the new session counts the whole replay as delivered).
        t.freshCursor = fresh;
      }
      this._persistCursor();
    }
    this._setStatus({
      state: 'live',
      node: (connected && connected.node) || this._status.node,
      transport: t.kind,
      url: t.baseUrl,
      attempt: 0,
      retryAt: null,
      error: null,
    });
    if (connected) this.emit('connected', { ...connected, transport: t.kind });
    if (t.kind === 'websocket') {
      this._afterWebSocketOpen(t);
    } else if (t.kind === 'sse') {
      this._armWatchdog(t, connected && connected.heartbeatSeconds);
    } else if (t.kind === 'poll' && !connected) {
      this._learnNode(t);
    }
    this._scheduleRefresh();
    for (const w of this._liveWaiters) {
      clearTimeout(w.timer);
      w.resolve(this.status);
    }
    this._liveWaiters = [];
    this._flushOutbox();
  }

  async _afterWebSocketOpen(t) {
    const rejoin = [];
    for (const id of this._rooms) rejoin.push(this._request('join_conversation', { conversationId: id }, {}, t));
    if (this._topics.size) rejoin.push(this._request('subscribe', { topics: [...this._topics] }, {}, t));
    Promise.allSettled(rejoin).then((rs) => {
      for (const r of rs) if (r.status === 'rejected' && r.reason.code !== 'disconnected') this.emit('error', r.reason);
    });
    const ping = () => {
      const sent = Date.now();
      this._request('ping', {}, { timeoutMs: this.options.pongTimeoutMs }, t).then(() => {
        t.rttMs = Date.now() - sent;
        // Everything the server queued before this pong, the replay included, has arrived.
        if (t.freshCursor) {
          this._cursor = t.freshCursor.merged(t.received);
          t.freshCursor = null;
          this._persistCursor();
        }
      }, (e) => {
        if (this._transport === t && e.code === 'timeout') {
          t.close(4000, 'ping timeout');
          this._closed(t, { reason: 'no pong', network: true });
        }
      });
    };
    ping();
    t.pingTimer = setInterval(ping, this.options.pingIntervalMs);
  }

  _armWatchdog(t, heartbeatSeconds) {
    if (heartbeatSeconds) t.heartbeatMs = heartbeatSeconds * 1000;
    clearTimeout(t.watchdog);
    if (!t.heartbeatMs) return;
    t.watchdog = setTimeout(() => {
      if (this._transport === t) {
        t.close();
        this._closed(t, { reason: 'heartbeat missed', network: true });
      }
    }, t.heartbeatMs * 2 + 10000);
  }

  _bytes(t) {
    if (t === this._transport && t.live) this._armWatchdog(t);
  }

  _heartbeat(t) {
    if (t !== this._transport || !t.live) return;
    // The server writes heartbeats after the replay it queued at open: the stream's own cursor
    // (the last id:) is now safe to resume from.
    if (t.freshCursor) {
      const last = Cursor.parse(t.lastId);
      this._cursor = (last && last.sessionId === t.freshCursor.sessionId ? last : t.freshCursor).merged(t.received);
      t.freshCursor = null;
      this._persistCursor();
    }
  }

  _pollCursor(t, text) {
    if (t !== this._transport) return;
    const c = Cursor.parse(text);
    if (c) {
      this._cursor = c;
      this._persistCursor();
    }
  }

  async _learnNode(t) {
    try {
      const res = await this._fetch(trimSlash(t.baseUrl) + '/api/health', { cache: 'no-store' });
      const body = await res.json();
      if (this._transport === t && body.node) this._setStatus({ node: body.node });
    } catch {
      /* the node is shown as unknown */
    }
  }

  _envelope(t, env, sseId) {
    if (t !== this._transport) return;
    const type = env.type;
    const p = env.payload || {};
    if (env.requestId && this._pending.has(env.requestId)) {
      const pending = this._pending.get(env.requestId);
      this._pending.delete(env.requestId);
      clearTimeout(pending.timer);
      if (type === 'error' || type === 'auth_error') {
        pending.reject(new SwitchboardError(p.code || 'internal', p.message, { requestId: env.requestId, type }));
      } else {
        pending.resolve({ type, payload: p });
      }
      return;
    }
    if (type === 'connected') {
      this._opened(t, p);
      return;
    }
    if (!t.live && t.kind !== 'poll') return;
    if (type === 'resync_required') {
      if (t.freshCursor) {
        this._cursor = t.freshCursor;
        t.freshCursor = null;
      }
      // `reset`: the database went back (a restored backup) or history was deleted; the seqs
      // delivered so far may name other items now, so none of them may hide a new one.
      if (p.reset) this._seen.clear();
      this._persistCursor();
    }
    if (type === 'reconnect') this._askedReconnect = true;
    if (type === 'token_expired') this._tokenExpired = true;
    if (DURABLE_EVENTS.has(type) && p.conversationId && typeof p.seq === 'number') {
      // The cursor moves with every timeline event; the old session's cursor plus these
      // positions always resumes exactly after what arrived.
      this._cursor && this._cursor.advance(p.conversationId, p.seq);
      if (t.freshCursor) {
        t.received = t.received || new Cursor('x');
        t.received.advance(p.conversationId, p.seq);
      }
      this._persistCursor();
      if (p.seq <= (this._seen.get(p.conversationId) || 0)) return; // a repeat: each item once
      this._seen.set(p.conversationId, p.seq);
    } else if (type === 'conversation_created' && p.conversationId) {
      this._cursor && this._cursor.advance(p.conversationId, 0);
      if (t.freshCursor) {
        t.received = t.received || new Cursor('x');
        t.received.advance(p.conversationId, 0);
      }
      this._persistCursor();
    }
    this._dispatch(type, p, env);
  }

  _dispatch(type, p, env) {
    this.emit('event', env);
    this.emit(type, p, env);
    switch (type) {
      case 'message_received':
        this.emit('message', p);
        break;
      case 'typing_update':
        this.emit('typing', { conversationId: p.conversationId, userIds: (p.userIds || []).filter((u) => u !== this.userId) });
        break;
      case 'user_online':
      case 'user_offline': {
        const state = { userId: p.userId, online: type === 'user_online', lastSeenAt: p.lastSeenAt };
        // SPEC §3b: user_online carries the status a user chose, and its text.
        if (p.status) Object.assign(state, { status: p.status, text: p.text ?? null });
        this._presence.set(p.userId, state);
        this.emit('presence', state);
        break;
      }
      case 'presence_changed': {
        const state = { ...this._presence.get(p.userId), ...p, online: p.status ? p.status !== 'invisible' && p.status !== 'offline' : true };
        this._presence.set(p.userId, state);
        this.emit('presence', state);
        break;
      }
      case 'resync_required':
        this.emit('resync', p);
        break;
      case 'call_offer':
        this._incomingCall(p);
        break;
      case 'call_answer':
      case 'ice_candidate':
      case 'call_decline':
      case 'call_end':
        this._callEvent(type, p);
        break;
      case 'error':
        this.emit('error', new SwitchboardError(p.code || 'internal', p.message));
        break;
      default:
    }
  }

  async _closed(t, info) {
    if (t !== this._transport) return;
    const wasLive = !!t.live;
    this._drop(new SwitchboardError('disconnected', info.reason || 'connection lost'));
    if (this._stopped) return;
    const askedReconnect = this._askedReconnect || info.reconnect || info.code === 1012;
    // Decide what comes next.
    if (info.code === 1000 && info.reason === 'replaced') {
      this._setStatus({ state: 'offline', error: 'replaced by a newer connection', retryAt: null });
      return;
    }
    if (info.code === 1008) {
      this._setStatus({ state: 'offline', error: 'this origin is not allowed', retryAt: null });
      return;
    }
    if (info.code === 4401 || info.status === 401 || this._tokenExpired) {
      const refreshed = await this.refreshToken(this._tokenExpired ? 'token_expired' : 'unauthorized');
      this._tokenExpired = false;
      if (this._stopped || this._transport) return;
      if (!refreshed) {
        this._setStatus({ state: 'offline', error: 'unauthorized: the token was refused', retryAt: null });
        this.emit('error', new SwitchboardError('unauthorized', 'the token was refused'));
        return;
      }
      this._schedule(backoffDelay(Math.min(this._attempt++, 2), this.options.backoff, this._random));
      return;
    }
    let delay;
    let retryAfter = info.retryAfterMs;
    if (info.code === 1013) retryAfter = parseRetryDelay(info.reason) ?? undefined;
    if (askedReconnect) {
      // The node is going away: another node at once, spread over a second.
      this._urlIndex++;
      delay = Math.floor(this._random() * Math.min(1000, this.options.backoff.maxMs));
    } else if (retryAfter != null) {
      delay = retryAfter;
      if (!wasLive) this._urlIndex++;
    } else if (info.code === 4429) {
      delay = Math.max(10000, backoffDelay(this._attempt++, this.options.backoff, this._random));
    } else if (wasLive && Date.now() - this._lastOpenAt > 5000) {
      // A live connection dropped: the same node first, soon.
      this._attempt = 0;
      delay = backoffDelay(0, this.options.backoff, this._random);
    } else {
      // Never opened, or dropped at once. Refused by something between us and a node that
      // answers HTTP (a proxy without WebSocket, a buffering proxy)? Then the next transport.
      if (!wasLive && this._kindIndex < this.kinds.length - 1 && (info.network || info.timeout)) {
        const reachable = await this._probe(t.baseUrl);
        if (this._stopped || this._transport) return;
        if (reachable) {
          this._kindIndex++;
          this._fallbackAt = Date.now();
          this.emit('fallback', { from: t.kind, to: this.kinds[this._kindIndex], reason: info.reason });
          this._start();
          return;
        }
      }
      this._urlIndex++;
      delay = backoffDelay(this._attempt++, this.options.backoff, this._random);
    }
    this._schedule(delay, info.reason);
  }

  _schedule(delay, error) {
    if (this._stopped) return;
    const offline = globalThis.navigator && globalThis.navigator.onLine === false;
    this._setStatus({
      state: offline ? 'offline' : 'reconnecting',
      retryAt: Date.now() + delay,
      error: error || null,
      attempt: this._attempt,
    });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._start(), delay);
  }

  /** Does the node answer plain HTTP? */
  async _probe(baseUrl) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.probeTimeoutMs);
    try {
      const res = await this._fetchImpl(trimSlash(baseUrl) + '/api/health', { signal: abort.signal, cache: 'no-store' });
      const body = await res.json().catch(() => null);
      return !!(body && (body.status || body.node));
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- requests ----

  /**
   * Sends a command and resolves with the reply's payload (rejects with a SwitchboardError).
   * Over WebSocket it is an envelope with a requestId; over SSE and long-poll the REST route.
   */
  async request(type, payload = {}, options = {}) {
    return (await this.requestEnvelope(type, payload, options)).payload;
  }

  /** As request(), resolving with `{type, payload}` (the reply type matters for some commands). */
  async requestEnvelope(type, payload = {}, { timeoutMs = this.options.requestTimeoutMs } = {}) {
    const deadline = Date.now() + timeoutMs;
    if (this._status.state !== 'live') {
      if (this._stopped) throw new SwitchboardError('disconnected', 'not connected: call connect()');
      await this.whenLive(timeoutMs);
    }
    const t = this._transport;
    const left = Math.max(1, deadline - Date.now());
    if (t.kind === 'websocket') return this._request(type, payload, { timeoutMs: left }, t);
    return this._rest(type, payload, left, t.baseUrl);
  }

  _request(type, payload, { timeoutMs = this.options.requestTimeoutMs }, t) {
    return new Promise((resolve, reject) => {
      const requestId = 'r' + this._nextRequest++;
      const pending = { resolve, reject, viaSocket: true };
      pending.timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new SwitchboardError('timeout', `no reply to ${type} within ${timeoutMs} ms; it may or may not have happened`,
          { requestId }));
      }, timeoutMs);
      this._pending.set(requestId, pending);
      try {
        t.send({ type, payload, requestId });
      } catch (e) {
        clearTimeout(pending.timer);
        this._pending.delete(requestId);
        reject(e instanceof SwitchboardError ? e : new SwitchboardError('disconnected', String(e)));
      }
    });
  }

  async _rest(type, payload, timeoutMs, baseUrl, retried = false) {
    if (type === 'join_conversation' || (type === 'leave_conversation' && !payload.membership)) {
      return { type: type === 'join_conversation' ? 'conversation_joined' : 'conversation_left', payload: { conversationId: payload.conversationId } };
    }
    if (type === 'subscribe' || type === 'unsubscribe') {
      return { type: type + 'd', payload: { topics: payload.topics } };
    }
    const route = restRoute(type, payload);
    if (!route) throw new SwitchboardError('invalid_request', `'${type}' has no REST form; it needs a WebSocket`);
    const [method, path, body] = route;
    const token = await this._tokenNow();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let res;
    let json;
    try {
      const headers = { Authorization: 'Bearer ' + token };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      res = await this._fetch(trimSlash(baseUrl) + path, {
        method,
        headers,
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: abort.signal,
        cache: 'no-store',
      });
      json = await res.json().catch(() => ({}));
    } catch (e) {
      if (abort.signal.aborted) {
        throw new SwitchboardError('timeout', `no reply to ${type} within ${timeoutMs} ms; it may or may not have happened`);
      }
      throw new SwitchboardError('network', `${type}: ${e.message || e}`);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 401 && !retried && (await this.refreshToken('unauthorized'))) {
      return this._rest(type, payload, timeoutMs, baseUrl, true);
    }
    if (!res.ok) throw errorFromBody(res.status, json, res.headers);
    return { type: replyTypeOf(type, json), payload: json };
  }

  _fetch(url, init) {
    return this._fetchImpl(url, init);
  }

  // ---- conversations and messages ----

  /** `GET /api/conversations`: the caller's conversations, most recently active first. */
  async conversations() {
    return (await this.request('load_conversations')).conversations || [];
  }

  conversation(conversationId) {
    return this.request('get_conversation', { conversationId });
  }

  createGroup(name, participantIds = []) {
    return this.request('create_group', { name, participantIds });
  }

  createDirect(userId) {
    return this.request('create_conversation', { type: 'direct', participantIds: [userId] });
  }

  joinGroup(inviteCode) {
    return this.request('join_group', { inviteCode });
  }

  leaveGroup(conversationId) {
    this._rooms.delete(conversationId);
    return this.request('leave_conversation', { conversationId, membership: true });
  }

  /** A page of history in ascending seq order: `{before, after, limit}` (limit 1-200). */
  async messages(conversationId, { before, after, limit } = {}) {
    const p = { conversationId };
    if (before != null) p.before = before;
    if (after != null) p.after = after;
    if (limit != null) p.limit = limit;
    return (await this.request(before != null ? 'load_more_messages' : 'load_messages', p)).messages || [];
  }

  /** Every message after `afterSeq`, page by page (at most `max`). */
  async messagesSince(conversationId, afterSeq, { limit = 200, max = 5000 } = {}) {
    const out = [];
    let after = afterSeq;
    while (out.length < max) {
      const page = await this.messages(conversationId, { after, limit });
      out.push(...page);
      if (page.length < limit) break;
      after = page[page.length - 1].seq;
    }
    return out;
  }

  /**
   * After `resync` (or whenever in doubt): reloads the conversations and, for each, the messages
   * after the last seq this client delivered, and emits them as `message` events (each once).
   * Resolves with the conversations.
   */
  async reloadHistory({ limit = 50 } = {}) {
    const list = await this.conversations();
    for (const c of list) {
      const known = this._seen.get(c.id);
      const items = known ? await this.messagesSince(c.id, known) : await this.messages(c.id, { limit });
      for (const m of items) {
        if (m.seq <= (this._seen.get(c.id) || 0)) continue;
        this._seen.set(c.id, m.seq);
        this.emit('message', m);
      }
    }
    this.emit('conversations', list);
    return list;
  }

  /**
   * Sends a message through the outbox: it carries a clientMessageId, waits while disconnected,
   * goes out after the resume, and is retried with the same id when the outcome is unknown, so
   * it is stored (and shown) exactly once. Resolves with the stored message.
   */
  send(conversationId, content, { kind, replyTo, threadId, clientMessageId = randomId() } = {}) {
    const item = { conversationId, content, clientMessageId, queuedAt: new Date().toISOString() };
    if (kind) item.kind = kind;
    if (replyTo != null) item.replyTo = replyTo;
    if (threadId != null) item.threadId = threadId;
    const t = this._typing.get(conversationId);
    if (t) {
      clearTimeout(t.stopTimer);
      this._typing.delete(conversationId); // the server drops a typist who sends
    }
    const promise = new Promise((resolve, reject) => this._outboxPromises.set(clientMessageId, { resolve, reject }));
    this._outbox.push(item);
    this._persistOutbox();
    this.emit('outbox', this.outbox);
    this._flushOutbox();
    return promise;
  }

  /** Drops a message from the outbox (one that failed for good, or that the user cancelled). */
  discard(clientMessageId) {
    this._outbox = this._outbox.filter((i) => i.clientMessageId !== clientMessageId);
    this._persistOutbox();
    this.emit('outbox', this.outbox);
    const p = this._outboxPromises.get(clientMessageId);
    this._outboxPromises.delete(clientMessageId);
    if (p) p.reject(new SwitchboardError('disconnected', 'discarded'));
  }

  async _flushOutbox() {
    if (this._flushing) return;
    this._flushing = true;
    let failures = 0;
    try {
      while (this._outbox.length && this._status.state === 'live' && !this._stopped) {
        const item = this._outbox[0];
        const payload = { ...item };
        delete payload.queuedAt;
        try {
          const message = await this.request('send_message', payload);
          failures = 0;
          this._outbox = this._outbox.filter((i) => i.clientMessageId !== item.clientMessageId);
          this._persistOutbox();
          this.emit('outbox', this.outbox);
          this.emit('sent', message);
          const p = this._outboxPromises.get(item.clientMessageId);
          this._outboxPromises.delete(item.clientMessageId);
          if (p) p.resolve(message);
        } catch (e) {
          if (e.retryable) {
            // Same clientMessageId next time: a send that did happen comes back as the original.
            if (this._status.state === 'live') {
              const delay = e.retryAfterMs ?? backoffDelay(++failures, this.options.backoff, this._random);
              clearTimeout(this._outboxTimer);
              this._outboxTimer = setTimeout(() => this._flushOutbox(), delay);
            }
            return;
          }
          this._outbox = this._outbox.filter((i) => i.clientMessageId !== item.clientMessageId);
          this._persistOutbox();
          this.emit('outbox', this.outbox);
          this.emit('error', e);
          const p = this._outboxPromises.get(item.clientMessageId);
          this._outboxPromises.delete(item.clientMessageId);
          if (p) p.reject(e);
        }
      }
    } finally {
      this._flushing = false;
    }
  }

  /** Moves the caller's read position (never backwards); resolves `{conversationId, userId, seq, unreadCount}`. */
  markRead(conversationId, seq) {
    return this.request('mark_read', { conversationId, seq });
  }

  // ---- rooms, typing, presence, topics ----

  /** Follows a conversation's ephemeral events (typing) on this and every later connection. */
  async joinConversation(conversationId) {
    if (this._rooms.has(conversationId)) return;
    this._rooms.add(conversationId);
    await this._roomsChanged('join_conversation', { conversationId });
  }

  async leaveConversation(conversationId) {
    if (!this._rooms.delete(conversationId)) return;
    await this._roomsChanged('leave_conversation', { conversationId });
  }

  /** Subscribes topics (SPEC §6) on this and every later connection. */
  async subscribe(topics) {
    const fresh = topics.filter((x) => !this._topics.has(x));
    fresh.forEach((x) => this._topics.add(x));
    if (fresh.length) await this._roomsChanged('subscribe', { topics: fresh });
  }

  async unsubscribe(topics) {
    const gone = topics.filter((x) => this._topics.delete(x));
    if (gone.length) await this._roomsChanged('unsubscribe', { topics: gone });
  }

  async _roomsChanged(type, payload) {
    const t = this._transport;
    if (!t || !t.live) return; // applied when the connection opens
    if (t.kind === 'websocket') {
      await this.request(type, payload);
      return;
    }
    // SSE and long-poll name rooms and topics in the stream's URL: reopen it (a resume by cursor,
    // nothing lost), once for a burst of changes.
    clearTimeout(this._reopenTimer);
    this._reopenTimer = setTimeout(() => {
      if (this._transport === t && !this._stopped) {
        this._drop(new SwitchboardError('disconnected', 'reopening'));
        this._start();
      }
    }, 20);
  }

  /**
   * Call on every keystroke: sends `typing_start` at most every typingIntervalMs, and
   * `typing_stop` after typingIdleMs without a keystroke.
   */
  typing(conversationId) {
    const now = Date.now();
    let t = this._typing.get(conversationId);
    if (!t) {
      t = { lastStart: 0 };
      this._typing.set(conversationId, t);
    }
    if (now - t.lastStart >= this.options.typingIntervalMs) {
      t.lastStart = now;
      this.request('typing_start', { conversationId }).catch(() => {});
    }
    clearTimeout(t.stopTimer);
    t.stopTimer = setTimeout(() => this.stopTyping(conversationId), this.options.typingIdleMs);
  }

  stopTyping(conversationId) {
    const t = this._typing.get(conversationId);
    if (!t) return;
    clearTimeout(t.stopTimer);
    this._typing.delete(conversationId);
    this.request('typing_stop', { conversationId }).catch(() => {});
  }

  /**
   * Asks the server who of `userIds` is online (`GET /api/presence`, on nodes that have it) and
   * records the answer; resolves with the users, or [] where the node has no such route.
   */
  async loadPresence(userIds) {
    if (!userIds.length) return [];
    try {
      await this.whenLive(this.options.requestTimeoutMs);
      const t = this._transport;
      const res = await this._fetch(trimSlash(t.baseUrl) + '/api/presence?userIds=' + userIds.map(encodeURIComponent).join(','),
        { headers: { Authorization: 'Bearer ' + (await this._tokenNow()) }, cache: 'no-store' });
      if (!res.ok) return [];
      const users = (await res.json()).users || [];
      for (const u of users) {
        const state = { ...u, online: !!u.online };
        this._presence.set(u.userId, state);
        this.emit('presence', state);
      }
      return users;
    } catch {
      return [];
    }
  }

  // ---- tokens ----

  async _tokenNow() {
    if (!this._token && this.options.getToken) {
      this._token = await this.options.getToken();
      this.userId = this.userId || (decodeJwt(this._token) || {}).sub || null;
    }
    if (!this._token) throw new SwitchboardError('unauthorized', 'no token: give token or getToken');
    return this._token;
  }

  /** Replaces the token (e.g. after a login); a live WebSocket is re-authenticated in place. */
  async setToken(token) {
    this._token = token;
    this.userId = (decodeJwt(token) || {}).sub || this.userId;
    this.emit('token', token);
    this._scheduleRefresh();
    const t = this._transport;
    if (!t || !t.live) return;
    if (t.kind === 'websocket') {
      await this._request('auth', { token }, {}, t).catch((e) => this.emit('error', e));
    } else if (t.kind === 'sse') {
      // An open SSE stream keeps the token it was opened with: reopen it (resumes by cursor).
      this._drop(new SwitchboardError('disconnected', 'new token'));
      this._start();
    }
  }

  /**
   * Calls options.refreshToken(reason) once at a time and installs the new token. Called by the
   * client before the token expires and on `token_expired` / 401. Resolves false without a callback
   * or when it fails.
   */
  refreshToken(reason = 'manual') {
    if (!this.options.refreshToken) return Promise.resolve(false);
    if (!this._refreshing) {
      this._refreshing = (async () => {
        try {
          const token = await this.options.refreshToken(reason);
          if (!token) return false;
          await this.setToken(token);
          return true;
        } catch (e) {
          this.emit('error', e instanceof SwitchboardError ? e : new SwitchboardError('unauthorized', String(e)));
          return false;
        } finally {
          this._refreshing = null;
        }
      })();
    }
    return this._refreshing;
  }

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    if (!this.options.refreshToken || !this._token) return;
    const claims = decodeJwt(this._token);
    if (!claims || !claims.exp) return;
    const now = Date.now();
    const exp = claims.exp * 1000;
    const life = claims.iat ? exp - claims.iat * 1000 : exp - now;
    const lead = Math.min(this.options.refreshBeforeExpiryMs, Math.max(1000, life / 5));
    const delay = Math.max(0, exp - now - lead);
    if (delay > 2 ** 31 - 1) return;
    this._refreshTimer = setTimeout(() => this.refreshToken('expiring'), delay);
  }

  // ---- storage ----

  _key(what) {
    return `${this.options.storageKey}.${what}.${this.userId || 'anonymous'}`;
  }

  _loadStored() {
    const s = this.options.storage;
    if (!s || !this.userId) return;
    try {
      const cursor = Cursor.parse(s.getItem(this._key('cursor')));
      if (cursor) this._cursor = cursor;
      const outbox = JSON.parse(s.getItem(this._key('outbox')) || '[]');
      if (Array.isArray(outbox)) this._outbox = outbox.filter((i) => i && i.conversationId && i.clientMessageId);
    } catch {
      /* a broken entry is ignored */
    }
  }

  _persistCursor() {
    const s = this.options.storage;
    if (!s || !this._cursor) return;
    try {
      s.setItem(this._key('cursor'), this._cursor.toString());
    } catch {
      /* storage full or denied */
    }
  }

  _persistOutbox() {
    const s = this.options.storage;
    if (!s) return;
    try {
      s.setItem(this._key('outbox'), JSON.stringify(this._outbox));
    } catch {
      /* storage full or denied */
    }
  }

  // ---- calls ----

  /** ICE servers from the server's configuration (cached for the client's life). */
  async iceServers() {
    if (!this._iceServers) {
      this._iceServers = this.request('get_ice_servers').then((p) => p.iceServers || [], (e) => {
        this._iceServers = null;
        throw e;
      });
    }
    return this._iceServers;
  }

  /**
   * Calls someone: `{media: 'audio'|'video', calleeId (groups), localStream?}`. Resolves with a
   * Call in state `ringing` (or `busy`); listen to its `state`, `remotestream` and `ended`.
   */
  async call(conversationId, { media = 'video', calleeId, localStream } = {}) {
    const call = new Call(this, { conversationId, peerId: calleeId, media, direction: 'outgoing' });
    await call._dial(localStream);
    return call;
  }

  /** The calls this client knows that have not ended. */
  get calls() {
    return [...this._calls.values()];
  }

  _incomingCall(p) {
    if (this._calls.has(p.callId)) return;
    const call = new Call(this, {
      callId: p.callId, conversationId: p.conversationId, peerId: p.callerId, media: p.media,
      direction: 'incoming', offerSdp: p.sdp,
    });
    this._calls.set(p.callId, call);
    call._setState('ringing');
    call._armRing();
    const early = this._earlyCandidates.get(p.callId);
    if (early) {
      this._earlyCandidates.delete(p.callId);
      early.forEach((c) => call._remoteCandidate(c));
    }
    this.emit('incomingcall', call);
  }

  _callEvent(type, p) {
    const call = this._calls.get(p.callId);
    if (!call) {
      if (type === 'ice_candidate') {
        const list = this._earlyCandidates.get(p.callId) || [];
        if (list.length < 100) list.push(p.candidate);
        this._earlyCandidates.set(p.callId, list);
      }
      return;
    }
    if (type === 'call_answer') call._remoteAnswer(p.sdp);
    else if (type === 'ice_candidate') call._remoteCandidate(p.candidate);
    else if (type === 'call_decline') call._finish('declined', p.reason || 'declined');
    else if (type === 'call_end') call._remoteEnd(p.reason);
  }
}

function replyTypeOf(type, body) {
  switch (type) {
    case 'call_offer': return body && body.state === 'busy' ? 'call_busy' : 'call_ringing';
    case 'call_answer': return 'call_accepted';
    case 'send_message': return 'message_sent';
    case 'load_messages':
    case 'load_more_messages': return 'messages_loaded';
    case 'load_conversations': return 'conversations_loaded';
    case 'mark_read': return 'receipt';
    default: return 'ack';
  }
}

/**
 * One WebRTC call around an RTCPeerConnection. `state`: ringing → active → ended, or busy /
 * declined / missed; `endReason` says why it ended. Events: `state`, `remotestream`,
 * `connectionstatechange`, `ended`.
 */
export class Call extends Emitter {
  constructor(client, { callId = null, conversationId, peerId, media, direction, offerSdp }) {
    super();
    this.client = client;
    this.callId = callId;
    this.conversationId = conversationId;
    this.peerId = peerId;
    this.media = media;
    this.direction = direction;
    this.offerSdp = offerSdp;
    this.state = 'new';
    this.endReason = null;
    this.pc = null;
    this.localStream = null;
    this.remoteStream = null;
    this._ownStream = false;
    this._localQueue = [];
    this._remoteQueue = [];
    this._canSendCandidates = false;
  }

  /** The peer connection's state: new, connecting, connected, disconnected, failed, closed. */
  get connectionState() {
    return this.pc ? this.pc.connectionState : 'new';
  }

  get ended() {
    return ['ended', 'declined', 'missed', 'busy'].includes(this.state);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  async _peer(localStream) {
    const iceServers = await this.client.iceServers().catch(() => []);
    const RTC = this.client.options.RTCPeerConnection || globalThis.RTCPeerConnection;
    const pc = new RTC({ iceServers });
    this.pc = pc;
    if (localStream) {
      this.localStream = localStream;
    } else {
      const devices = this.client.options.mediaDevices || (globalThis.navigator && globalThis.navigator.mediaDevices);
      this.localStream = await devices.getUserMedia({ audio: true, video: this.media === 'video' });
      this._ownStream = true;
    }
    for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    pc.onicecandidate = (e) => {
      if (e.candidate) this._localCandidate(e.candidate.toJSON ? e.candidate.toJSON() : e.candidate);
    };
    pc.ontrack = (e) => {
      const stream = (e.streams && e.streams[0]) || null;
      if (stream && stream !== this.remoteStream) {
        this.remoteStream = stream;
        this.emit('remotestream', stream);
      } else if (!stream && globalThis.MediaStream) {
        if (!this.remoteStream) this.remoteStream = new MediaStream();
        this.remoteStream.addTrack(e.track);
        this.emit('remotestream', this.remoteStream);
      }
    };
    pc.onconnectionstatechange = () => {
      this.emit('connectionstatechange', pc.connectionState);
      if (pc.connectionState === 'failed' && !this.ended) this.hangup('failed');
    };
    return pc;
  }

  async _dial(localStream) {
    const pc = await this._peer(localStream);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const payload = { conversationId: this.conversationId, sdp: offer.sdp, media: this.media };
    if (this.peerId) payload.calleeId = this.peerId;
    let reply;
    try {
      reply = await this.client.requestEnvelope('call_offer', payload);
    } catch (e) {
      this._cleanup();
      throw e;
    }
    const p = reply.payload;
    this.callId = p.callId;
    this.peerId = p.calleeId === this.client.userId ? p.callerId : p.calleeId || this.peerId;
    if (reply.type === 'call_busy' || p.state === 'busy') {
      this.endReason = 'busy';
      this._cleanup();
      this._setState('busy');
      this.emit('ended', { reason: 'busy' });
      return;
    }
    this.client._calls.set(this.callId, this);
    if (p.glare) {
      // They called us at the same moment: their call stands, and we answer it.
      const other = this.client._calls.get(this.callId);
      if (other && other !== this) {
        other.endReason = 'glare';
        other._cleanup();
        other._setState('ended');
        other.emit('ended', { reason: 'glare' });
      }
      this.client._calls.set(this.callId, this);
      this.direction = 'incoming';
      this.offerSdp = p.sdp;
      this._localQueue = [];
      pc.close();
      this._setState('ringing');
      await this.accept({ localStream: this.localStream });
      return;
    }
    this._canSendCandidates = true;
    this._flushLocal();
    this._setState('ringing');
    this._armRing();
  }

  _armRing() {
    clearTimeout(this._ringTimer);
    this._ringTimer = setTimeout(() => {
      if (this.state === 'ringing') {
        if (this.direction === 'outgoing') this.hangup('missed');
        else this._finish('missed', 'missed');
      }
    }, this.client.options.ringTimeoutMs);
  }

  /** Answers an incoming call (`{localStream?}`; without one, the microphone and camera are asked for). */
  async accept({ localStream } = {}) {
    if (this.state !== 'ringing' || this.direction !== 'incoming') {
      throw new SwitchboardError('conflict', `cannot accept a call that is ${this.state}`);
    }
    this._accepting = true;
    clearTimeout(this._ringTimer);
    const pc = await this._peer(localStream);
    await pc.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
    await this._drainRemote();
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    let accepted;
    try {
      accepted = await this.client.request('call_answer', { callId: this.callId, sdp: answer.sdp });
    } catch (e) {
      this._finish('ended', e.code === 'conflict' ? 'answered_elsewhere' : 'failed');
      throw e;
    }
    this.answered = true;
    this._setState('active');
    // The caller's candidates held while it rang come with the reply.
    for (const c of accepted.candidates || []) this._remoteCandidate(c);
    this._canSendCandidates = true;
    this._flushLocal();
  }

  /** Declines an incoming call. */
  async decline(reason) {
    if (this.ended) return;
    clearTimeout(this._ringTimer);
    const p = { callId: this.callId };
    if (reason) p.reason = reason;
    this._finish('declined', reason || 'declined');
    await this.client.request('call_decline', p).catch(() => {});
  }

  /** Hangs up (cancels a call that still rings). */
  async hangup(reason = 'ended') {
    if (this.ended) return;
    const wasRinging = this.state === 'ringing';
    this._finish(reason === 'missed' ? 'missed' : 'ended', wasRinging && this.direction === 'outgoing' && reason === 'ended' ? 'cancelled' : reason);
    if (this.callId) await this.client.request('call_end', { callId: this.callId }).catch(() => {});
  }

  _localCandidate(candidate) {
    this._localQueue.push(candidate);
    if (this._canSendCandidates) this._flushLocal();
  }

  _flushLocal() {
    const queue = this._localQueue;
    this._localQueue = [];
    for (const candidate of queue) {
      this.client.request('ice_candidate', { callId: this.callId, candidate }).catch(() => {});
    }
  }

  _remoteCandidate(candidate) {
    if (!candidate) return;
    if (this.pc && this.pc.remoteDescription && !this._draining) {
      this.pc.addIceCandidate(candidate).catch((e) => this.emit('error', e));
    } else {
      this._remoteQueue.push(candidate);
    }
  }

  async _drainRemote() {
    this._draining = true;
    while (this._remoteQueue.length) {
      const c = this._remoteQueue.shift();
      await this.pc.addIceCandidate(c).catch((e) => this.emit('error', e));
    }
    this._draining = false;
  }

  async _remoteAnswer(sdp) {
    if (this.direction !== 'outgoing' || !this.pc || this.ended) return;
    clearTimeout(this._ringTimer);
    this._setState('active');
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this._drainRemote();
  }

  _remoteEnd(reason) {
    // A client that answered over REST is told answered_elsewhere about its own answer.
    if (this.answered && (reason === 'answered_elsewhere' || reason === 'declined_elsewhere')) return;
    if (this._accepting && !this.answered && reason === 'answered_elsewhere') {
      this._elsewhere = true; // decided by our answer's reply: accepted, or 409
      return;
    }
    this._finish(reason === 'missed' ? 'missed' : 'ended', reason || 'ended');
  }

  _finish(state, reason) {
    if (this.ended) return;
    this.endReason = reason;
    this._cleanup();
    this._setState(state);
    this.emit('ended', { reason });
  }

  _cleanup() {
    clearTimeout(this._ringTimer);
    if (this.callId) this.client._calls.delete(this.callId);
    if (this.pc) {
      try {
        this.pc.close();
      } catch {
        /* closed */
      }
    }
    if (this._ownStream && this.localStream) this.localStream.getTracks().forEach((t) => t.stop());
  }
}

export default Switchboard;
