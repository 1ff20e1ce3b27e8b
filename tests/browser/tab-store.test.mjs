// tabStore() in a real Chromium: tabs of one origin share one quota through
// Web Locks + localStorage + BroadcastChannel. A strict server on 127.0.0.1
// counts each request when it arrives (sliding log, real time) and refuses
// what is over: tabs firing at once must never make it refuse. One browser for
// the whole file (Chromium starts are expensive).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { startStaticServer } from './static.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT = 4;
const PER_MS = 500;

let site;
let browser;
const arrivals = new Map(); // quota name -> arrival times at the server
const refused = [];

// A page with the package loaded and a helper that opens a shared limiter.
const PAGE = `<!doctype html><title>tabs</title><script type="module">
  import * as tg from '/js/dist/browser.js';
  window.tg = tg;
  const open = tg.Limiter.shared ?? tg.openShared; // Limiter.shared once the redis branch is merged: the same contract
  window.open_ = (name, extra = {}) => open({ name, windows: [{ limit: ${LIMIT}, per: ${PER_MS} }], store: tg.tabStore(), countInFlight: true, ...extra });
  window.ready = true;
</script>`;

before(async () => {
  site = await startStaticServer({
    root,
    routes: {
      '/tabs.html': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE),
      '/api': (req, res) => {
        const name = new URL(req.url, 'http://x').searchParams.get('q');
        const log = arrivals.get(name) ?? [];
        arrivals.set(name, log);
        const now = Date.now();
        const recent = log.filter((t) => t > now - PER_MS).length;
        log.push(now);
        if (recent >= LIMIT) refused.push(name);
        // Answers take a while, so requests overlap and are in flight together.
        setTimeout(() => res.writeHead(recent >= LIMIT ? 429 : 200).end(), 30);
      },
    },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

async function openTabs(context, n) {
  const tabs = [];
  for (let i = 0; i < n; i++) {
    const tab = await context.newPage();
    tab.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await tab.goto(`${site.url}/tabs.html`);
    await tab.waitForFunction(() => window.ready === true);
    tabs.push(tab);
  }
  return tabs;
}

test('three tabs firing at once never exceed the quota together', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const tabs = await openTabs(context, 3);
  const name = 'fire-at-once';
  const results = await Promise.all(tabs.map((tab, k) => tab.evaluate(async ({ name, k }) => {
    const limiter = window.open_(name);
    const statuses = await Promise.all(Array.from({ length: 6 }, async () => {
      const permit = await limiter.acquire({});
      try {
        return (await fetch(`/api?q=${name}&tab=${k}`)).status;
      } finally {
        await permit.complete();
      }
    }));
    await limiter.close();
    return statuses;
  }, { name, k })));
  assert.deepEqual(results.flat().filter((s) => s !== 200), [], 'the server refused none');
  const seen = arrivals.get(name);
  assert.equal(seen.length, 18);
  assert.equal(mostInAnyWindow(seen, PER_MS), LIMIT, `at most ${LIMIT} in any ${PER_MS} ms at the server, and the quota was used`);
  await context.close();
});

test('waiters of every tab are served by priority, then arrival', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [a, b] = await openTabs(context, 2);
  const name = 'turns';
  // Tab A spends the quota, then queues two low-priority waiters; tab B then queues a high-priority one.
  await a.evaluate(async (name) => {
    window.limiter = window.open_(name, { windows: [{ limit: 1, per: 400 }], countInFlight: false });
    await (await window.limiter.acquire()).complete();
    window.order = [];
    for (const k of ['a1', 'a2']) window.limiter.acquire({ priority: 0 }).then(() => window.order.push([k, Date.now()]));
    await new Promise((r) => setTimeout(r, 20));
  }, name);
  const bAt = await b.evaluate(async (name) => {
    const limiter = window.open_(name, { windows: [{ limit: 1, per: 400 }], countInFlight: false });
    await limiter.acquire({ priority: 5 });
    return Date.now();
  }, name);
  await a.waitForFunction(() => window.order.length === 2);
  const order = await a.evaluate(() => window.order);
  const times = [['b', bAt], ...order].sort((x, y) => x[1] - y[1]).map((x) => x[0]);
  assert.deepEqual(times, ['b', 'a1', 'a2'], 'the higher priority in another tab went first, then arrival order');
  await context.close();
});

test('a reload keeps the spent quota', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [tab] = await openTabs(context, 1);
  const windows = [{ limit: 3, per: '1h' }];
  const spent = await tab.evaluate(async (windows) => {
    const limiter = window.open_('reload', { windows });
    const ats = [];
    for (let i = 0; i < 3; i++) {
      const p = await limiter.acquire();
      ats.push(p.at);
      await p.complete();
    }
    return ats;
  }, windows);
  await tab.reload();
  await tab.waitForFunction(() => window.ready === true);
  const after = await tab.evaluate(async (windows) => {
    const limiter = window.open_('reload', { windows });
    const r = await limiter.tryAcquire();
    const usage = await limiter.usage();
    return { ok: r.ok, retryAt: r.retryAt, used: usage[0].used };
  }, windows);
  assert.equal(after.ok, false, 'the quota spent before the reload still counts');
  assert.equal(after.used, 3);
  assert.ok(after.retryAt >= spent[0] + 3_600_000 && after.retryAt <= spent[0] + 3_600_000 + 5_000, `retryAt an hour after the first: ${after.retryAt - spent[0]}`);
  await context.close();
});

