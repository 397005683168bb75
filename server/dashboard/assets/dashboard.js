// Tandem status dashboard. Polls this node's status and apps once a second,
// and the other members' status too when the browser may read it. The DOM is
// built with createElement and textContent, never innerHTML, because app
// names and inactive reasons come from users.
'use strict';

const POLL_MS = 1000;
const TIMEOUT_MS = 2500;
// The other member is usually on another origin without CORS headers; after
// a failure, try it less often rather than every second.
const RETRY_OTHER_MS = 5000;

const self = { status: null, apps: null, offset: 0, at: 0, error: '' };
const others = new Map(); // member id -> { url, status, offset, at, error, next }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const num = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');

// ago formats the time since iso, on the server's clock when its Date header
// told us how far this browser's clock is off.
function ago(iso, offset) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t) || t <= 0) return 'never';
  const s = Math.round((Date.now() + offset - t) / 1000);
  if (s < 1) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function timeEl(iso, offset) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t) || t <= 0) return 'never';
  return el('time', { datetime: iso, title: new Date(t).toLocaleString() }, ago(iso, offset));
}

async function fetchJSON(url, crossOrigin) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(url, {
      signal: ctl.signal,
      cache: 'no-store',
      mode: crossOrigin ? 'cors' : 'same-origin',
      credentials: crossOrigin ? 'omit' : 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    const data = await res.json();
    // The Date header has whole seconds: ignore offsets that small.
    const date = Date.parse(res.headers.get('Date') || '');
    const off = Number.isNaN(date) ? 0 : date - Date.now();
    return { data, offset: Math.abs(off) < 2000 ? 0 : off };
  } catch (err) {
    throw new Error(err.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : err.message);
  } finally {
    clearTimeout(timer);
  }
}

// memberURL turns a member's admin API address (usually a listen address
// such as ":9092" or "0.0.0.0:9092") into the URL of its status.
function memberURL(api) {
  let a = String(api || '').trim();
  if (a === '') return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(a)) {
    if (a.startsWith(':')) a = location.hostname + a;
    a = `${location.protocol}//${a}`;
  }
  try {
    const u = new URL(a);
    if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = location.hostname;
    return new URL('/api/v1/ha/status', u.origin).href;
  } catch {
    return null;
  }
}

async function pollSelf() {
  try {
    const [st, apps] = await Promise.all([fetchJSON('/api/v1/ha/status'), fetchJSON('/api/v1/apps')]);
    if (!st.data || typeof st.data !== 'object' || !Array.isArray(apps.data || [])) {
      throw new Error('the node answered something that is not its status');
    }
    Object.assign(self, { status: st.data, apps: apps.data, offset: st.offset, at: Date.now(), error: '' });
  } catch (err) {
    self.error = err.message;
  }
}

async function pollOthers() {
  const members = (self.status && self.status.members) || [];
  const ids = new Set();
  const jobs = [];
  for (const m of members) {
    if (m.id === self.status.node) continue;
    ids.add(m.id);
    const url = memberURL(m.api);
    let o = others.get(m.id);
    if (!o || o.url !== url) {
      o = { url, status: null, offset: 0, at: 0, error: '', next: 0 };
      others.set(m.id, o);
    }
    if (!url) {
      o.error = `its admin API address "${m.api}" is not usable`;
      continue;
    }
    if (url === new URL('/api/v1/ha/status', location.origin).href || Date.now() < o.next) continue;
    jobs.push(fetchJSON(url, true).then(
      (r) => Object.assign(o, { status: r.data, offset: r.offset, at: Date.now(), error: '', next: 0 }),
      (err) => Object.assign(o, { error: err.message, next: Date.now() + RETRY_OTHER_MS }),
    ));
  }
  for (const id of others.keys()) if (!ids.has(id)) others.delete(id);
  await Promise.all(jobs);
}

function roleOf(st) {
  if (st.fenced) return { text: 'FENCED', cls: 'fenced', sym: '⚠', say: 'holds the lease but stopped publishing: its lease may have run out' };
  if (st.role === 'active') return { text: 'ACTIVE', cls: 'active', sym: '●', say: 'runs the apps and publishes their outputs' };
  if (st.role === 'passive') return { text: 'PASSIVE', cls: 'passive', sym: '○', say: 'follows the active, ready to take over' };
  return { text: String(st.role || 'unknown').toUpperCase(), cls: 'unknown', sym: '?', say: '' };
}

function peerText(st) {
  const p = st.peer;
  if (p) {
    return [
      `${p.node} — `,
      p.synced ? el('span', { class: 'ok' }, '✔ in sync') : el('span', { class: 'warn' }, '… catching up'),
      `, lag ${num(p.lag_events)} ${p.lag_events === 1 ? 'entry' : 'entries'}, round trip ${num(p.rtt_ms)} ms`,
    ];
  }
  if (st.role === 'active') return el('span', { class: 'warn' }, 'none connected: committing alone');
  return st.leader ? `${st.leader} (the active reports the lag)` : 'no active known';
}

