// The playground: tollgate in this tab against the dashboard's strict mock API,
// on the dashboard's quota clock. N requests arrive one every `interval`; the
// tollgate side sends each through the quota shared by the tabs (the package's
// tabStore, see shared-quota.js)
// and is compared with its plan; the Hex document's limiter (naive-limiter.js)
// gets the same load against a fresh quota of the same server.
import { renderWindows } from './bars.js';
import { drawWidth, formatClock, formatDuration, formatOffset, h, s, throttled } from './format.js';
import { HexRateLimiter, hexRunWithRetry } from './naive-limiter.js';
import { openQuota } from './shared-quota.js';
import { formatWindows, parseWindows, toLimiterWindows } from './windows.js';

const FORM_KEY = 'tollgate:playground-form';
const TIMEOUT_MS = 10_000; // real: a request not answered by then counts as answered

export function startPlayground({ clock, tollgate }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    root: $('playground'), form: $('pg-form'), preset: $('pg-preset'), windows: $('pg-windows'), count: $('pg-count'),
    interval: $('pg-interval'), fire: $('pg-fire'), reset: $('pg-reset'), error: $('pg-error'), bars: $('pg-bars'),
    gate: $('pg-gate'), schedule: $('pg-schedule'), scheduleEmpty: $('pg-schedule-empty'), summary: $('pg-summary'), table: $('pg-table'), status: $('pg-status'),
    mock: $('pg-mock'),
  };
  const presets = presetWindows(tollgate);
  let shared;
  let run;

  restoreForm();
  el.preset.addEventListener('change', () => {
    const p = presets[el.preset.value];
    if (p) el.windows.value = formatWindows(p.client);
    configChanged();
  });
  el.windows.addEventListener('input', () => {
    el.preset.value = Object.keys(presets).find((k) => formatWindows(presets[k].client) === el.windows.value.trim()) ?? 'custom';
    configChanged();
  });
  el.count.addEventListener('input', saveForm);
  el.interval.addEventListener('input', saveForm);
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    fire().catch(showError);
  });
  el.reset.addEventListener('click', () => shared?.reset().catch(showError));
  configChanged();
  setInterval(() => showQuota(), 500);

  function config() {
    el.error.textContent = '';
    el.windows.removeAttribute('aria-invalid');
    let client;
    try {
      client = parseWindows(el.windows.value);
    } catch (error) {
      el.windows.setAttribute('aria-invalid', 'true');
      el.error.textContent = error.message;
      return undefined;
    }
    const count = Number(el.count.value);
    const intervalS = Number(el.interval.value);
    if (!Number.isInteger(count) || count < 1 || count > 500) return void (el.error.textContent = 'Requests: a whole number from 1 to 500.');
    if (!(intervalS >= 0 && intervalS <= 3600)) return void (el.error.textContent = 'Arrival interval: from 0 to 3600 seconds.');
    const server = presets[el.preset.value]?.server ?? client;
    return { client, server, count, intervalMs: Math.round(intervalS * 1000) };
  }

  function configChanged() {
    saveForm();
    const c = config();
    if (!c) return;
    const name = `dashboard:${clock.bootId}:${formatWindows(c.client)}`;
    el.mock.textContent = `The mock server enforces ${formatWindows(c.server)} strictly${c.server === c.client ? '' : ' (the preset leaves headroom below it)'}.`;
    if (shared?.name === name) return;
    shared?.close();
    shared = openQuota(tollgate, { name, windows: toLimiterWindows(c.client), clock, leaseMs: TIMEOUT_MS * clock.speed });
    shared.name = name;
    shared.events.addEventListener('change', throttled(showQuota));
    shared.epoch().then(showQuota, showError); // the first tab to ask names the quota for all
    showQuota();
  }

  function showQuota() {
    if (!shared) return;
    const v = shared.view();
    renderWindows(el.bars, v.windows, v.now);
    el.gate.textContent = v.pausedUntil > v.now
      ? `Paused until ${formatClock(v.pausedUntil)}: ${v.pauseReason}.`
      : `Gate open · ${v.inFlight} in flight from all tabs${v.epoch ? ` · quota #${v.epoch}` : ''}`;
  }

  async function fire() {
    const c = config();
    if (!c || run?.running) return;
    const limiter = shared;
    const epoch = await limiter.epoch();
    const t0 = clock.now();
    const arrivals = Array.from({ length: c.count }, (_, i) => t0 + i * c.intervalMs);
    run = {
      running: true, t0, arrivals, eta: await limiter.planArrivals(arrivals), windows: formatWindows(c.server),
      tg: { sent: [], status: [], accepted: 0, refused: 0, retried: 0, done: 0 },
      naive: { sends: [], attempts: new Array(c.count).fill(0), accepted: 0, refused: 0, retried: 0, settled: 0, stuck: 0 },
    };
    const thisRun = run;
    el.root.dataset.state = 'running';
    el.status.textContent = `Running: ${c.count} requests, one every ${formatDuration(c.intervalMs)}…`;
    el.fire.disabled = true;
    el.reset.disabled = true;
    el.summary.textContent = '';
    el.scheduleEmpty.hidden = true;
    el.schedule.hidden = false;
    const update = throttled(() => draw(thisRun));
    await Promise.all([
      runTollgate(thisRun, limiter, `tg-${epoch}`, update),
      runNaive(thisRun, c.client, `naive-${crypto.randomUUID().slice(0, 8)}`, update),
    ]);
    thisRun.running = false;
    el.root.dataset.state = 'done';
    el.status.textContent = 'Done.';
    el.fire.disabled = false;
    el.reset.disabled = false;
    draw(thisRun);
    summarize(thisRun);
    fillTable(thisRun);
  }

  const at = (t) => new Promise((resolve) => clock.setTimeout(resolve, t - clock.now()));

  async function send(key, windows, i) {
    try {
      const res = await fetch(`/mock/run/${i}`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'x-mock-windows': windows, 'x-mock-envelope': '1' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      // The body is always read: one left unread stays open until the timeout cancels it (net::ERR_ABORTED).
      // The mock's own answer is inside (see www/server/mock.mjs: a 429 fetched by a page is a console error in Chromium).
      const { status, headers, body } = await res.json();
      return new Response(JSON.stringify(body), { status, headers });
    } catch {
      return { ok: false, status: 0, headers: new Headers() };
    }
  }

  /** Each request: acquire from the shared quota, send, complete when answered; a 429 closes the shared gate. */
  function runTollgate(r, limiter, key, update) {
    return Promise.all(r.arrivals.map(async (arrival, i) => {
      await at(arrival);
      for (let attempt = 1; ; attempt++) {
        const permit = await limiter.acquire();
        r.tg.sent[i] ??= permit.at;
        let res;
        try {
          res = await send(key, r.windows, i);
        } finally {
          await permit.complete();
        }
        r.tg.status[i] = res.status;
        if (res.status !== 429 || attempt === 4) break;
        r.tg.refused++;
        r.tg.retried++;
        const wait = Math.max(1, Number(res.headers.get('retry-after')) || 1) * 1000;
        await limiter.pauseUntil(clock.now() + wait, 'the mock server answered 429 (Retry-After)');
        update();
      }
      if (r.tg.status[i] === 201) r.tg.accepted++;
      r.tg.done++;
      update();
    }));
  }

  /**
   * The same arrivals through the Hex document's limiter and retry loop. Done when
   * every request settled, or the rest can never move: waiting in its queue with
   * nothing in flight, asleep or still to arrive (its queue drains only on a later acquire()).
   */
  function runNaive(r, windows, key, update) {
    const nv = r.naive;
    // The seed's limiter knows two windows, a minute's and an hour's: it gets the first two (one window: twice the same).
    const [w0, w1 = w0] = windows;
    const limiter = new HexRateLimiter({ minuteLimit: w0.limit, minuteMs: w0.perMs, hourLimit: w1.limit, hourMs: w1.perMs, now: clock.now });
    let arrived = 0;
    let inFlight = 0;
    let sleeping = 0;
    const sleep = (ms) => {
      sleeping++;
      return new Promise((resolve) => clock.setTimeout(() => {
        sleeping--;
        resolve();
      }, ms));
    };
    return new Promise((resolve) => {
      const check = () => {
        update();
        if (arrived < r.arrivals.length || inFlight > 0 || sleeping > 0) return;
        if (nv.settled + limiter.queue.length < r.arrivals.length) return;
        nv.stuck = limiter.queue.length;
        clearInterval(poll);
        resolve();
      };
      const poll = setInterval(check, 200);
      r.arrivals.forEach(async (arrival, i) => {
        await at(arrival);
        arrived++;
        const attempt = async () => {
          inFlight++;
          nv.attempts[i]++;
          if (nv.attempts[i] > 1) nv.retried++;
          const sentAt = clock.now();
          const res = await send(key, r.windows, i);
          inFlight--;
          nv.sends.push({ i, at: sentAt, status: res.status });
          if (res.status === 429) nv.refused++;
          update();
          return res;
        };
        try {
          await hexRunWithRetry(limiter, attempt, 3, Math.random, sleep);
          nv.accepted++;
        } catch {
          // gave up: "Max retries exceeded" or another status
        }
        nv.settled++;
        check();
      });
    });
  }

  function draw(r) {
    const nv = r.naive;
    const set = (id, v) => { $(id).textContent = String(v); };
    set('pg-tg-sent', r.tg.sent.filter((t) => t !== undefined).length);
    set('pg-tg-accepted', r.tg.accepted);
    set('pg-tg-refused', r.tg.refused);
    set('pg-tg-waiting', r.arrivals.length - r.tg.done);
    set('pg-naive-sent', nv.sends.length);
    set('pg-naive-accepted', nv.accepted);
    set('pg-naive-refused', nv.refused);
    set('pg-naive-retried', nv.retried);
    set('pg-naive-stuck', nv.stuck);
    $('pg-tg-refused').dataset.zero = String(r.tg.refused === 0);
    $('pg-naive-refused').dataset.zero = String(nv.refused === 0);
    drawSchedule(r);
  }

  /** Three rows on the quota clock from the first arrival: the plan, tollgate's sends, the document's sends. */
  function drawSchedule(r) {
    const W = drawWidth(el.schedule, 1000);
    const rows = [['planned (plan)', 30], ['tollgate sent', 62], ['Hex document sent', 94]];
    const sentTg = r.tg.sent.filter((t) => t !== undefined);
    const end = Math.max(1_000, ...r.eta.map((t) => t - r.t0), ...sentTg.map((t) => t - r.t0), ...r.naive.sends.map((x) => x.at - r.t0));
    const x = (t) => 130 + ((t - r.t0) / end) * (W - 140);
    const tick = (t, y, cls) => s('line', { class: cls, x1: x(t), x2: x(t), y1: y - 9, y2: y + 9 });
    el.schedule.setAttribute('viewBox', `0 0 ${W} 124`);
    el.schedule.setAttribute('aria-label', `Schedule over ${formatDuration(end)}: ${r.eta.length} planned, ${sentTg.length} sent by tollgate `
      + `(${r.tg.refused} refused), ${r.naive.sends.length} sent by the Hex document's limiter (${r.naive.refused} refused).`);
    el.schedule.replaceChildren(
      ...rows.map(([label, y]) => s('text', { x: 4, y: y + 4, class: 'tick', text: label })),
      ...r.eta.map((t) => tick(t, 30, 'planned')),
      ...sentTg.map((t) => tick(t, 62, 'ok')),
      ...r.naive.sends.map((n) => tick(n.at, 94, n.status === 429 ? 'bad' : 'ok')),
      s('text', { x: 130, y: 120, class: 'tick', text: '0' }),
      s('text', { x: W - 10, y: 120, class: 'tick', 'text-anchor': 'end', text: formatOffset(end) }),
    );
  }

  function summarize(r) {
    const { tg, naive: nv } = r;
    const last = Math.max(...tg.sent);
    const planned = Math.max(...r.eta);
    const late = Math.max(0, ...tg.sent.map((t, i) => t - r.eta[i]));
    el.summary.textContent = `tollgate: ${tg.accepted} accepted, ${tg.refused} refused by the server; the last sent at ${formatOffset(last - r.t0)}, `
      + `planned ${formatOffset(planned - r.t0)}, at most ${formatDuration(late)} behind the plan (a request is counted when its answer arrives; `
      + `its latency and this page's own work run ×${clock.speed} on the quota clock; other tabs may share the quota). ${naiveOutcome(nv, r.arrivals.length)}`;
  }

  function fillTable(r) {
    const firstNaive = new Map();
    for (const n of r.naive.sends) if (!firstNaive.has(n.i)) firstNaive.set(n.i, n);
    el.table.tBodies[0].replaceChildren(...r.arrivals.map((a, i) => h('tr', {},
      h('th', { scope: 'row', text: String(i + 1) }),
      h('td', { text: formatOffset(a - r.t0) }),
      h('td', { text: formatOffset(r.eta[i] - r.t0) }),
      h('td', { text: r.tg.sent[i] === undefined ? '—' : formatOffset(r.tg.sent[i] - r.t0) }),
      h('td', { text: String(r.tg.status[i] ?? '—') }),
      h('td', { text: firstNaive.has(i) ? formatOffset(firstNaive.get(i).at - r.t0) : 'never' }),
      h('td', { text: String(r.naive.attempts[i]) }))));
  }

  function showError(error) {
    el.error.textContent = error?.message ?? String(error);
  }

  function saveForm() {
    localStorage.setItem(FORM_KEY, JSON.stringify({ preset: el.preset.value, windows: el.windows.value, count: el.count.value, interval: el.interval.value }));
  }

  function restoreForm() {
    let saved;
    try {
      saved = JSON.parse(localStorage.getItem(FORM_KEY) ?? 'null');
    } catch {
      saved = null;
    }
    if (saved && typeof saved.windows === 'string') {
      el.preset.value = saved.preset in presets || saved.preset === 'custom' ? saved.preset : 'custom';
      el.windows.value = saved.windows;
      el.count.value = saved.count;
      el.interval.value = saved.interval;
    } else {
      el.windows.value = formatWindows(presets[el.preset.value].client);
    }
  }
}