test('a tab closed mid-request holds its units only until the lease ends; its waiters are dropped at once', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [gone, waiterGone, stays] = await openTabs(context, 3);
  const LEASE = 800;
  const opts = { windows: [{ limit: 1, per: 300 }], leaseMs: LEASE };
  const grantedAt = await gone.evaluate(async (opts) => {
    window.limiter = window.open_('lease', opts);
    const p = await window.limiter.acquire();
    fetch('/api?q=lease-never-answered-here'); // sent, never completed: the tab closes
    return p.at;
  }, opts);
  // Another tab queues behind it and closes while waiting: its entry must not block the queue.
  await waiterGone.evaluate(async (opts) => {
    window.limiter = window.open_('lease', opts);
    window.limiter.acquire({ priority: 9 });
    await new Promise((r) => setTimeout(r, 50));
  }, opts);
  await gone.close();
  await waiterGone.close();
  // The browser releases a closed tab's locks shortly after the tab is gone.
  await stays.evaluate(async () => {
    while ((await navigator.locks.query()).held.length > 0) await new Promise((r) => setTimeout(r, 20));
  });
  const r = await stays.evaluate(async (opts) => {
    const limiter = window.open_('lease', opts);
    const early = await limiter.tryAcquire();
    const p = await limiter.acquire();
    const usage = await limiter.usage();
    return { early: early.ok, retryAt: early.retryAt, at: p.at, usage };
  }, opts);
  assert.equal(r.early, false, 'the closed tab still holds its unit within the lease');
  assert.equal(r.retryAt, grantedAt + LEASE + 300, 'exact: counted as sent at at + leaseMs, free one window later');
  assert.ok(r.at >= grantedAt + LEASE + 300, `admitted after the lease and one window: ${r.at - grantedAt}`);
  assert.ok(r.at < grantedAt + LEASE + 300 + 1_000, `and not much later (the closed waiter did not block it): ${r.at - grantedAt}`);
  await context.close();
});

