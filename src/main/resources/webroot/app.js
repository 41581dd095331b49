// The Switchboard demo chat: everything goes through the browser client at /client/switchboard.js.
import { Switchboard, devToken, decodeJwt } from './client/switchboard.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const PAGE = 30;

const state = {
  client: null,
  me: null,
  conversations: new Map(), // id -> conversation
  current: null,
  messages: new Map(), // conversationId -> Map(seq -> message)
  oldest: new Map(), // conversationId -> lowest seq loaded (1 = all)
  typing: new Map(), // conversationId -> [userIds]
  reads: new Map(), // conversationId -> Map(userId -> seq)
  call: null,
};
window.sbApp = state; // for the browser tests and the curious

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function short(id) {
  return id ? String(id).slice(0, 8) : '';
}

function showError(where, e) {
  $(where).textContent = e ? (e.message || String(e)) : '';
}

// ---- sign in ----

const saved = JSON.parse(sessionStorage.getItem('sb.session') || 'null');
$('signin-nodes').value = params.get('nodes') || (saved && saved.nodes) || '';
$('signin-transport').value = params.get('transport') || (saved && saved.transport) || 'auto';
if (params.get('user')) $('signin-name').value = params.get('user');

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError('signin-error');
  const name = $('signin-name').value.trim();
  const jwt = $('signin-jwt').value.trim();
  const nodes = $('signin-nodes').value.split(',').map((s) => s.trim()).filter(Boolean);
  const transport = $('signin-transport').value;
  try {
    const token = jwt || (await devToken(nodes[0] || location.origin, name, name));
    const session = { token, name: jwt ? null : name, nodes: nodes.join(','), transport };
    sessionStorage.setItem('sb.session', JSON.stringify(session));
    start(session);
  } catch (e) {
    showError('signin-error', name || jwt ? e : new Error('give a name or a JWT'));
  }
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem('sb.session');
  if (state.client) state.client.close();
  location.href = location.pathname;
});

if (saved && saved.token) start(saved);

function start(session) {
  const claims = decodeJwt(session.token) || {};
  state.me = claims.sub;
  const nodes = session.nodes ? session.nodes.split(',') : [location.origin];
  const client = new Switchboard({
    urls: nodes,
    token: session.token,
    transport: session.transport || 'auto',
    storage: localStorage,
    connectTimeoutMs: Number(params.get('connectTimeoutMs')) || undefined,
    // Development tokens are simply minted again; a pasted JWT cannot be refreshed here.
    refreshToken: session.name ? async () => {
      const token = await devToken(nodes[0], session.name, session.name);
      session.token = token;
      sessionStorage.setItem('sb.session', JSON.stringify(session));
      return token;
    } : undefined,
  });
  state.client = client;
  document.body.dataset.view = 'list';
  $('signin').hidden = true;
  $('chat').hidden = false;
  $('me').hidden = false;
  $('me-name').textContent = claims.name || claims.sub;

  client.on('status', renderStatus);
  client.on('connected', () => loadConversations());
  client.on('message', onMessage);
  client.on('sent', onMessage);
  client.on('outbox', () => renderMessages());
  client.on('typing', ({ conversationId, userIds }) => {
    state.typing.set(conversationId, userIds);
    renderTyping();
  });
  client.on('presence', () => {
    renderMembers();
    renderConversations();
  });
  client.on('receipt', (r) => {
    if (!state.reads.has(r.conversationId)) state.reads.set(r.conversationId, new Map());
    const reads = state.reads.get(r.conversationId);
    reads.set(r.userId, Math.max(reads.get(r.userId) || 0, r.seq));
    if (r.userId === state.me) {
      const c = state.conversations.get(r.conversationId);
      if (c && r.seq >= (c.lastReadSeq || 0)) {
        c.lastReadSeq = r.seq;
        c.unreadCount = Math.min(c.unreadCount || 0, countUnread(c));
        renderConversations();
      }
    }
    renderSeenBy();
  });
  client.on('conversation_created', (p) => refreshConversation(p.conversationId || p.id));
  client.on('member_joined', (p) => refreshConversation(p.conversationId));
  client.on('member_left', (p) => {
    if (p.userId === state.me) {
      state.conversations.delete(p.conversationId);
      if (state.current === p.conversationId) select(null);
      renderConversations();
    } else {
      refreshConversation(p.conversationId);
    }
  });
  client.on('resync', () => client.reloadHistory().then(() => loadConversations()));
  // SPEC §3b: a message's later life, and the group's changes.
  client.on('message_edited', (p) => patchMessage(p.conversationId, p.messageId, (m) => {
    m.content = p.content;
    m.editedAt = p.editedAt;
  }));
  client.on('message_deleted', (p) => patchMessage(p.conversationId, p.messageId, (m) => {
    m.deleted = true;
    m.content = null;
    m.reactions = [];
  }));
  client.on('reaction_updated', (p) => patchMessage(p.conversationId, p.messageId, (m) => {
    const list = m.reactions || [];
    const old = list.find((r) => r.emoji === p.emoji);
    const me = p.userId === state.me ? p.on : !!(old && old.me);
    const next = { emoji: p.emoji, count: p.count, me };
    m.reactions = old ? list.map((r) => (r === old ? next : r)) : [...list, next];
    m.reactions = m.reactions.filter((r) => r.count > 0);
  }));
  client.on('conversation_updated', (p) => refreshConversation(p.conversationId));
  client.on('incomingcall', (call) => showCall(call));
  client.on('error', (e) => console.warn('switchboard:', e.code, e.message));
  client.on('fallback', (f) => console.info(`switchboard: ${f.from} does not get through (${f.reason}); trying ${f.to}`));
  client.on('status', (s) => console.debug('switchboard status', s.state, s.transport, s.url, s.error || ''));
  setInterval(() => renderStatus(client.status), 1000);
  client.connect();
}

