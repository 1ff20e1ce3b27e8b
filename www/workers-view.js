// With `npm start -- --redis <url>`: the pipeline runs as several worker
// processes sharing every quota through Redis. This draws what each one does:
// an overview (one row per process), and in each scope's card, each worker's
// share of every window next to what they take together against the limit.
// Without --redis the state has no `workers` and nothing here is drawn.
import { h } from './format.js';
import { formatPeriod } from './windows.js';

const num = (n) => n.toLocaleString('en');
const pct = (n, of) => `${Math.round((100 * n) / of)} %`;

/** The overview above the APIs: where the quotas live and one row per worker process. */
export function renderWorkers(root, d) {
  if (!d.workers) return;
  root.hidden = false;
  let table = root.querySelector('table');
  if (!table) {
    const columns = ['worker', 'process', 'state', 'admitted', 'refused by the server', 'waiting', 'in flight'];
    table = h('table', { class: 'workers-table', 'aria-labelledby': 'workers-title' },
      h('thead', {}, h('tr', {}, ...columns.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody'));
    root.append(
      h('h3', { id: 'workers-title', text: `${d.workers.length} worker process${d.workers.length === 1 ? '' : 'es'}, one quota` }),
      h('p', { class: 'note' }, 'Each worker is a separate Node process running the same pipeline; every quota lives in Redis at ',
        h('code', { text: d.redis }),
        ', shared by all of them (tollgate’s ', h('code', { text: 'redisStore' }), '). Together they stay within each limit, '
        + 'so the servers refuse nothing; each card below shows every worker’s share.'),
      h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-labelledby': 'workers-title' }, table),
      h('p', { class: 'problem workers-problem', role: 'status', hidden: true }),
    );
  }
  // Calls that failed in a worker (Redis away: StoreError) are said, not hidden.
  const failed = d.workers.filter((w) => w.errors > 0);
  const problem = root.querySelector('.workers-problem');
  problem.hidden = failed.length === 0;
  problem.textContent = failed.map((w) => `worker ${w.worker}: ${num(w.errors)} call${w.errors === 1 ? '' : 's'} failed (last: ${w.lastError ?? 'unknown'})`).join(' · ');
  const body = table.tBodies[0];
  d.workers.forEach((w, i) => {
    let row = body.rows[i];
    if (!row) {
      row = h('tr', { 'data-worker': w.worker },
        h('th', { scope: 'row', text: `worker ${w.worker}` }), h('td', { 'data-field': 'pid' }), h('td', { 'data-field': 'state' }),
        ...['admitted', 'refused', 'waiting', 'inFlight'].map((f) => h('td', { class: 'num', 'data-field': f })));
      body.append(row);
    }
    const cell = (f) => row.querySelector(`[data-field="${f}"]`);
    cell('pid').textContent = `pid ${w.pid}`;
    cell('state').textContent = w.running ? 'running' : `stopped (${w.exit})`;
    row.dataset.running = String(w.running);
    for (const f of ['admitted', 'refused', 'waiting', 'inFlight']) cell(f).textContent = num(w[f]);
    cell('refused').dataset.zero = String(w.refused === 0);
  });
}

/**
 * A scope card's part: per worker, its counters and its share of each window
 * (what it sent that the window still counts), then all of them together.
 */
export function renderShares(card, scope) {
  if (!scope.workers) return;
  const shape = scope.windows.map((w) => `${w.kind}:${w.limit}:${w.perMs}`).join('|');
  if (card.shares === undefined || card.sharesShape !== shape) {
    card.shares?.remove();
    card.sharesHelp?.remove();
    card.sharesShape = shape;
    const head = ['worker', 'admitted', '429s', 'waiting', ...scope.windows.map((w) => `${w.limit}/${formatPeriod(w.perMs)}${w.kind === 'fixed' ? ' cal.' : ''}`)];
    // Focusable: on a narrow screen the table may scroll sideways, and a keyboard must reach that too.
    card.shares = h('div', { class: 'table-wrap shares', tabindex: 0, role: 'region', 'aria-label': 'Each worker’s share of this quota' }, h('table', {},
      h('caption', { text: 'Each worker’s share of each window' }),
      h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody'),
      h('tfoot', {}, h('tr', { class: 'total' }, h('th', { scope: 'row', text: 'together' }),
        h('td', { class: 'num', 'data-field': 'admitted' }), h('td', { class: 'num', 'data-field': 'refused' }),
        h('td', { class: 'num', 'data-field': 'waiting' }),
        ...scope.windows.map((_, i) => h('td', { 'data-total': i }))))));
    card.sharesHelp = h('p', { class: 'help', text: 'Share: the requests this worker was admitted within the window, against its limit. '
      + 'Together: all workers. The bars above are Redis’s own count, which holds a request from its admission until its answer '
      + 'and then counts it as of the answer, so it can be a little higher.' });
    card.counts.after(card.shares, card.sharesHelp);
  }
  const body = card.shares.querySelector('tbody');
  scope.workers.forEach((w, i) => {
    let row = body.rows[i];
    if (!row || row.dataset.worker !== String(w.worker)) {
      row = h('tr', { 'data-worker': w.worker }, h('th', { scope: 'row', text: String(w.worker), 'aria-label': `worker ${w.worker}` }),
        h('td', { class: 'num', 'data-field': 'admitted' }), h('td', { class: 'num', 'data-field': 'refused' }),
        h('td', { class: 'num', 'data-field': 'waiting' }),
        ...scope.windows.map((_, j) => shareCell(j)));
      if (body.rows[i]) body.rows[i].replaceWith(row);
      else body.append(row);
    }
    fill(row, w.counts.admitted, w.counts.refused, w.waiting);
    scope.windows.forEach((win, j) => setShare(row.querySelector(`[data-share="${j}"]`), w.share?.[j] ?? 0, win.limit));
  });
  while (body.rows.length > scope.workers.length) body.lastElementChild.remove();
  const total = card.shares.querySelector('tr.total');
  fill(total, scope.counts.admitted, scope.counts.refused, scope.waiting);
  scope.windows.forEach((win, j) => {
    const together = scope.workers.reduce((n, w) => n + (w.share?.[j] ?? 0), 0);
    const cell = total.querySelector(`[data-total="${j}"]`);
    cell.dataset.value = String(together);
    cell.dataset.limit = String(win.limit);
    cell.dataset.within = String(together <= win.limit);
    cell.textContent = `${num(together)} of ${num(win.limit)}`;
    cell.title = `Redis counts ${num(win.used)} (with requests still in flight, and as they were answered)`;
    cell.dataset.used = String(win.used);
  });
}

function shareCell(j) {
  return h('td', { 'data-share': j },
    h('span', { class: 'share-text' }),
    h('span', { class: 'bar small', role: 'meter', 'aria-valuemin': 0 }, h('span', { class: 'fill' })));
}

function setShare(cell, n, limit) {
  cell.dataset.value = String(n);
  cell.querySelector('.share-text').textContent = num(n);
  cell.title = `${num(n)} of ${num(limit)}: ${pct(n, limit)} of the limit`;
  const bar = cell.querySelector('.bar');
  bar.setAttribute('aria-valuemax', limit);
  bar.setAttribute('aria-valuenow', n);
  bar.setAttribute('aria-label', `share of the limit, ${n} of ${limit}`);
  bar.firstElementChild.style.width = `${Math.min(100, (100 * n) / limit).toFixed(2)}%`;
}

function fill(row, admitted, refused, waiting) {
  row.querySelector('[data-field="admitted"]').textContent = num(admitted);
  const r = row.querySelector('[data-field="refused"]');
  r.textContent = num(refused);
  r.dataset.zero = String(refused === 0);
  row.querySelector('[data-field="waiting"]').textContent = num(waiting);
}
