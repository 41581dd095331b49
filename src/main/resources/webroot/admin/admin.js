// The operations page: polls GET /api/admin/cluster (admin API key) and shows the cluster.
const $ = (id) => document.getElementById(id);
let timer = null;

function cell(text, tag = 'td') {
  const c = document.createElement(tag);
  c.textContent = text;
  return c;
}

function row(cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

function nodeRow(n, label) {
  const c = n.connections || {};
  const nameCell = cell(label);
  return row([nameCell, cell(c.sse ?? 0), cell(c.ws ?? 0), cell(c.bridge ?? 0), cell(c.poll ?? 0), cell(n.usersOnline ?? 0),
    cell(n.rooms ?? 0), cell(n.eventsInPerSecond ?? 0), cell(n.eventsOutPerSecond ?? 0), cell(sum(n.slowConsumerCuts)),
    cell(`${(n.resumes || {}).resumed ?? 0} (${(n.resumes || {}).resync ?? 0})`)]);
}

async function refresh() {
  const key = sessionStorage.getItem('sb.adminKey');
  if (!key) return;
  try {
    const res = await fetch('/api/admin/cluster', { headers: { 'X-API-Key': key }, cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || `HTTP ${res.status}`);
    $('admin-error').textContent = '';
    $('view').hidden = false;
    const t = body.totals;
    $('t-members').textContent = `${body.nodes.length}/${body.clusterSize}`;
    $('t-connections').textContent = sum(t.connections);
    $('t-users').textContent = t.usersOnline;
    $('t-out').textContent = t.eventsOutPerSecond;
    $('t-cuts').textContent = sum(t.slowConsumerCuts);
    $('t-resumes').textContent = `${t.resumes.resumed ?? 0} (${t.resumes.resync ?? 0})`;
    $('nodes').tBodies[0].replaceChildren(...body.nodes.map((n) =>
      nodeRow(n, n.node.slice(0, 8) + (n.self ? ' (this node)' : ''))));
    $('nodes').tFoot.replaceChildren(nodeRow(t, 'Cluster'));
    $('missing').textContent = body.missing.length
      ? 'Not answering: ' + body.missing.map((m) => `${m.node.slice(0, 8)} (${m.error})`).join(', ') : '';
    $('commands').tBodies[0].replaceChildren(...Object.entries(t.commands).map(([k, v]) => row([cell(k), cell(v)])));
    $('summary').textContent = `${body.nodes.length} of ${body.clusterSize} members answered · ` +
      `${sum(t.connections)} connections · updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('admin-error').textContent = e.message;
  }
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('sb.adminKey', $('api-key').value);
  clearInterval(timer);
  refresh();
  timer = setInterval(refresh, 2000);
});

if (sessionStorage.getItem('sb.adminKey')) {
  $('api-key').value = sessionStorage.getItem('sb.adminKey');
  refresh();
  timer = setInterval(refresh, 2000);
}