// ---- connection bar ----

function renderStatus(s) {
  const conn = $('conn');
  conn.dataset.state = s.state;
  conn.dataset.transport = s.transport || '';
  conn.dataset.node = s.node || '';
  let text = { idle: 'not connected', connecting: 'connecting…', live: 'live', offline: 'offline' }[s.state] || s.state;
  if (s.state === 'reconnecting' || (s.state === 'offline' && s.retryInMs != null)) {
    text = s.retryInMs != null && s.retryInMs > 0 ? `reconnecting in ${Math.ceil(s.retryInMs / 1000)} s` : 'reconnecting…';
    if (s.state === 'offline') text = 'offline, ' + text;
  }
  $('conn-state').textContent = text;
  $('conn-transport').textContent = s.transport ? `· ${s.transport}` : '';
  $('conn-node').textContent = s.node ? `· node ${short(s.node)}` : '';
  $('conn-node').title = s.url ? `${s.url} (${s.node || '?'})` : '';
}

// ---- conversations ----

async function loadConversations() {
  try {
    const list = await state.client.conversations();
    for (const c of list) state.conversations.set(c.id, { ...state.conversations.get(c.id), ...c });
    renderConversations();
    const others = new Set();
    list.forEach((c) => c.members.forEach((m) => m.userId !== state.me && others.add(m.userId)));
    state.client.loadPresence([...others]);
    if (state.current) {
      await state.client.joinConversation(state.current);
      renderRoom();
    }
  } catch (e) {
    showError('side-error', e);
  }
}

async function refreshConversation(id) {
  if (!id) return;
  try {
    const c = await state.client.conversation(id);
    state.conversations.set(c.id, { ...state.conversations.get(c.id), ...c });
    renderConversations();
    if (state.current === id) renderRoom();
  } catch (e) {
    if (e.code !== 'forbidden') showError('side-error', e);
  }
}

function title(c) {
  if (c.type === 'group') return c.name;
  const other = c.members.find((m) => m.userId !== state.me);
  return other ? other.name || other.userId : 'direct';
}

