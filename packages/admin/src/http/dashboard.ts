/**
 * The web dashboard: two pages without data (the queue overview, a message's page) and one
 * small script that fills them from the admin API with the bearer token. The token is asked for
 * once per tab and kept in sessionStorage; a 401 asks again. Everything from the API is put in
 * the page as text (textContent), never as markup.
 *
 * Overview: recipients by state, deferred outbound mail by domain and age, and the queued
 * messages, searchable (part of a queue id, Message-ID, sender or recipient) and filtered by
 * state. A message: its envelope and origin, each recipient's state and latest attempt, its
 * trace, and the actions retry, hold, release, return to sender (bounce) and delete.
 */

const style = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
main { padding: 16px 20px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
h2 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff3; vertical-align: top; }
th { font-weight: 600; color: #5a6272; }
code, .mono { font-family: ui-monospace, monospace; font-size: 13px; }
.state { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; background: #e8ebf0; }
.state-deferred { background: #fff1d6; } .state-failed { background: #ffe0e0; } .state-held { background: #e3e0ff; } .state-active { background: #dcf5e3; }
.counts { display: flex; gap: 24px; } .counts div { font-size: 12px; color: #5a6272; } .counts b { display: block; font-size: 22px; color: #1d2330; }
button { margin-right: 6px; padding: 4px 10px; }
#result { white-space: pre-wrap; }
.error { color: #b00020; }
#token-box { display: none; } #token-box.shown { display: block; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} — Mailway</title><style>${style}</style></head>
<body><header><a href="/">Mailway queue</a><span id="where"></span></header>
<main>
<section id="token-box"><h2>Admin token</h2><p>The admin API needs its token (MAILWAY_ADMIN_TOKEN); it is kept in this tab only.</p>
<input id="token" type="password" size="40" autocomplete="off"> <button id="token-save">Use token</button></section>
<p id="error" class="error"></p>
${body}
</main><script src="/dashboard.js" type="module"></script></body></html>`;
}

/** The queue overview. */
export function dashboardPage(): string {
  return page(
    'Queue',
    `<section><h2>Recipients by state</h2><div class="counts" id="counts"></div></section>
<section><h2>Deferred outbound mail by domain and age</h2><table id="deferred"></table></section>
<section><h2>Queued messages</h2>
<input id="search" type="search" placeholder="queue id, sender, recipient, Message-ID" size="40">
<select id="state"><option value="">any state</option><option>queued</option><option>active</option><option>deferred</option><option>held</option><option>failed</option></select>
<button id="retry-all">Retry all deferred</button>
<table id="messages"><thead><tr><th>Queue ID</th><th>Age</th><th>Sender</th><th>Recipients</th></tr></thead><tbody></tbody></table></section>`,
  );
}

/** One message's page (its id is in the path). */
export function messagePage(): string {
  return page(
    'Message',
    `<section><h2>Message <code id="queue-id"></code></h2><table id="envelope"></table>
<p><button data-action="retry">Retry now</button><button data-action="hold">Hold</button><button data-action="release">Release</button><button data-action="bounce">Return to sender</button><button data-action="delete">Delete</button></p>
<p id="result"></p></section>
<section><h2>Recipients</h2><table id="recipients"><thead><tr><th>Recipient</th><th>State</th><th>Queue</th><th>Next attempt</th><th>Latest attempt</th></tr></thead><tbody></tbody></table></section>
<section><h2>Attempts per job</h2><table id="attempts"><thead><tr><th>Job</th><th>Recipient</th><th>Outcome</th><th>At</th><th>Host</th><th>TLS</th><th>Reply</th></tr></thead><tbody></tbody></table></section>
<section><h2>Trace</h2><table id="trace"><thead><tr><th>Time</th><th>Agent</th><th>Event</th><th>Recipient</th><th>What happened</th></tr></thead><tbody></tbody></table></section>`,
  );
}

/** The script of both pages (plain browser JavaScript, no build). */
export function dashboardScript(): string {
  return `
const $ = (id) => document.getElementById(id);
const tokenKey = 'mailway-admin-token';

/** Calls the API with the token; a 401 asks for the token again. */
async function api(method, path) {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) { askToken(); throw new Error('the admin token is needed'); }
  const response = await fetch('/api' + path, { method, headers: { authorization: 'Bearer ' + token } });
  if (response.status === 401) { sessionStorage.removeItem(tokenKey); askToken('That token was refused.'); throw new Error('token refused'); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function askToken(why) {
  $('token-box').classList.add('shown');
  if (why) $('error').textContent = why;
}

$('token-save').addEventListener('click', () => {
  sessionStorage.setItem(tokenKey, $('token').value.trim());
  $('token-box').classList.remove('shown');
  $('error').textContent = '';
  load();
});

/** A table row of cells, each given as text or as a node. */
function row(cells, tag = 'td') {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement(tag);
    if (cell instanceof Node) td.append(cell); else td.textContent = cell == null ? '' : String(cell);
    tr.append(td);
  }
  return tr;
}

function stateBadge(state) {
  const span = document.createElement('span');
  span.className = 'state state-' + state;
  span.textContent = state;
  return span;
}

function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm';
  const h = Math.floor(m / 60);
  return h < 24 ? h + 'h' + String(m % 60).padStart(2, '0') + 'm' : Math.floor(h / 24) + 'd' + String(h % 24).padStart(2, '0') + 'h';
}

async function loadOverview() {
  const summary = await api('GET', '/summary');
  const counts = $('counts');
  counts.replaceChildren();
  for (const [state, n] of [['messages', summary.messages], ...Object.entries(summary.recipients)]) {
    const div = document.createElement('div');
    div.dataset.state = state;
    const b = document.createElement('b');
    b.textContent = String(n);
    div.append(b, state);
    counts.append(div);
  }
  const deferred = $('deferred');
  deferred.replaceChildren();
  if (summary.deferredByDomain.length === 0) deferred.append(row(['no deferred outbound mail']));
  else {
    const labels = Object.keys(summary.deferredByDomain[0].buckets);
    deferred.append(row(['Domain', 'Total', ...labels], 'th'));
    for (const d of summary.deferredByDomain) deferred.append(row([d.domain, d.total, ...labels.map((l) => d.buckets[l])]));
  }
  await loadMessages();
}

async function loadMessages() {
  const params = new URLSearchParams();
  if ($('search').value.trim()) params.set('q', $('search').value.trim());
  if ($('state').value) params.set('state', $('state').value);
  const messages = await api('GET', '/messages?' + params);
  const body = $('messages').tBodies[0];
  body.replaceChildren();
  for (const m of messages) {
    const link = document.createElement('a');
    link.href = '/messages/' + encodeURIComponent(m.queueId);
    link.textContent = m.queueId;
    link.className = 'mono';
    const list = document.createElement('div');
    for (const r of m.recipients) {
      const line = document.createElement('div');
      line.append(r.address + ' ', stateBadge(r.state));
      list.append(line);
    }
    const tr = row([link, age(m.ageMs), m.sender === '' ? '<>' : m.sender, list]);
    tr.dataset.queueId = m.queueId;
    body.append(tr);
  }
  if (messages.length === 0) body.append(row(['no queued message matched']));
}

function describe(e) {
  const via = e.remote ? ' via ' + e.remote + (e.tls ? ' (' + e.tls + ')' : '') : '';
  switch (e.type) {
    case 'accepted': return 'from <' + (e.from ?? '') + '> to ' + (e.recipients ?? []).join(', ') + (e.client ? '; client [' + e.client + ']' + (e.helo ? ' (' + e.helo + ')' : '') + ', ' + (e.tls ?? 'no TLS') + (e.user ? ', user ' + e.user : '') : '') + (e.about ? '; notice about ' + e.about : '');
    case 'routed': return e.route === 'local' ? 'local delivery' : 'outbound to ' + e.route;
    case 'delivered': return e.file ? e.file : via + ': ' + (e.reply ?? '');
    case 'deferred': case 'failed': return (via ? via.trim() + ', ' : '') + (e.attempt ? 'attempt ' + e.attempt + ': ' : '') + (e.reply ?? '');
    case 'expanded': return 'to ' + (e.targets ?? []).join(', ');
    case 'notice': return (e.kind ?? '') + ' notice ' + (e.notice ?? '') + ' for ' + (e.recipients ?? []).join(', ');
    case 'operator': return (e.action ?? '') + (e.route ? ' (' + e.route + ')' : '') + ': ' + (e.recipients ?? []).join(', ');
    default: return '';
  }
}

async function loadMessage(queueId) {
  $('queue-id').textContent = queueId;
  const envelope = $('envelope');
  envelope.replaceChildren();
  const recipients = $('recipients').tBodies[0];
  recipients.replaceChildren();
  const attempts = $('attempts').tBodies[0];
  attempts.replaceChildren();
  let detail = null;
  try { detail = await api('GET', '/messages/' + queueId); } catch (error) { envelope.append(row([String(error.message)])); }
  if (detail) {
    const o = detail.origin;
    for (const [k, v] of [['Arrived', detail.arrivedAt + ' (' + age(detail.ageMs) + ' ago)'], ['Sender', detail.envelope ? (detail.envelope.from || '<>') : ''], ['Recipients', detail.envelope ? detail.envelope.recipients.map((r) => r.address).join(', ') : ''], ['Size', detail.size + ' octets'], ['Message-ID', detail.messageId ?? '(none)'], ['Origin', o ? o.agent + (o.client ? ' from [' + o.client.address + ']' : '') + (o.user ? ', user ' + o.user : '') + (o.tls ? ', ' + o.tls.protocol : '') : '']]) envelope.append(row([k, v]));
    for (const r of detail.recipients) {
      const tr = row([r.address, stateBadge(r.state), r.queue, r.nextAttemptAt ?? '', r.lastAttempt ? (r.lastAttempt.remoteMta ?? 'no host') + ': ' + r.lastAttempt.diagnostic : (r.error ?? '')]);
      tr.dataset.recipient = r.address;
      recipients.append(tr);
    }
    if (detail.recipients.length === 0) recipients.append(row(['no recipient left in the queue']));
    for (const j of detail.jobs) for (const a of j.progress?.last ?? []) attempts.append(row([j.queue + ' ' + (j.domain ?? ''), a.address, a.state + ' ' + a.status, a.at, a.remoteMta ?? '', a.tls ?? 'none', a.diagnostic]));
  }
  const trace = $('trace').tBodies[0];
  trace.replaceChildren();
  try {
    for (const e of await api('GET', '/messages/' + queueId + '/trace')) {
      const tr = row([e.storedAt, e.agent, e.type, e.recipient ?? '', describe(e)]);
      tr.dataset.event = e.type;
      trace.append(tr);
    }
  } catch (error) { trace.append(row([String(error.message)])); }
}

async function act(queueId, action) {
  if ((action === 'delete' || action === 'bounce') && !confirm(action === 'delete' ? 'Delete this message for good?' : 'Return this message to its sender now?')) return;
  const result = await api(action === 'delete' ? 'DELETE' : 'POST', '/messages/' + queueId + (action === 'delete' ? '' : '/' + action));
  const n = result.promoted ? result.promoted.length : result.done.length;
  $('result').textContent = action + ': ' + (n > 0 ? n + ' job' + (n === 1 ? '' : 's') + ' done' : 'nothing to do') + (result.active && result.active.length ? '; running now: ' + result.active.length : '') + (result.notice ? '; notice ' + result.notice : '');
  await loadMessage(queueId);
}

function load() {
  const match = /^\\/messages\\/([^/]+)$/.exec(location.pathname);
  const work = match ? loadMessage(decodeURIComponent(match[1])) : loadOverview();
  work.catch((error) => { if ($('error').textContent === '') $('error').textContent = String(error.message); });
}

if (/^\\/messages\\//.test(location.pathname)) {
  for (const button of document.querySelectorAll('button[data-action]')) {
    button.addEventListener('click', () => act(decodeURIComponent(location.pathname.split('/')[2]), button.dataset.action).catch((error) => ($('result').textContent = String(error.message))));
  }
} else {
  let timer;
  $('search').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => loadMessages().catch(() => {}), 200); });
  $('state').addEventListener('change', () => loadMessages().catch(() => {}));
  $('retry-all').addEventListener('click', async () => { await api('POST', '/retry'); await loadOverview(); });
}
if (sessionStorage.getItem(tokenKey)) load(); else askToken();
`;
}
