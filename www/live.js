// The live view: the Node pipeline's limiters, streamed by the dashboard server
// as Server-Sent Events (/events): `hello` with the state and the recent history,
// then a `tick` every 250 ms with the state and the events since the last one.
// One card per scope (API and hashed key): each window's use, the configured and
// learned windows side by side, the gate, the queue, the counters, and the
// timeline. With --redis, also each worker's part (workers-view.js).
import { renderWindows } from './bars.js';
import { formatClock, formatDuration, h, s, throttled } from './format.js';
import { renderPolicy } from './policy-view.js';
import { drawTimeline } from './timeline.js';
import { renderShares, renderWorkers } from './workers-view.js';

const KEEP_MS = 2 * 3_600_000;
/** Real ms between two drawings of a card's timeline (its bars follow every tick). */
const CHART_EVERY_MS = 1_000;

export function startLive({ root, span, status, onState, workers }) {
  const history = new Map();
  const groups = new Map();
  const cards = new Map();
  // A card scrolled out of view is not drawn: on the quota clock at x60, every
  // millisecond the page spends is 60 ms of the playground's requests waiting.
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) e.target.dataset.visible = String(e.isIntersecting);
  });
  // ...but a timeline whose width changed is redrawn even off screen, once: a
  // chart drawn before the layout settled (at the fallback width, or in a wider
  // column) would otherwise keep labels a third of their size until scrolled to
  // (seen in a full-page view on a loaded machine: 3.7 px labels).
  const resized = new ResizeObserver((entries) => {
    for (const e of entries) e.target.dataset.resized = 'true';
  });
  let last;
  const render = throttled(() => last && draw(last));

  const source = new EventSource('/events');
  source.addEventListener('hello', (e) => {
    const d = JSON.parse(e.data);
    history.clear();
    for (const [id, hist] of Object.entries(d.history ?? {})) history.set(id, { sent: [...hist.sent], refused: [...hist.refused], retried: [...hist.retried] });
    receive(d);
  });
  source.addEventListener('tick', (e) => {
    const d = JSON.parse(e.data);
    for (const ev of d.events) historyOf(ev.scope)[ev.kind].push(ev.at);
    receive(d);
  });
  source.addEventListener('open', () => setStatus('live'));
  source.addEventListener('error', () => setStatus(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'));
  span.addEventListener('change', render);

  function setStatus(text) {
    status.textContent = text;
    status.dataset.state = text === 'live' ? 'live' : 'down';
  }

  function historyOf(id) {
    let hist = history.get(id);
    if (hist === undefined) history.set(id, (hist = { sent: [], refused: [], retried: [] }));
    return hist;
  }

  function receive(d) {
    const from = d.now - KEEP_MS;
    for (const hist of history.values()) {
      for (const list of Object.values(hist)) {
        let i = 0;
        while (i < list.length && list[i] <= from) i++;
        if (i > 0) list.splice(0, i);
      }
    }
    last = d;
    render();
    onState?.(d);
  }

  function draw(d) {
    root.querySelector('.empty')?.remove();
    if (workers) renderWorkers(workers, d);
    for (const api of d.apis) {
      const group = groupFor(api);
      group.serverText.textContent = `The server's own log: ${api.server.accepted.toLocaleString('en')} accepted, `;
      group.serverRefused.textContent = String(api.server.refused);
      group.serverRefused.dataset.zero = String(api.server.refused === 0);
      for (const scope of api.scopes) updateCard(cardFor(group, api, scope), scope, d.now);
    }
  }

  function groupFor(api) {
    let g = groups.get(api.id);
    if (g) return g;
    const serverText = h('span');
    const serverRefused = h('strong', { class: 'server-refused' });
    const scopes = h('div', { class: 'scopes' });
    const el = h('section', { class: 'api', 'aria-labelledby': `api-${api.id}`, 'data-api': api.id },
      h('h3', { id: `api-${api.id}`, text: api.title }),
      h('p', { class: 'quota', text: api.quota }),
      h('p', { class: 'server' }, serverText, serverRefused, ' refused (429).'),
      scopes);
    root.append(el);
    g = { el, serverText, serverRefused, scopes };
    groups.set(api.id, g);
    return g;
  }

  function cardFor(group, api, scope) {
    let c = cards.get(scope.id);
    if (c) return c;
    const key = scope.key === '' ? 'one quota (no key)' : `key #${scope.key}`;
    const keyHelp = scope.key === '' ? 'Every request of this route shares one quota.'
      : `The API key this quota belongs to, as a hash (#${scope.key}): the key itself never reaches this page.`;
    const count = (name, label, help) => h('div', { title: help }, h('dt', { text: label }), h('dd', { 'data-count': name, text: '0' }));
    c = {
      windows: h('ul', { class: 'windows' }),
      policy: h('table', { class: 'policy' }),
      gate: h('p', { class: 'gate' }),
      queue: h('p', { class: 'queue' }),
      counts: h('dl', { class: 'counts' },
        count('admitted', 'admitted', 'requests tollgate let through to the server'),
        count('held', 'held back', 'requests that had to wait in tollgate’s queue for room in a window, instead of being refused'),
        count('retried', 'retried', 'requests sent again after a 429 or a 5xx'),
        count('refused', 'refused by the server', 'answers 429 (too many requests) from the API: tollgate aims for 0')),
      svg: s('svg', { class: 'chart' }),
      legend: h('ul', { class: 'legend' }),
    };
    c.el = h('article', { class: 'scope', 'aria-label': `${api.title}, ${scope.route}, ${key}`, 'data-scope': scope.id },
      h('h4', {}, scope.route, ' ', h('span', { class: 'key', text: key, title: keyHelp })),
      h('p', { class: 'help', text: keyHelp }),
      c.windows, c.policy, c.gate, c.queue, c.counts,
      h('p', { class: 'help', text: 'Held back: waited in tollgate’s queue for room instead of being refused. '
        + 'Refused by the server: 429 answers (aim: 0). Retried: sent again after a 429 or a 5xx. '
        + 'Learned: a window the server stated in its headers, or showed by what it accepted before a bare 429; '
        + 'where it is lower than configured, it is in force.' }),
      h('figure', { class: 'timeline' }, c.svg, c.legend));
    group.scopes.append(c.el);
    seen.observe(c.el);
    resized.observe(c.svg);
    c.drawnAt = -Infinity;
    cards.set(scope.id, c);
    return c;
  }

  function updateCard(c, scope, now) {
    // Numbers stay current everywhere (a full-page screenshot or a scroll shows the truth);
    // only the timeline, the costly part, waits until the card is on screen.
    renderWindows(c.windows, scope.windows, now);
    renderPolicy(c.policy, scope.configured ?? [], scope.learned ?? []);
    const paused = scope.pausedUntil > now;
    c.gate.dataset.state = paused ? 'paused' : 'open';
    if (paused) {
      const why = scope.pause?.reason === 'server' ? `the server answered ${scope.pause.status} with a time to come back`
        : `the server answered ${scope.pause?.status ?? 429}; backing off`;
      c.gate.textContent = `Gate: paused until ${formatClock(scope.pausedUntil)} (in ${formatDuration(scope.pausedUntil - now)}): ${why}.`;
    } else {
      c.gate.textContent = scope.pause ? `Gate: open (last paused until ${formatClock(scope.pause.until)}).` : 'Gate: open.';
    }
    c.queue.textContent = `Queue: ${scope.waiting} waiting · ${scope.inFlight} in flight`;
    for (const [name, value] of Object.entries(scope.counts)) {
      const cell = c.counts.querySelector(`[data-count="${name}"]`);
      if (cell) cell.textContent = value.toLocaleString('en');
    }
    c.counts.querySelector('[data-count="refused"]').dataset.zero = String(scope.counts.refused === 0);
    renderShares(c, scope);
    const spanMs = Number(span.value);
    if (c.el.dataset.visible === 'false' && c.svg.dataset.resized !== 'true') return;
    delete c.svg.dataset.resized;
    const width = Math.round(c.svg.getBoundingClientRect().width); // drawn at its on-screen width: redraw when it changes
    if (performance.now() - c.drawnAt < CHART_EVERY_MS && c.spanMs === spanMs && c.width === width) return;
    c.drawnAt = performance.now();
    c.spanMs = spanMs;
    c.width = width;
    drawTimeline(c.svg, c.legend, { now, spanMs, windows: scope.windows, ...historyOf(scope.id) });
  }

  return { close: () => source.close() };
}