function preview(m) {
  if (!m) return '';
  if (m.kind === 'system') return systemText(m);
  const text = m.deleted ? 'message deleted' : typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
  return `${m.senderId === state.me ? 'You' : m.senderId}: ${text}`;
}

function systemText(m) {
  const c = m.content || {};
  if (c.event === 'member_joined') return `${c.userId} joined`;
  if (c.event === 'member_left') return c.by ? `${c.userId} was removed by ${c.by}` : `${c.userId} left`;
  if (c.event === 'conversation_updated') {
    if (c.name) return `${m.senderId} renamed the group to ${c.name}`;
    return (c.members || []).map((x) => `${x.userId} is now ${x.role}`).join(', ') || 'the group changed';
  }
  if (c.event === 'message_edited') return `${m.senderId} edited a message`;
  if (c.event === 'message_deleted') return `${m.senderId} deleted a message`;
  if (c.event === 'reaction_updated') return `${c.userId} reacted ${c.emoji}`;
  return c.event || 'system';
}

/** The timeline items shown as lines of their own (edits, deletes and reactions change a message instead). */
const SHOWN_SYSTEM = new Set(['member_joined', 'member_left', 'conversation_updated']);

/** Applies a change to a loaded message and redraws; a message not loaded yet comes as it is now with its page. */
function patchMessage(conversationId, messageId, change) {
  const msgs = state.messages.get(conversationId);
  const m = msgs && [...msgs.values()].find((x) => x.id === messageId);
  if (!m) return;
  change(m);
  if (conversationId === state.current) renderMessages();
  renderConversations();
}

async function act(type, payload) {
  try {
    await state.client.request(type, payload);
    showError('room-error', null);
  } catch (e) {
    showError('room-error', e);
  }
}

function messageActions(m, mine, text) {
  const react = (emoji, on) => act('react', { conversationId: m.conversationId, messageId: m.id, emoji, on });
  const chips = (m.reactions || []).map((r) => el('button', {
    type: 'button', class: 'reaction' + (r.me ? ' me' : ''), title: r.me ? 'Remove your reaction' : 'React', text: `${r.emoji} ${r.count}`,
  }));
  chips.forEach((b, i) => b.addEventListener('click', () => react(m.reactions[i].emoji, !m.reactions[i].me)));
  const buttons = [...chips];
  if (!(m.reactions || []).some((r) => r.emoji === '👍')) {
    const like = el('button', { type: 'button', class: 'react', title: 'React with 👍', text: '👍' });
    like.addEventListener('click', () => react('👍', true));
    buttons.push(like);
  }
  if (mine && typeof m.content === 'string') {
    const edit = el('button', { type: 'button', class: 'edit', text: 'Edit' });
    edit.addEventListener('click', () => {
      const next = prompt('Edit your message', text);
      if (next && next !== text) act('edit_message', { conversationId: m.conversationId, messageId: m.id, content: next });
    });
    buttons.push(edit);
  }
  if (mine) {
    const del = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    del.addEventListener('click', () => {
      if (confirm('Delete this message for everyone?')) act('delete_message', { conversationId: m.conversationId, messageId: m.id });
    });
    buttons.push(del);
  }
  return el('span', { class: 'actions' }, ...buttons);
}

function countUnread(c) {
  const msgs = state.messages.get(c.id);
  if (!msgs) return c.unreadCount || 0;
  let n = 0;
  for (const m of msgs.values()) if (m.seq > (c.lastReadSeq || 0) && m.senderId !== state.me && m.kind !== 'system') n++;
  return n;
}

