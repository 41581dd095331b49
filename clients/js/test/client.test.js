// Unit tests of the browser client with fake sockets, fetch and peer connections: `node --test test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Switchboard, SwitchboardError, Cursor, SseParser, backoffDelay, parseRetryDelay, parseRetryAfter, restRoute, decodeJwt,
} from '../switchboard.js';

const CONV = 'd88b0c8d-1111-2222-3333-444455556666';

function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`;
}

async function waitFor(what, fn, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fake server side for WebSocket connections: answers auth and ping, records the rest. */
function fakeWebSockets({ refuse = () => false } = {}) {
  const sockets = [];
  let session = 0;
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
      setTimeout(() => {
        if (refuse(url)) {
          this.readyState = 3;
          this.onclose && this.onclose({ code: 1006, reason: '' });
          return;
        }
        this.readyState = 1;
        this.onopen && this.onopen();
      }, 0);
    }

    send(text) {
      const env = JSON.parse(text);
      this.sent.push(env);
      if (env.type === 'auth') {
        this.token = env.payload.token;
        this.push({ type: 'auth_success', payload: {}, requestId: env.requestId });
        const id = 'S' + String(++session).padStart(10, '0');
        this.push({ type: 'connected', payload: { userId: 'alice', sessionId: id, cursor: id + '.', node: 'n' + session, heartbeatSeconds: 25 } });
      } else if (env.type === 'ping') {
        this.push({ type: 'pong', payload: {}, requestId: env.requestId });
      } else if (env.type === 'join_conversation' || env.type === 'subscribe') {
        this.push({ type: 'ack', payload: {}, requestId: env.requestId });
      } else if (this.onCommand) {
        this.onCommand(env);
      }
    }

    push(env) {
      if (this.readyState === 1) this.onmessage && this.onmessage({ data: JSON.stringify(env) });
    }

    close(code = 1000, reason = '') {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.onclose && this.onclose({ code, reason }), 0);
    }

    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose && this.onclose({ code, reason });
    }
  }
  return { FakeWebSocket, sockets, commands: (ws) => ws.sent.filter((e) => !['auth', 'ping', 'join_conversation', 'subscribe'].includes(e.type)) };
}

function client(extra = {}) {
  const ws = fakeWebSockets(extra.fake || {});
  const c = new Switchboard({
    urls: ['http://a:1', 'http://b:2'],
    token: jwt({ sub: 'alice' }),
    WebSocket: ws.FakeWebSocket,
    fetch: extra.fetch || (async () => { throw new Error('no network in this test'); }),
    backoff: { baseMs: 10, maxMs: 50 },
    random: () => 0.5,
    requestTimeoutMs: 300,
    ...extra.options,
  });
  return { c, ws };
}

test('full-jitter backoff stays within [0, min(max, base * 2^attempt))', () => {
  assert.equal(backoffDelay(0, { baseMs: 500, maxMs: 30000 }, () => 0), 0);
  assert.equal(backoffDelay(3, { baseMs: 500, maxMs: 30000 }, () => 0.999999), 3999);
  assert.equal(backoffDelay(20, { baseMs: 500, maxMs: 30000 }, () => 0.5), 15000);
  for (let i = 0; i < 100; i++) assert.ok(backoffDelay(i % 12) < 30000);
});

test('retry delays are read from close reasons and Retry-After', () => {
  assert.equal(parseRetryDelay('retry in 1500 ms'), 1500);
  assert.equal(parseRetryDelay('try again in 2 s'), 2000);
  assert.equal(parseRetryDelay('retryAfterMs=750'), 750);
  assert.equal(parseRetryDelay('1234'), 1234);
  assert.equal(parseRetryDelay('overloaded'), null);
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(parseRetryAfter(null), null);
});

test('cursors parse, advance only forward, merge and print in the server format', () => {
  const c = Cursor.parse('TeILDUgxUyb5-w6F_tK4gA.d88b0c8d:2,5f0c11aa:7');
  assert.equal(c.sessionId, 'TeILDUgxUyb5-w6F_tK4gA');
  c.advance(CONV, 5);
  c.advance(CONV, 3);
  c.advance('0a1b2c3d-0000-0000-0000-000000000000', 0);
  assert.equal(c.toString(), 'TeILDUgxUyb5-w6F_tK4gA.d88b0c8d:5,5f0c11aa:7,0a1b2c3d:0');
  assert.equal(Cursor.parse('nodot'), null);
  assert.equal(Cursor.parse('abc.zz:1'), null);
  const merged = Cursor.parse('new.').merged(Cursor.parse('x.d88b0c8d:9'));
  assert.equal(merged.toString(), 'new.d88b0c8d:9');
});

test('the SSE parser handles split chunks, CRLF, comments, retry and multi-line data', () => {
  const events = [];
  const comments = [];
  let retry;
  const p = new SseParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (ms) => { retry = ms; } });
  p.push('retry: 3000\r\n\r\nid: s.d88b0c8d:1\r');
  p.push('\nevent: message_received\ndata: {"a":');
  p.push('1}\n\n:\n\nevent: x\ndata: one\ndata: two\n\n');
  assert.equal(retry, 3000);
  assert.deepEqual(events[0], { event: 'message_received', data: '{"a":1}', id: 's.d88b0c8d:1' });
  assert.deepEqual(events[1], { event: 'x', data: 'one\ntwo', id: undefined });
  assert.deepEqual(comments, ['']);
});

test('commands map to their REST routes for SSE and long-poll', () => {
  assert.deepEqual(restRoute('send_message', { conversationId: CONV, content: 'hi', clientMessageId: 'c1' }),
    ['POST', `/api/conversations/${CONV}/messages`, { content: 'hi', clientMessageId: 'c1' }]);
  assert.deepEqual(restRoute('load_more_messages', { conversationId: CONV, before: 40, limit: 20 }),
    ['GET', `/api/conversations/${CONV}/messages?before=40&limit=20`]);
  assert.deepEqual(restRoute('typing_stop', { conversationId: CONV }), ['POST', `/api/conversations/${CONV}/typing`, { state: 'stop' }]);
  assert.deepEqual(restRoute('ice_candidate', { callId: 'k', candidate: { candidate: 'x' } }),
    ['POST', '/api/calls/ice-candidate', { callId: 'k', candidate: { candidate: 'x' } }]);
  assert.equal(restRoute('leave_conversation', { conversationId: CONV }), null);
  assert.equal(restRoute('resume', {}), null);
  assert.equal(decodeJwt(jwt({ sub: 'bob', exp: 5 })).sub, 'bob');
});

test('over WebSocket the token goes in a first auth envelope, requests resolve by requestId, errors are typed', async () => {
  const { c, ws } = client();
  await c.connect();
  const socket = ws.sockets[0];
  assert.equal(socket.url, 'ws://a:1/api/ws');
  assert.equal(socket.sent[0].type, 'auth');
  assert.equal(c.status.state, 'live');
  assert.equal(c.status.node, 'n1');
  socket.onCommand = (env) => {
    if (env.type === 'get_conversation') socket.push({ type: 'conversation', payload: { id: CONV }, requestId: env.requestId });
    if (env.type === 'join_group') socket.push({ type: 'error', payload: { code: 'not_found', message: 'no such code' }, requestId: env.requestId });
  };
  assert.deepEqual(await c.conversation(CONV), { id: CONV });
  await assert.rejects(c.joinGroup('nope'), (e) => e instanceof SwitchboardError && e.code === 'not_found' && !e.retryable);
  await assert.rejects(c.request('load_conversations'), (e) => e.code === 'timeout' && e.outcomeUnknown);
  c.close();
});

test('a node going away (1012) moves to the next node and resumes from the cursor; repeats are dropped', async () => {
  const { c, ws } = client();
  const seen = [];
  c.on('message', (m) => seen.push(m.seq));
  await c.connect();
  const first = ws.sockets[0];
  first.push({ type: 'message_received', payload: { conversationId: CONV, seq: 1, content: 'a' } });
  first.push({ type: 'message_received', payload: { conversationId: CONV, seq: 2, content: 'b' } });
  assert.equal(c.cursor, 'S0000000001.d88b0c8d:2');
  first.push({ type: 'reconnect', payload: { reason: 'shutting down' } });
  first.serverClose(1012, 'reconnect');
  const second = await waitFor('a second socket', () => ws.sockets[1]);
  assert.equal(second.url, 'ws://b:2/api/ws?cursor=' + encodeURIComponent('S0000000001.d88b0c8d:2'));
  await waitFor('live again', () => c.status.state === 'live');
  assert.equal(c.status.node, 'n2');
  // the replay repeats seq 2 (e.g. a resume racing a live event), then goes on
  second.push({ type: 'message_received', payload: { conversationId: CONV, seq: 2, content: 'b' } });
  second.push({ type: 'message_received', payload: { conversationId: CONV, seq: 3, content: 'c' } });
  assert.deepEqual(seen, [1, 2, 3]);
  // once the pong proves the replay arrived, the new session is the base
  await waitFor('the new session adopted', () => c.cursor.startsWith('S0000000002.'));
  assert.equal(c.cursor, 'S0000000002.d88b0c8d:3');
  c.close();
});

test('resync_required with reset (a restored database): the seqs delivered so far no longer hide new items', async () => {
  const { c, ws } = client();
  const seen = [];
  c.on('message', (m) => seen.push(m.content));
  const resyncs = [];
  c.on('resync', (p) => resyncs.push(p));
  await c.connect();
  const first = ws.sockets[0];
  for (let s = 1; s <= 5; s++) first.push({ type: 'message_received', payload: { conversationId: CONV, seq: s, content: 'old' + s } });
  first.serverClose(1001, 'reconnect');
  const second = await waitFor('a second socket', () => ws.sockets[1]);
  await waitFor('live again', () => c.status.state === 'live');
  second.push({ type: 'resync_required', payload: { reason: 'restored', reset: true } });
  // The restored database had 2 items; seq 3 is a new message, not the old one.
  second.push({ type: 'message_received', payload: { conversationId: CONV, seq: 3, content: 'new3' } });
  assert.deepEqual(resyncs.map((p) => p.reset), [true]);
  assert.deepEqual(seen, ['old1', 'old2', 'old3', 'old4', 'old5', 'new3']);
  c.close();
});

test('close 1013 waits the delay named in the reason before trying again', async () => {
  const { c, ws } = client();
  await c.connect();
  const before = Date.now();
  ws.sockets[0].serverClose(1013, 'try again in 1500 ms');
  await waitFor('reconnecting', () => c.status.state === 'reconnecting');
  const wait = c.status.retryAt - before;
  assert.ok(wait >= 1400 && wait <= 1700, `waited ${wait}`);
  c.close();
});

test('the outbox holds a message while offline, sends it after the resume, and retries an unknown outcome with the same id', async () => {
  const { c, ws } = client();
  const sent = [];
  c.on('sent', (m) => sent.push(m));
  const promise = c.send(CONV, 'typed offline', { clientMessageId: 'cm-1' });
  assert.equal(c.outbox.length, 1);
  let attempts = 0;
  const ids = [];
  c.connect();
  const socket = await waitFor('a socket', () => ws.sockets[0]);
  socket.onCommand = (env) => {
    if (env.type !== 'send_message') return;
    attempts++;
    ids.push(env.payload.clientMessageId);
    if (attempts === 1) {
      socket.push({ type: 'error', payload: { code: 'outcome_unknown', message: 'no answer in time' }, requestId: env.requestId });
    } else {
      socket.push({ type: 'message_sent', payload: { conversationId: CONV, seq: 7, clientMessageId: 'cm-1', content: 'typed offline' }, requestId: env.requestId });
    }
  };
  const message = await promise;
  assert.equal(message.seq, 7);
  assert.deepEqual(ids, ['cm-1', 'cm-1']);
  assert.equal(c.outbox.length, 0);
  assert.equal(sent.length, 1);
  c.close();
});

test('a send refused for good leaves the outbox and rejects', async () => {
  const { c, ws } = client();
  await c.connect();
  ws.sockets[0].onCommand = (env) => ws.sockets[0].push({ type: 'error', payload: { code: 'forbidden', message: 'not a member' }, requestId: env.requestId });
  await assert.rejects(c.send(CONV, 'x'), (e) => e.code === 'forbidden');
  assert.equal(c.outbox.length, 0);
  c.close();
});

test('typing sends one start per interval and a stop after the idle time', async () => {
  const { c, ws } = client({ options: { typingIntervalMs: 1000, typingIdleMs: 40 } });
  await c.connect();
  c.typing(CONV);
  c.typing(CONV);
  c.typing(CONV);
  await waitFor('typing_stop', () => ws.commands(ws.sockets[0]).some((e) => e.type === 'typing_stop'));
  assert.deepEqual(ws.commands(ws.sockets[0]).map((e) => e.type), ['typing_start', 'typing_stop']);
  c.close();
});

test('token refresh: a 4401 close calls refreshToken and reconnects with the new token', async () => {
  let asked = 0;
  const fresh = jwt({ sub: 'alice', n: 2 });
  const { c, ws } = client({ options: { refreshToken: async () => { asked++; return fresh; } } });
  await c.connect();
  ws.sockets[0].push({ type: 'token_expired', payload: { message: 'the token expired' } });
  ws.sockets[0].serverClose(4401, 'token_expired');
  const second = await waitFor('a second socket', () => ws.sockets[1]);
  await waitFor('live', () => c.status.state === 'live' && second.token);
  assert.equal(second.token, fresh);
  assert.equal(asked, 1);
  c.close();
});

/** fetch answering /api/health and an SSE stream with the given text chunks. */
function sseFetch(chunks, calls) {
  return async (url, init = {}) => {
    calls.push({ url, init });
    if (url.endsWith('/api/health')) {
      return new Response(JSON.stringify({ status: 'UP', node: 'n-sse' }), { status: 200 });
    }
    if (url.includes('/api/events')) {
      const body = new ReadableStream({
        start(controller) {
          for (const chunk of chunks.shift() || []) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      });
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
    }
    return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no' } }), { status: 404 });
  };
}

test('WebSockets refused by something that answers HTTP: the client falls back to SSE; SSE "try again" waits retryAfterMs', async () => {
  const calls = [];
  const connected = (id) => `event: connected\ndata: {"type":"connected","payload":{"userId":"alice","sessionId":"${id}","cursor":"${id}.","node":"n-sse","heartbeatSeconds":25}}\n\n`;
  const chunks = [
    [connected('SSESESSION01'), 'id: SSESESSION01.d88b0c8d:4\nevent: message_received\ndata: {"type":"message_received","payload":{"conversationId":"' + CONV + '","seq":4}}\n\n'],
    ['retry: 2345\n\nevent: error\ndata: {"type":"error","payload":{"code":"unavailable","retryAfterMs":2345}}\n\n'],
  ];
  const fallbacks = [];
  const { c } = client({ fake: { refuse: () => true }, fetch: sseFetch(chunks, calls) });
  c.on('fallback', (f) => fallbacks.push(f));
  const seqs = [];
  c.on('message', (m) => seqs.push(m.seq));
  await c.connect();
  assert.deepEqual(fallbacks.map((f) => f.to), ['sse']);
  assert.equal(c.status.transport, 'sse');
  const sse = calls.find((x) => x.url.includes('/api/events'));
  assert.equal(sse.init.headers.Authorization.startsWith('Bearer '), true);
  // the first stream ends after one event; the second answers with the "try again" form
  await waitFor('the try-again wait', () => c.status.state === 'reconnecting' && c.status.retryAt - Date.now() > 2000);
  const resumed = calls.filter((x) => x.url.includes('/api/events'))[1];
  assert.equal(resumed.init.headers['Last-Event-ID'], 'SSESESSION01.d88b0c8d:4');
  assert.deepEqual(seqs, [4]);
  c.close();
});

test('an incoming call queues early ICE candidates until the offer is applied, and answered_elsewhere ends it', async () => {
  const { c, ws } = client();
  await c.connect();
  const calls = [];
  c.on('incomingcall', (call) => calls.push(call));
  const socket = ws.sockets[0];
  socket.push({ type: 'ice_candidate', payload: { callId: 'k1', candidate: { candidate: 'early' } } });
  socket.push({ type: 'call_offer', payload: { callId: 'k1', conversationId: CONV, callerId: 'bob', media: 'audio', sdp: 'v=0' } });
  assert.equal(calls.length, 1);
  const call = calls[0];
  assert.equal(call.state, 'ringing');
  assert.equal(call.peerId, 'bob');
  assert.deepEqual(call._remoteQueue, [{ candidate: 'early' }]);
  socket.push({ type: 'call_end', payload: { callId: 'k1', reason: 'answered_elsewhere' } });
  assert.equal(call.state, 'ended');
  assert.equal(call.endReason, 'answered_elsewhere');
  c.close();
});

test('an outgoing call sends its offer, its candidates after the callId, applies the answer and hangs up', async () => {
  const added = [];
  class FakePeer {
    constructor(config) {
      this.config = config;
      this.connectionState = 'new';
      this.remoteDescription = null;
    }
    addTrack() {}
    async createOffer() {
      setTimeout(() => this.onicecandidate({ candidate: { toJSON: () => ({ candidate: 'mine' }) } }), 0);
      return { type: 'offer', sdp: 'offer-sdp' };
    }
    async setLocalDescription() {}
    async setRemoteDescription(d) { this.remoteDescription = d; }
    async addIceCandidate(c) { added.push(c); }
    close() { this.connectionState = 'closed'; }
  }
  const stream = { getTracks: () => [{ stop() {} }] };
  const { c, ws } = client({ options: { RTCPeerConnection: FakePeer } });
  await c.connect();
  const socket = ws.sockets[0];
  socket.onCommand = (env) => {
    const reply = (type, payload) => socket.push({ type, payload, requestId: env.requestId });
    if (env.type === 'get_ice_servers') reply('ice_servers', { iceServers: [{ urls: 'stun:example' }] });
    if (env.type === 'call_offer') {
      assert.equal(env.payload.sdp, 'offer-sdp');
      setTimeout(() => reply('call_ringing', { callId: 'k9', callerId: 'alice', calleeId: 'bob', state: 'ringing' }), 20);
    }
    if (env.type === 'ice_candidate' || env.type === 'call_end') reply('ack', {});
  };
  const call = await c.call(CONV, { media: 'video', localStream: stream });
  assert.equal(call.callId, 'k9');
  assert.equal(call.state, 'ringing');
  assert.deepEqual(call.pc.config.iceServers, [{ urls: 'stun:example' }]);
  await waitFor('the held candidate', () => ws.commands(socket).some((e) => e.type === 'ice_candidate'));
  assert.equal(ws.commands(socket).find((e) => e.type === 'ice_candidate').payload.callId, 'k9');
  socket.push({ type: 'ice_candidate', payload: { callId: 'k9', candidate: { candidate: 'theirs-early' } } });
  socket.push({ type: 'call_answer', payload: { callId: 'k9', sdp: 'answer-sdp' } });
  await waitFor('the early candidate applied', () => added.length === 1);
  assert.equal(call.state, 'active');
  assert.equal(call.pc.remoteDescription.sdp, 'answer-sdp');
  await call.hangup();
  assert.equal(call.state, 'ended');
  assert.ok(ws.commands(socket).some((e) => e.type === 'call_end' && e.payload.callId === 'k9'));
  c.close();
});