/**
 * What the Hex document's limiter did with this load, in words: it depends on
 * the arrival rate. All at once, it sends one full bucket and stalls (no 429:
 * the rest are never sent); faster than the limit but spread out, its buckets
 * refill as requests come, it sends up to about twice the limit in the first
 * period and the server refuses the excess; slower than the limit, all go through.
 */
function naiveOutcome(nv, count) {
  const parts = [`The Hex document's limiter sent ${nv.sends.length} (${nv.refused} refused with a 429), ${nv.accepted} of ${count} accepted`];
  if (nv.stuck > 0) parts.push(`${nv.stuck} never sent: its queue moves only when another request arrives, and none did`);
  if (nv.refused > 0) parts.push('its full, continuously refilling buckets sent more than the server allows in a period');
  if (nv.refused === 0 && nv.stuck === 0) parts.push('at this arrival rate it stayed within the quota');
  return `${parts.join('; ')}.`;
}

/** The playground's presets, from tollgate's own: the windows tollgate keeps, and the server's where they differ. */
function presetWindows({ presets, parseDuration }) {
  const windowsOf = (options) => options.routes[0].windows.map((w) => ({
    limit: w.limit, perMs: typeof w.per === 'number' ? w.per : parseDuration(w.per), kind: w.kind ?? 'sliding',
  }));
  return {
    hex: { client: windowsOf(presets.hex()) },
    hexagraph: { client: windowsOf(presets.hexagraph()) },
    sch: { client: windowsOf(presets.secureCodingHub({ headroom: 10 })), server: windowsOf(presets.secureCodingHub()) },
  };
}