function renderConversations() {
  const ul = $('conversations');
  const list = [...state.conversations.values()].sort((a, b) =>
    String(b.updatedAt || b.createdAt || '').localeCompare(String(a.updatedAt || a.createdAt || '')));
  ul.replaceChildren(...list.map((c) => {
    const other = c.type === 'direct' && c.members.find((m) => m.userId !== state.me);
    const online = other && state.client.presence(other.userId);
    const button = el('button', { type: 'button', 'aria-current': c.id === state.current ? 'true' : 'false', dataset: { id: c.id } },
      el('span', { class: 'name' },
        other ? el('span', { class: 'presence', 'data-online': String(!!(online && online.online)), 'aria-hidden': 'true' }) : null,
        title(c)),
      el('span', { class: 'unread', 'aria-label': `${c.unreadCount || 0} unread`, text: c.unreadCount ? String(c.unreadCount) : '' }),
      el('span', { class: 'last', text: preview(c.lastMessage) }));
    button.addEventListener('click', () => select(c.id));
    return el('li', {}, button);
  }));
}

async function select(id) {
  state.current = id;
  document.body.dataset.view = id ? 'room' : 'list';
  renderConversations();
  renderRoom();
  if (!id) return;
  state.client.joinConversation(id).catch((e) => showError('side-error', e));
  if (!state.messages.has(id)) await loadOlder(id);
  markSeen();
  $('composer-input').focus();
}

async function loadOlder(id = state.current) {
  try {
    const before = state.oldest.get(id);
    if (before === 1) return;
    const page = await state.client.messages(id, before ? { before, limit: PAGE } : { limit: PAGE });
    const msgs = state.messages.get(id) || new Map();
    state.messages.set(id, msgs);
    for (const m of page) msgs.set(m.seq, m);
    const lowest = page.length ? page[0].seq : 1;
    state.oldest.set(id, page.length < PAGE ? 1 : lowest);
    const c = state.conversations.get(id);
    if (c && page.length && (!c.lastMessage || page[page.length - 1].seq >= c.lastMessage.seq)) c.lastMessage = page[page.length - 1];
    const scroller = $('scroller');
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    renderMessages();
    if (before) scroller.scrollTop = scroller.scrollHeight - fromBottom; // keep the view where it was
    else scroller.scrollTop = scroller.scrollHeight;
  } catch (e) {
    showError('side-error', e);
  }
}

function onMessage(m) {
  if (!m || !m.conversationId) return;
  let msgs = state.messages.get(m.conversationId);
  if (!msgs) {
    msgs = new Map();
    state.messages.set(m.conversationId, msgs);
  }
  msgs.set(m.seq, m);
  const c = state.conversations.get(m.conversationId);
  if (!c) {
    refreshConversation(m.conversationId);
    return;
  }
  if (!c.lastMessage || m.seq >= c.lastMessage.seq) c.lastMessage = m;
  c.updatedAt = m.createdAt;
  c.lastSeq = Math.max(c.lastSeq || 0, m.seq);
  if (m.senderId === state.me) c.lastReadSeq = Math.max(c.lastReadSeq || 0, m.seq);
  if (m.conversationId === state.current) {
    const scroller = $('scroller');
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    renderMessages();
    if (atBottom || m.senderId === state.me) scroller.scrollTop = scroller.scrollHeight;
    markSeen();
  } else if (m.senderId !== state.me && m.kind !== 'system' && m.seq > (c.lastReadSeq || 0)) {
    c.unreadCount = (c.unreadCount || 0) + 1;
  }
  renderConversations();
}

let seenTimer;
function markSeen() {
  clearTimeout(seenTimer);
  seenTimer = setTimeout(() => {
    const c = state.conversations.get(state.current);
    if (!c || document.hidden) return;
    const msgs = state.messages.get(c.id);
    const last = msgs && msgs.size ? Math.max(...msgs.keys()) : 0;
    if (last > (c.lastReadSeq || 0) || c.unreadCount) {
      c.lastReadSeq = Math.max(c.lastReadSeq || 0, last);
      c.unreadCount = 0;
      renderConversations();
      state.client.markRead(c.id, last).catch(() => {});
    }
  }, 150);
}
document.addEventListener('visibilitychange', markSeen);

// ---- the room ----