test('a pause, a reconcile and a reset in one tab hold in the other; events say what happened', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [a, b] = await openTabs(context, 2);
  const opts = { windows: [{ limit: 5, per: '1h' }] };
  const until = await a.evaluate(async (opts) => {
    window.limiter = window.open_('gate', opts);
    const until = Date.now() + 60_000;
    await window.limiter.pauseUntil(until, 'a 429 said so');
    await window.limiter.reconcile(0, { remaining: 2 }); // the server has seen 3 of 5 from elsewhere
    return until;
  }, opts);
  const seen = await b.evaluate(async (opts) => {
    const limiter = window.open_('gate', opts);
    const events = [];
    for (const type of ['queued', 'admitted', 'aborted']) limiter.events.addEventListener(type, (e) => events.push(type));
    const r = await limiter.tryAcquire();
    const used = (await limiter.usage())[0].used;
    const view = limiter.peek();
    const ac = new AbortController();
    const waiting = limiter.acquire({ signal: ac.signal }).catch((e) => e.name);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort(new DOMException('stop', 'AbortError'));
    const aborted = await waiting;
    await limiter.reset();
    const after = await limiter.tryAcquire();
    return { ok: r.ok, retryAt: r.retryAt, used, reason: view.pauseReason, aborted, events, afterOk: after.ok, usedAfter: (await limiter.usage())[0].used };
  }, opts);
  assert.equal(seen.ok, false);
  assert.equal(seen.retryAt, until, 'the pause of the other tab, exactly');
  assert.equal(seen.used, 3, 'the reconcile of the other tab');
  assert.equal(seen.reason, 'a 429 said so');
  assert.equal(seen.aborted, 'AbortError');
  assert.deepEqual(seen.events, ['queued', 'aborted']);
  assert.equal(seen.afterOk, true, 'a reset forgets the pause and what was spent, for every tab');
  assert.equal(seen.usedAfter, 1);
  await context.close();
});

test('close() rejects this tab\'s waiters and frees their turn for the other tabs; maxWaiters caps a tab\'s queue', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [a, b] = await openTabs(context, 2);
  const opts = { windows: [{ limit: 1, per: 300 }], countInFlight: false, maxWaiters: 2 };
  const first = await a.evaluate(async (opts) => {
    window.limiter = window.open_('closing', opts);
    await window.limiter.acquire(); // spends the window
    window.rejected = Promise.all([window.limiter.acquire({ priority: 9 }), window.limiter.acquire()].map((p) => p.catch((e) => e.name)));
    const full = await window.limiter.acquire().catch((e) => e.name);
    await new Promise((r) => setTimeout(r, 50));
    return full;
  }, opts);
  assert.equal(first, 'QueueFullError');
  const bAcquire = b.evaluate(async (opts) => {
    const limiter = window.open_('closing', opts);
    const t0 = Date.now();
    const p = await limiter.acquire();
    return { at: p.at, waited: Date.now() - t0 };
  }, opts);
  await new Promise((r) => setTimeout(r, 100));
  const rejected = await a.evaluate(async () => {
    await window.limiter.close();
    const names = await window.rejected;
    let after = '';
    try { await window.limiter.tryAcquire(); } catch (e) { after = e.message; }
    return { names, after };
  });
  assert.deepEqual(rejected.names, ['TollgateError', 'TollgateError']);
  assert.match(rejected.after, /closed/);
  const got = await bAcquire;
  assert.ok(got.waited < 1_000, `the other tab was not stuck behind the closed limiter's waiters: ${got.waited} ms`);
  await context.close();
});

test('the Node entry imports tabStore, and calling it there is a named StoreError', async () => {
  const tg = await import('../../js/node.mjs');
  // Node 20 has no navigator; a Node with Web Locks still has no IndexedDB.
  assert.throws(() => tg.tabStore(), (e) => tg.isStoreError(e) && ['navigator.locks', 'indexedDB'].includes(e.location) && /^tabStore\(\) needs/.test(e.message));
  assert.throws(() => tg.tabStore({ prefix: 'a:b' }), /`prefix`/);
});

