// mpprogress dashboard: one EventSource, a snapshot then patches, drawn with DOM nodes and
// textContent only (every string comes from workers: it is shown, never parsed as markup).
'use strict';
(() => {
  const RUNNING_SHOWN = 100;   // running phases drawn per operation before "show more"
  const FINISHED_SHOWN = 100;  // finished phases drawn when their fold is opened
  const LOGS_SHOWN = 100;
  const state = {ops: new Map(), phases: new Map(), workers: new Map(), logs: [], meta: {}, csrf: '', seq: 0,
                 offset: 0, byOp: new Map(), ended: null};
  const views = new Map();  // operation id -> its drawn block
  const $ = (id) => document.getElementById(id);
  let source = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function put(node, text) {
    const value = text === undefined || text === null ? '' : String(text);
    if (node.textContent !== value) node.textContent = value;
  }
  const count = (n) => n === null || n === undefined ? '?' :
    Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', {maximumFractionDigits: 1});
  // Numbers and times in the forms of mpprogress/_base/formats.py, as the console writes them.
  function eta(seconds) {  // H:MM:SS; <0:00:01 under a second (0:00:00 only with no work left); 4d 04h
    if (seconds === null || seconds === undefined) return '';
    if (!Number.isFinite(seconds) || seconds < 0) return '-:--:--';
    if (seconds > 0 && seconds < 1) return '<0:00:01';
    if (seconds >= 100 * 3600) {
      const days = seconds / 86400;
      return days < 10000 ? `${Math.floor(days)}d ${String(Math.floor(seconds / 3600) % 24).padStart(2, '0')}h` : '>9999d';
    }
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
  }
  function elapsed(seconds) {  // 0.4s under a second (<0.1s below 0.05 s), never 0:00:00; else as eta()
    if (seconds === null || seconds === undefined) return '';
    const s = Math.max(0, seconds);
    return s < 1 ? (s < 0.05 ? '<0.1s' : s.toFixed(1) + 's') : eta(s);
  }
  // 12/40; 25/10 (+15 over) past its total: the tracker counts on, the page says so
  const counted = (current, total) => total === null || total === undefined ? `${count(current)}/?` :
    `${count(current)}/${count(total)}` + (current > total ? ` (+${count(current - total)} over)` : '');
  function percent(current, total) {  // of the counts, not the capped pct: 250% past the total, 99% until reached
    if (!total || current === null || current === undefined) return '';
    const value = current / total * 100;
    return value > 99 && value < 100 ? '99%' : value.toFixed(0) + '%';
  }
  const rate = (r) => r === null || r === undefined ? '' : `${count(r < 10 ? Math.round(r * 10) / 10 : Math.round(r))}/s`;
  const now = () => Date.now() / 1000 + state.offset;  // the server's clock
  function chip(node, outcome, label) {  // label: words other than the outcome's name
    node.className = 'chip o-' + (outcome || 'running');
    put(node, label || outcome || 'running');
  }
  // A phase's state: a stalled one is in doubt (its worker is silent), not finished; a phase left
  // short of its total by its operation or parent failed as "incomplete".
  const shownAs = (p) => p.stalled && !p.finished ? ['stalled', 'stalled'] :
    [p.outcome, p.outcome === 'failed' && p.reason === 'incomplete' ? 'incomplete' : null];

  // --- the model --------------------------------------------------------------------------------
  function index(id, row, old) {
    if (old && old.op !== row.op) state.byOp.get(old.op)?.delete(id);
    if (!state.byOp.has(row.op)) state.byOp.set(row.op, new Set());
    state.byOp.get(row.op).add(id);
  }
  function apply(message, whole) {
    const dirty = new Set();
    if (whole) {
      state.ended = null;
      for (const table of ['ops', 'phases', 'workers']) state[table].clear();
      state.byOp.clear(); state.logs = [];
      for (const view of views.values()) view.root.remove();
      views.clear();
      $('history').tBodies[0].replaceChildren();
      shown('history', 0);
      state.csrf = message.csrf || state.csrf;
    }
    if (message.meta) state.meta = message.meta;
    state.offset = message.time - Date.now() / 1000;
    state.seq = message.seq;
    for (const [id, row] of Object.entries(message.operations || {})) { state.ops.set(id, row); dirty.add(id); }
    for (const [id, row] of Object.entries(message.phases || {})) {
      index(id, row, state.phases.get(id)); state.phases.set(id, row); dirty.add(row.op);
    }
    for (const id of message.phases_removed || []) {
      const old = state.phases.get(id);
      if (old) { state.byOp.get(old.op)?.delete(id); dirty.add(old.op); }
      state.phases.delete(id);
    }
    for (const id of message.operations_removed || []) { state.ops.delete(id); dirty.add(id); }
    for (const [id, row] of Object.entries(message.workers || {})) state.workers.set(id, row);
    for (const id of message.workers_removed || []) state.workers.delete(id);
    if (message.logs) state.logs = state.logs.concat(message.logs).slice(-LOGS_SHOWN);
    draw(dirty, whole || message.workers || message.workers_removed, whole || message.logs);
  }

  // --- drawing ----------------------------------------------------------------------------------
  function draw(dirty, workers, logs) {
    for (const id of dirty) drawOperation(id);
    if (workers) drawWorkers();
    if (logs) drawLogs();
    drawHeader();
  }

  function drawHeader() {
    const meta = state.meta;
    put($('title'), meta.title || 'mpprogress');
    document.title = (meta.title || 'mpprogress') + ' · dashboard';
    let running = 0, lost = 0, stalled = 0, exited = 0;
    for (const op of state.ops.values()) if (!op.finished) running += 1;
    for (const w of state.workers.values()) {
      if (w.state === 'lost') lost += 1; else if (w.state === 'stalled') stalled += 1; else if (w.state === 'exited') exited += 1;
    }
    const doubts = [stalled ? `${stalled} stalled` : '', lost ? `${lost} lost` : '', exited ? `${exited} exited` : '']
      .filter(Boolean).join(', ');
    const parts = [`${running} running`, `${state.workers.size} workers` + (doubts ? ` (${doubts})` : '')];
    if (meta.error) parts.push(meta.error);
    if (state.ended) parts.push(state.ended.source === 'session' ? `the session ended: ${state.ended.outcome}`
                                : `the ${state.ended.source || 'server'} stopped`);
    put($('summary'), parts.join(' · '));
    $('no-operations').hidden = running > 0;
    const section = $('timeline-section');
    if (meta.timeline) {
      section.hidden = false;
      const part = $('timeline-window').value;
      const src = '/api/timeline.svg?v=' + meta.timeline + (part ? '&window=' + part : '');
      if ($('timeline').getAttribute('src') !== src) $('timeline').setAttribute('src', src);
    } else section.hidden = true;
    if (state.ended) status(state.ended.source === 'session' ? 'ended' : 'stopped');
    else if (source && source.readyState === EventSource.OPEN) status(meta.source === 'journal' && !meta.live ? 'finished' : 'live');
  }

  function makeOperation(id) {
    const root = el('div', 'op');
    root.dataset.operationId = id;
    const head = el('div', 'op-head');
    const view = {root, title: el('span', 'op-title'), chip: el('span', 'chip'), facts: el('span', 'op-facts'),
                  cancel: el('button', 'cancel', 'cancel'), list: el('div', 'phases'), more: el('button', 'more'),
                  fold: el('details', 'finished'), foldTitle: el('summary'), foldList: el('div', 'phases'),
                  rows: new Map(), limit: RUNNING_SHOWN};
    view.cancel.type = 'button';
    view.cancel.addEventListener('click', () => cancel(id, view.cancel));
    view.more.type = 'button';
    view.more.addEventListener('click', () => { view.limit *= 4; drawOperation(id); });
    view.fold.append(view.foldTitle, view.foldList);
    view.fold.addEventListener('toggle', () => drawOperation(id));
    head.append(view.title, view.chip, view.facts, view.cancel);
    root.append(head, view.list, view.more, view.fold);
    views.set(id, view);
    return view;
  }

  function place(view, op) {
    const list = $('operations');
    view.order = op.n;
    let next = null;
    for (const other of list.children) {
      const o = views.get(other.dataset.operationId);
      if (o && o.order > op.n) { next = other; break; }
    }
    list.insertBefore(view.root, next);
  }

  function drawOperation(id) {
    const op = state.ops.get(id);
    let view = views.get(id);
    if (!op || op.finished) {
      if (view) { view.root.remove(); views.delete(id); }
      if (op) drawHistory(id, op); else $('history').querySelector(`tr[data-operation-id="${CSS.escape(id)}"]`)?.remove();
      return;
    }
    if (!view) { view = makeOperation(id); place(view, op); }
    put(view.title, op.title);
    const over = state.ended !== null;  // the run ended with this operation open
    chip(view.chip, over ? 'interrupted' : op.cancelled ? 'cancelled' : null,
         over && op.cancelled ? 'cancelled, unfinished' : over ? 'unfinished' : null);
    const ids = [...(state.byOp.get(id) || [])];
    const running = [], finished = [];
    for (const pid of ids) { const p = state.phases.get(pid); if (p) (p.finished ? finished : running).push([pid, p]); }
    running.sort((a, b) => a[1].n - b[1].n);
    finished.sort((a, b) => b[1].n - a[1].n);
    const done = finished.length + (op.pruned || 0);
    const facts = [`${op.running} running`, `${count(done)} finished`];
    if (op.stalled) facts.push(`${count(op.stalled)} stalled`);
    for (const [outcome, n] of Object.entries(op.counts || {})) if (outcome !== 'succeeded' && n) facts.push(`${count(n)} ${outcome}`);
    if (op.rate) facts.push(rate(op.rate));
    if (!over && op.eta !== null && op.eta !== undefined) facts.push('ETA ' + eta(op.eta));
    facts.push('elapsed ' + elapsed((over ? state.ended.time : now()) - op.started));
    put(view.facts, facts.join(' · '));
    view.cancel.hidden = !state.meta.can_cancel || over;
    if (op.cancelled) { view.cancel.disabled = true; put(view.cancel, 'cancel requested'); }
    const shown = running.slice(0, view.limit);
    fill(view, view.list, shown);
    view.more.hidden = running.length <= view.limit;  // and its words are only written when shown
    if (!view.more.hidden)
    put(view.more, `show ${count(Math.min(running.length - view.limit, view.limit * 3))} more of ${count(running.length - view.limit)} running`);
    view.fold.hidden = done === 0;
    put(view.foldTitle, `${count(done)} finished` + (op.pruned ? ` (the newest ${count(finished.length)} kept)` : ''));
    fill(view, view.foldList, view.fold.open ? finished.slice(0, FINISHED_SHOWN) : []);
    for (const [pid, row] of view.rows) if (!row.isConnected) view.rows.delete(pid);
  }

  function fill(view, list, phases) {
    const nodes = phases.map(([pid, p]) => drawPhase(view, pid, p));
    const current = list.children;
    let same = current.length === nodes.length;
    for (let i = 0; same && i < nodes.length; i++) same = current[i] === nodes[i];
    if (!same) list.replaceChildren(...nodes);
  }

  function drawPhase(view, id, p) {
    let row = view.rows.get(id);
    if (!row) {
      row = el('div', 'phase');
      row.dataset.phaseId = id;
      row.cells = {title: el('span', 'title'), bar: el('div', 'bar'), fill: el('div', 'fill'), count: el('span', 'count'),
                   pct: el('span', 'pct'), rate: el('span', 'rate'), eta: el('span', 'eta'), msg: el('span', 'msg'),
                   outcome: el('span', 'chip')};
      const c = row.cells;
      c.bar.append(c.fill);
      const mark = el('span', 'mark');
      mark.append(c.outcome);
      row.append(c.title, c.bar, c.count, c.pct, c.rate, c.eta, c.msg, mark);
      view.rows.set(id, row);
    }
    const c = row.cells;
    put(c.title, p.title);
    c.title.style.paddingLeft = (Math.min(p.depth, 12) * 14) + 'px';
    c.title.title = p.title;
    put(c.count, counted(p.current, p.total));
    put(c.pct, p.pct === null ? '' : percent(p.current, p.total));  // 74%, as the console
    const [outcome, label] = shownAs(p);
    const over = state.ended !== null && !p.finished;
    put(c.rate, p.finished || over ? '' : rate(p.rate));
    const left = p.total === null || p.current < p.total;  // no ETA once no work is left
    put(c.eta, p.finished ? elapsed(p.duration) : (p.eta === null || p.stalled || over || !left ? '' : 'ETA ' + eta(p.eta)));
    const words = [label === 'incomplete' ? null : p.reason, outcome === 'stalled' ? 'no news from its worker' : null,
                   p.resumed === null || p.resumed === undefined ? null : `resumed at ${count(p.resumed)}/${p.total === null ? '?' : count(p.total)}`,
                   p.message];
    put(c.msg, words.filter((w) => w !== null && w !== undefined && w !== '').join(' · '));
    c.msg.title = c.msg.textContent;
    chip(c.outcome, outcome, label);
    c.fill.className = 'fill' + (outcome ? ' o-' + outcome : '') + (p.pct === null && !p.finished ? ' unknown' : '');
    c.fill.style.width = p.pct === null ? '' : Math.min(100, p.pct) + '%';
    return row;
  }

  function drawHistory(id, op) {
    const body = $('history').tBodies[0];
    let tr = body.querySelector(`tr[data-operation-id="${CSS.escape(id)}"]`);
    if (!tr) {
      tr = el('tr');
      tr.dataset.operationId = id;
      tr.append(el('td'), el('td'), el('td'), el('td', 'n'));
      tr.cells[1].append(el('span', 'chip'));
      tr.order = op.n;
      let before = null;
      for (const other of body.rows) if (other.order < op.n) { before = other; break; }
      body.insertBefore(tr, before);
    }
    put(tr.cells[0], op.title);
    chip(tr.cells[1].firstChild, op.outcome);
    put(tr.cells[2], Object.entries(op.counts || {}).map(([k, n]) => `${count(n)} ${k}`).join(', '));
    put(tr.cells[3], elapsed(op.duration));
    shown('history', body.rows.length);
  }

  function shown(table, rows) {  // a table with no rows gives way to its "none yet" line
    $(table).hidden = rows === 0;
    $('no-' + table).hidden = rows > 0;
  }

  function drawWorkers() {
    const body = $('workers').tBodies[0];
    const rank = (w) => ({stalled: 1, lost: 2, exited: 3})[w.state] || 0;
    const rows = [...state.workers.entries()].sort((a, b) => rank(a[1]) - rank(b[1])
                                                             || String(a[1].host).localeCompare(String(b[1].host)) || a[1].pid - b[1].pid);
    const have = new Map([...body.rows].map((tr) => [tr.dataset.worker, tr]));
    const nodes = rows.map(([key, w]) => {
      let tr = have.get(key);
      if (!tr) {
        tr = el('tr');
        tr.dataset.worker = key;
        for (let i = 0; i < 6; i++) tr.append(el('td', i === 3 || i === 4 ? 'n' : null));
        tr.cells[2].append(el('span', 'chip'));
      }
      tr.className = w.state === 'alive' ? '' : w.state;
      tr.last = w.last;
      put(tr.cells[0], w.host);
      put(tr.cells[1], w.pid);
      chip(tr.cells[2].firstChild, w.state);
      put(tr.cells[3], count(w.phases));
      put(tr.cells[4], count(w.running));
      return tr;
    });
    body.replaceChildren(...nodes);
    shown('workers', nodes.length);
    tickWorkers();
  }

  function tickWorkers() {
    const at = state.ended ? state.ended.time : now();
    for (const tr of $("workers").tBodies[0].rows) put(tr.cells[5], elapsed(at - tr.last) + " ago");
  }

  function drawLogs() {
    const body = $('logs').tBodies[0];
    const nodes = state.logs.slice().reverse().map((entry) => {
      const tr = el('tr');
      const when = new Date(entry.at * 1000).toLocaleTimeString('en-GB');
      tr.append(el('td', null, when), el('td', null, entry.level), el('td', null, entry.worker || ('pid ' + entry.pid)),
                el('td', null, entry.logger), el('td', 'msg', entry.message));
      return tr;
    });
    body.replaceChildren(...nodes);
    shown('logs', nodes.length);
  }

  // --- cancelling -------------------------------------------------------------------------------
  async function cancel(id, button) {
    button.disabled = true;
    put(button, 'cancelling…');
    try {
      const response = await fetch('/api/cancel', {method: 'POST', credentials: 'same-origin', headers:
        {'Content-Type': 'application/json', 'X-MPProgress-CSRF': state.csrf}, body: JSON.stringify({operation_id: id})});
      put(button, response.ok ? 'cancel requested' : 'could not cancel');
    } catch (error) {
      put(button, 'could not cancel');
      button.disabled = false;
    }
  }

  // --- the connection ---------------------------------------------------------------------------
  function status(text) {
    const node = $('status');
    node.className = 'status ' + text;
    const words = {live: 'live', finished: 'finished run', refused: 'not allowed', ended: 'finished',
                   stopped: 'stopped: waiting for it to start again'};
    put(node, words[text] || 'reconnecting…');
  }

  function connect() {
    if (source) source.close();
    source = new EventSource('/api/events');
    source.addEventListener('snapshot', (event) => apply(JSON.parse(event.data), true));
    source.addEventListener('patch', (event) => {
      const message = JSON.parse(event.data);
      if (message.seq !== state.seq + 1) { connect(); return; }  // a push went missing: start again
      apply(message, false);
    });
    source.addEventListener('end', (event) => {  // the last push: how the run ended
      const message = JSON.parse(event.data);
      source.close();
      state.ended = message;
      for (const id of state.ops.keys()) drawOperation(id);
      drawHeader();
      // A session's page is done; a relay or journal may start again on its address: look now and then.
      if (message.source !== 'session') setTimeout(connect, 2000);
    });
    source.addEventListener('error', () => {
      if (state.ended) {  // a stopped relay: keep the final state shown while it is away
        if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
        return;
      }
      status('reconnecting');
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);  // an HTTP error ends EventSource
    });
  }

  setInterval(() => {
    for (const [id, view] of views) {
      const op = state.ops.get(id);
      if (op && !state.ended) put(view.facts, view.facts.textContent.replace(/elapsed \S+$/, 'elapsed ' + elapsed(now() - op.started)));
    }
    tickWorkers();
  }, 1000);
  for (const table of ['workers', 'logs', 'history']) shown(table, 0);
  $('timeline-window').addEventListener('change', drawHeader);
  connect();
})();