function renderRoom() {
  const c = state.conversations.get(state.current);
  $('room-empty').hidden = !!c;
  $('room-main').hidden = !c;
  if (!c) return;
  $('room-name').textContent = title(c);
  $('invite-code').textContent = c.inviteCode || '—';
  const others = c.members.filter((m) => m.userId !== state.me);
  const callee = $('callee');
  callee.hidden = others.length < 2;
  callee.replaceChildren(...others.map((m) => el('option', { value: m.userId, text: m.name || m.userId })));
  $('call-audio').disabled = $('call-video').disabled = others.length === 0;
  renderMembers();
  renderMessages();
  renderTyping();
}

function renderMembers() {
  const c = state.conversations.get(state.current);
  if (!c) return;
  $('members').replaceChildren(...c.members.map((m) => {
    const p = m.userId === state.me ? { online: state.client.status.state === 'live' } : state.client.presence(m.userId);
    const online = !!(p && p.online);
    const status = online && p.status && p.status !== 'online' ? p.status : null;
    return el('li', { dataset: { user: m.userId, online: String(online) }, title: p && p.text ? p.text : null },
      el('span', { class: 'presence', 'data-online': String(online), 'aria-hidden': 'true' }),
      `${m.name || m.userId}${m.userId === state.me ? ' (you)' : ''}${status ? ` (${status})` : ''}`,
      el('span', { class: 'sr-only', text: online ? ' online' : ' offline' }));
  }));
}

function renderMessages() {
  const id = state.current;
  if (!id) return;
  const msgs = [...(state.messages.get(id) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const stored = new Set(msgs.map((m) => m.clientMessageId).filter(Boolean));
  // Messages still in the outbox are shown once, as pending, until the stored one arrives.
  const pending = state.client.outbox.filter((i) => i.conversationId === id && !stored.has(i.clientMessageId));
  const items = msgs.filter((m) => m.kind !== 'system' || SHOWN_SYSTEM.has((m.content || {}).event)).map((m) => {
    if (m.kind === 'system') return el('li', { class: 'system', dataset: { seq: m.seq } }, systemText(m));
    const mine = m.senderId === state.me;
    const text = m.deleted ? 'message deleted' : typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    return el('li', { class: 'message' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : ''),
      dataset: { seq: m.seq, sender: m.senderId, id: m.id } },
      mine ? null : el('span', { class: 'sender', text: senderName(m.senderId) }),
      el('span', { class: 'text', text }),
      m.editedAt && !m.deleted ? el('span', { class: 'edited', text: '(edited)' }) : null,
      el('time', { datetime: m.createdAt, text: new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) }),
      m.deleted ? null : messageActions(m, mine, text));
  });
  for (const i of pending) {
    items.push(el('li', { class: 'message mine pending', dataset: { clientMessageId: i.clientMessageId } },
      el('span', { class: 'text', text: typeof i.content === 'string' ? i.content : JSON.stringify(i.content) }),
      el('time', { text: 'sending…' })));
  }
  $('messages').replaceChildren(...items);
  $('load-older').hidden = state.oldest.get(id) === 1;
  renderSeenBy();
}

function senderName(userId) {
  const c = state.conversations.get(state.current);
  const m = c && c.members.find((x) => x.userId === userId);
  return (m && m.name) || userId;
}

function renderSeenBy() {
  const c = state.conversations.get(state.current);
  const out = $('seen-by');
  if (!c) return;
  const msgs = [...(state.messages.get(c.id) || new Map()).values()].filter((m) => m.senderId === state.me && m.kind !== 'system');
  const last = msgs.length ? Math.max(...msgs.map((m) => m.seq)) : 0;
  const reads = state.reads.get(c.id) || new Map();
  const who = last ? [...reads].filter(([u, s]) => u !== state.me && s >= last).map(([u]) => senderName(u)) : [];
  out.textContent = who.length ? `Seen by ${who.join(', ')}` : '';
}

function renderTyping() {
  const who = (state.typing.get(state.current) || []).map(senderName);
  $('typing').textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
}