test('the shared limiter validates its options with named TypeErrors', { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const [tab] = await openTabs(context, 1);
  const messages = await tab.evaluate(async () => {
    const out = [];
    const bad = [
      { name: '', windows: [{ limit: 1, per: '1s' }] },
      { name: 'x', windows: [] },
      { name: 'x', windows: [{ limit: 1, per: '1s' }], leaseMs: 'soon' },
    ];
    for (const o of bad) {
      try { (window.tg.Limiter.shared ?? window.tg.openShared)({ store: window.tg.tabStore(), ...o }); out.push('no error'); } catch (e) { out.push(`${e.name}: ${e.message}`); }
    }
    const limiter = window.open_('validate');
    try { await limiter.acquire({ cost: 99 }); out.push('no error'); } catch (e) { out.push(e.name); }
    // schedule/wrap and a per-tab maxConcurrent: the second call starts only when the first settled.
    out.push(await limiter.schedule(async () => 42));
    await limiter.close();
    const one = window.open_('concurrent', { maxConcurrent: 1 });
    const log = [];
    const job = one.wrap(async (k) => { log.push(`start ${k}`); await new Promise((r) => setTimeout(r, 30)); log.push(`end ${k}`); return k; });
    out.push((await Promise.all([job('a'), job('b')])).join(''), log.join(', '));
    const busy = one.acquire();
    const full = await one.tryAcquire();
    out.push(String(full.ok), String(full.retryAt));
    await (await busy).complete();
    out.push(String((await one.tryAcquire()).ok));
    await one.close();
    return out;
  });
  assert.match(messages[0], /^TypeError: `name`/);
  assert.match(messages[1], /^TypeError: `windows`/);
  assert.match(messages[2], /^TypeError: `leaseMs`/);
  assert.equal(messages[3], 'InsufficientCapacityError', 'a cost over the limit is refused at once, not queued forever');
  assert.equal(messages[4], 42);
  assert.equal(messages[5], 'ab');
  assert.equal(messages[6], 'start a, end a, start b, end b', 'maxConcurrent 1: one call in flight at a time');
  assert.deepEqual(messages.slice(7), ['false', 'Infinity', 'true'], 'tryAcquire with every slot busy: only a completion frees one');
  await context.close();
});

test('the decisions, as pure functions: exact retryAt with leases, turns, lease ends in order', async () => {
  await import('../../js/node.mjs'); // loads the wasm core
  const { createRequire } = await import('node:module');
  const w = createRequire(import.meta.url)('../../js/cjs/tabs/windows.js');
  const windows = [{ kind: 'sliding', limit: 2, perMs: 300, offsetMs: 0 }];
  const state = (inFlight, queue = []) => ({ version: 1, epoch: 'e', snapshot: null, inFlight, queue, seq: queue.length, pausedUntil: 0, pauseReason: '' });
  const flight = (id, at, leaseEnd, cost = 1) => ({ id, owner: 'o', at, cost, leaseEnd, picked: true, counted: false });
  // Two units in flight (limit 2), leases ending at 1000 and 2000: at 1000 the first counts as sent then
  // (1 used + 1 in flight = 2), so one more fits when it ages out, at 1300.
  const s = state([flight('a', 0, 1000), flight('b', 0, 2000)]);
  assert.equal(w.timeline(s, windows, 100, [1]), 1300);
  assert.equal(w.timeline(s, windows, 100, [1, 1]), 1600, 'the second of two waits for the first and one more window');
  assert.equal(w.timeline(state([]), windows, 100, [1, 1, 1]), 400, 'nothing in flight: two now, the third one window later');
  assert.equal(s.inFlight.length, 2, 'timeline works on a copy');
  w.settleLeases(s, windows, 1100);
  assert.deepEqual(s.inFlight.map((p) => p.id), ['b'], 'only the ended lease is settled');
  assert.deepEqual(s.snapshot.windows[0].state.sliding.log, [[1000, 1]], 'counted at its lease end, not at the settling time');
  w.settleLeases(s, windows, 2500);
  assert.deepEqual(s.inFlight, []);
  assert.deepEqual(s.snapshot.windows[0].state.sliding.log, [[2000, 1]]);
  // Turns: priority, then arrival; a head that does not fit is not overtaken.
  const q = state([], [
    { id: 'low', owner: 'x', cost: 1, priority: 0, seq: 0 },
    { id: 'big', owner: 'y', cost: 2, priority: 5, seq: 2 },
    { id: 'high', owner: 'z', cost: 1, priority: 5, seq: 1 },
  ]);
  const opts = { leaseMs: 1000, countInFlight: true };
  assert.equal(w.grantQueue(q, windows, 0, opts), 1000 + 300, 'after "high", "big" (2) needs both slots: when the lease of "high" ends, one window on');
  assert.deepEqual(q.inFlight.map((p) => p.id), ['high']);
  assert.deepEqual(q.queue.map((e) => e.id), ['big', 'low'], '"low" fits now but does not overtake "big"');
});