function nodeCard(id, label, entry) {
  const titleId = `node-${id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const st = entry.status;
  if (!st) {
    const card = el('article', { class: 'node unreachable', 'aria-labelledby': titleId },
      el('h3', { id: titleId }, id, el('span', { class: 'muted' }, label)));
    card.append(el('p', { class: 'role' }, el('strong', {}, entry === self ? 'NO ANSWER' : 'NOT REACHABLE')));
    if (entry === self) {
      card.append(el('p', { class: 'problem' }, `This node is not answering: ${entry.error || 'loading'}.`));
    } else {
      card.append(el('p', {}, 'Not reachable from this page. ',
        el('span', { class: 'muted' }, 'The browser may not read another origin without CORS headers, or the node is down' +
          (entry.error ? ` (${entry.error}).` : '.'))));
      if (entry.url) card.append(el('p', {}, el('a', { href: entry.url }, 'Open its status directly')));
    }
    return card;
  }
  const r = roleOf(st);
  const card = el('article', { class: `node ${r.cls}`, 'aria-labelledby': titleId },
    el('h3', { id: titleId }, st.node || id, el('span', { class: 'muted' }, label)),
    el('p', { class: 'role' },
      el('strong', {}, el('span', { 'aria-hidden': 'true' }, `${r.sym} `), r.text),
      el('span', { class: 'epoch' }, `epoch ${num(st.epoch)}`)),
  );
  if (r.say) card.append(el('p', { class: 'note' }, `This node ${r.say}.`));
  const apps = mergeApps(st.apps, entry.apps);
  const inactive = apps.filter((a) => a.inactive).length;
  card.append(el('dl', {},
    el('dt', {}, 'Lease holder'), el('dd', {}, st.leader || 'none'),
    el('dt', {}, st.role === 'active' ? 'Passive' : 'Follows'), el('dd', {}, peerText(st)),
    el('dt', {}, 'Data address'), el('dd', {}, st.data_addr || '—'),
    el('dt', {}, 'Apps'), el('dd', {}, `${apps.length - inactive} running`,
      inactive ? el('span', { class: 'bad' }, `, ${inactive} inactive`) : ''),
  ));
  if (entry.error) {
    card.append(el('p', { class: 'problem' }, `Not answering now (${entry.error}); shown as of ${new Date(entry.at).toLocaleTimeString()}.`));
  }
  return card;
}

function renderNodes() {
  const box = document.getElementById('nodes');
  const cards = [nodeCard(self.status ? self.status.node : 'This node', self.status ? ' (this node)' : '', self)];
  for (const [id, o] of others) cards.push(nodeCard(id, '', o));
  box.replaceChildren(...cards);
}

function renderMembers() {
  const st = self.status;
  const rows = ((st && st.members) || []).map((m) => el('tr', {},
    el('th', { scope: 'row' }, m.id, m.id === st.node ? el('span', { class: 'muted' }, ' (this node)') : ''),
    el('td', {}, m.api || '—'),
    el('td', {}, m.alive ? el('span', { class: 'ok' }, '✔ alive') : el('span', { class: 'bad' }, '✖ not alive')),
    el('td', {}, timeEl(m.last_seen, self.offset)),
  ));
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 4 }, st ? 'No members reported.' : self.error ? 'No status yet.' : 'Loading…')));
  document.querySelector('#members tbody').replaceChildren(...rows);
}

// sinkList shows each sink's published position and queued outputs.
function sinkList(a) {
  const names = [...new Set([...Object.keys(a.published || {}), ...Object.keys(a.sink_queued || {})])].sort();
  if (names.length === 0) return '—';
  return el('ul', {}, names.map((s) => {
    const q = (a.sink_queued || {})[s];
    return el('li', {}, `${s}: `, num((a.published || {})[s] || 0),
      q ? el('span', { class: 'warn' }, `, ${num(q)} queued`) : '');
  }));
}

function lagCell(a) {
  const parts = [];
  const unapplied = Math.max(0, (a.last_lsn || 0) - (a.applied_lsn || 0));
  parts.push(el('li', {}, `apply ${num(unapplied)}`));
  if (a.role === 'active') {
    if (a.peer_attached) {
      parts.push(el('li', {}, `passive ${num(Math.max(0, (a.last_lsn || 0) - (a.peer_ack_lsn || 0)))}`));
    } else {
      parts.push(el('li', { class: 'warn' }, 'no passive'));
    }
  }
  return el('td', { class: 'num' }, el('ul', {}, parts));
}

function checkpointCell(ck, offset) {
  if (!ck) return el('td', {}, 'none yet');
  return el('td', {}, el('ul', {},
    el('li', {}, `rev ${num(ck.revision)} at LSN ${num(ck.lsn)}`),
    el('li', {}, timeEl(ck.created, offset)),
  ));
}

function statusCell(reason) {
  if (reason) return el('td', { class: 'state bad' }, el('span', { 'aria-hidden': 'true' }, '✖ '), `Inactive: ${reason}`);
  return el('td', { class: 'state ok' }, el('span', { 'aria-hidden': 'true' }, '✔ '), 'Running');
}

// mergeApps joins the status of a node's apps with its app list (when the
// page has it), which also names the deployed apps the node cannot run.
function mergeApps(apps, list) {
  const byName = new Map();
  for (const a of apps || []) byName.set(a.name, { ...a });
  for (const i of list || []) {
    const a = byName.get(i.name) || { name: i.name, role: i.role, inactive: i.inactive };
    a.info = i;
    byName.set(i.name, a);
  }
  return [...byName.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

function appsTable(node, label, entry) {
  const head = [['App'], ['Role'], ['Last LSN'], ['Committed'], ['Applied'],
    ['Lag', 'Entries not yet applied here, and not yet acknowledged by the passive'],
    ['Log', 'Entries held in the app\'s log'], ['Sinks', 'Outputs published, and waiting, per sink'],
    ['Last checkpoint'], ['State']];
  const numeric = new Set([2, 3, 4, 5, 6]);
  const offset = entry.offset;
  const rows = mergeApps(entry.status.apps, entry.apps).map((a) => {
    const i = a.info;
    const has = a.last_lsn !== undefined;
    return el('tr', {},
      el('th', { scope: 'row' }, a.name,
        i ? el('div', { class: 'muted', title: i.hash ? `hash ${i.hash}` : null },
          i.origin === 'api' ? `API${i.version ? ` v${i.version}` : ''}` : i.origin === 'config' ? 'config file' : (i.origin || '')) : ''),
      el('td', {}, a.role || '—'),
      el('td', { class: 'num' }, has ? num(a.last_lsn) : '—'),
      el('td', { class: 'num' }, has ? num(a.committed_lsn) : '—'),
      el('td', { class: 'num' }, has ? num(a.applied_lsn) : '—'),
      has ? lagCell(a) : el('td', { class: 'num' }, '—'),
      el('td', { class: 'num' }, has ? num(a.queued) : '—'),
      el('td', {}, sinkList(a)),
      has ? checkpointCell(a.last_checkpoint, offset) : el('td', {}, '—'),
      statusCell(a.inactive),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: head.length }, 'No apps.')));
  return el('div', { class: 'scroll' }, el('table', {},
    el('caption', {}, `On ${node}`, el('span', { class: 'muted' }, label)),
    el('thead', {}, el('tr', {}, head.map(([h, title], k) =>
      el('th', { scope: 'col', class: numeric.has(k) ? 'num' : null, title }, h)))),
    el('tbody', {}, rows),
  ));
}

function renderApps() {
  const tables = [];
  if (self.status) tables.push(appsTable(self.status.node, ' (this node)', self));
  for (const [id, o] of others) {
    if (o.status) tables.push(appsTable(o.status.node || id, '', o));
  }
  if (tables.length === 0) tables.push(el('p', {}, self.error ? 'No status yet.' : 'Loading…'));
  document.getElementById('apps').replaceChildren(...tables);
}

function renderHeader() {
  const st = self.status;
  document.getElementById('group').textContent = st ? `— group ${st.group}` : '';
  document.title = st ? `${roleOf(st).text} ${st.node} · Tandem` : 'Tandem status';
  // Only the health line is a live region, and it changes only when the
  // health does, so screen readers are not told the time every second.
  const health = document.getElementById('health');
  const say = self.error
    ? `This node is not answering (${self.error})` + (self.at ? '; showing its last status.' : '.')
    : self.at ? 'Live.' : health.textContent;
  if (health.textContent !== say) health.textContent = say;
  health.className = self.error ? 'problem' : '';
  document.getElementById('updated').textContent =
    self.at ? `Updated ${new Date(self.at).toLocaleTimeString()}, every second.` : '';
}

function render() {
  renderHeader();
  renderNodes();
  renderMembers();
  renderApps();
}

// The other members are polled on the side, so one that does not answer
// (up to TIMEOUT_MS) never holds up this node's own status.
let othersBusy = false;

function pollOthersAside() {
  if (othersBusy) return;
  othersBusy = true;
  pollOthers().finally(() => {
    othersBusy = false;
    render();
  });
}

async function loop() {
  // A hidden tab polls nothing; it catches up when shown again.
  if (!document.hidden) {
    await pollSelf();
    render();
    pollOthersAside();
  }
  setTimeout(loop, POLL_MS);
}

loop();