$('my-status').addEventListener('change', async (ev) => {
  try {
    await state.client.request('set_status', { status: ev.target.value });
  } catch (e) {
    console.warn('switchboard: set_status', e.code, e.message);
  }
});
$('load-older').addEventListener('click', () => loadOlder());
$('back').addEventListener('click', () => select(null));
$('composer-input').addEventListener('input', () => state.current && state.client.typing(state.current));
$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('composer-input');
  const text = input.value.trim();
  if (!text || !state.current) return;
  input.value = '';
  state.client.send(state.current, text).catch((e) => showError('side-error', e));
  renderMessages();
  $('scroller').scrollTop = $('scroller').scrollHeight;
});

$('group-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError('side-error');
  const members = $('group-members').value.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    const c = await state.client.createGroup($('group-name').value.trim(), members);
    state.conversations.set(c.id, c);
    $('group-name').value = '';
    $('group-members').value = '';
    await select(c.id);
  } catch (e) {
    showError('side-error', e);
  }
});

$('join-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError('side-error');
  try {
    const c = await state.client.joinGroup($('join-code').value.trim());
    state.conversations.set(c.id, c);
    $('join-code').value = '';
    await select(c.id);
  } catch (e) {
    showError('side-error', e);
  }
});

// ---- calls ----

async function startCall(media) {
  const c = state.conversations.get(state.current);
  if (!c || state.call) return;
  const others = c.members.filter((m) => m.userId !== state.me);
  const calleeId = others.length > 1 ? $('callee').value : others[0].userId;
  try {
    const call = await state.client.call(c.id, { media, calleeId });
    showCall(call);
  } catch (e) {
    showError('side-error', e);
  }
}
$('call-audio').addEventListener('click', () => startCall('audio'));
$('call-video').addEventListener('click', () => startCall('video'));

function showCall(call) {
  if (state.call && !state.call.ended && state.call !== call) {
    call.decline('busy');
    return;
  }
  state.call = call;
  const panel = $('call');
  panel.hidden = false;
  const render = () => {
    const who = senderName(call.peerId) || call.peerId;
    const text = {
      ringing: call.direction === 'incoming' ? `${who} is calling (${call.media})` : `Calling ${who}…`,
      active: call.connectionState === 'connected' ? `In a call with ${who}` : `Connecting to ${who}…`,
      busy: `${who} is busy`,
      declined: `${who} declined`,
      missed: call.direction === 'incoming' ? `Missed call from ${who}` : `${who} did not answer`,
      ended: `Call ended${call.endReason && call.endReason !== 'ended' ? ` (${call.endReason.replace(/_/g, ' ')})` : ''}`,
    }[call.state] || call.state;
    $('call-state').textContent = text;
    panel.dataset.state = call.state;
    panel.dataset.connection = call.connectionState;
    $('call-accept').hidden = !(call.state === 'ringing' && call.direction === 'incoming');
    $('call-decline').hidden = $('call-accept').hidden;
    $('call-hangup').hidden = call.ended || !$('call-accept').hidden;
  };
  call.on('state', render);
  call.on('connectionstatechange', render);
  call.on('remotestream', (s) => {
    $('remote-video').srcObject = s;
  });
  call.on('ended', () => {
    render();
    setTimeout(() => {
      if (state.call === call) {
        panel.hidden = true;
        state.call = null;
        $('remote-video').srcObject = null;
        $('local-video').srcObject = null;
      }
    }, 2500);
  });
  if (call.localStream) $('local-video').srcObject = call.localStream;
  render();
  if (call.direction === 'incoming') $('call-accept').focus();
}

$('call-accept').addEventListener('click', async () => {
  const call = state.call;
  if (!call) return;
  try {
    await call.accept();
    $('local-video').srcObject = call.localStream;
    $('call-hangup').focus();
  } catch (e) {
    showError('side-error', e);
  }
});
$('call-decline').addEventListener('click', () => state.call && state.call.decline());
$('call-hangup').addEventListener('click', () => state.call && state.call.hangup());
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && state.call && !state.call.ended) {
    if (state.call.state === 'ringing' && state.call.direction === 'incoming') state.call.decline();
  }
});
