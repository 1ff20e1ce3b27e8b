// issue 13's library features in the browser build, in a real Chromium: keyed
// scopes hashed with HMAC-SHA-256 (no node:crypto there), schedule, wrap and
// maxConcurrent, typed events; and no diagnostics_channel is needed.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { startStaticServer } from './static.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'a shared secret of 32 characters';

test('browser build: keys hashed under keySecret, schedule/wrap with maxConcurrent, events', async (t) => {
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const site = await startStaticServer({
    root,
    routes: {
      '/api/item': (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
      '/page.html': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>
<script type="module">
  import { Limiter, rateLimitedFetch } from '/js/dist/browser.js';
  const routes = [{ url: '/api/*', windows: [{ limit: 10, per: '1m' }], key: (r) => r.headers.get('x-ip'), maxConcurrent: 2 }];
  const shared = rateLimitedFetch(fetch.bind(globalThis), { routes, keySecret: ${JSON.stringify(SECRET)} });
  const random = rateLimitedFetch(fetch.bind(globalThis), { routes });
  const admitted = [];
  shared.events.addEventListener('admitted', (e) => admitted.push(e.detail.key));
  const statuses = await Promise.all([1, 2, 3].map(() => shared('/api/item', { headers: { 'x-ip': '10.0.0.1' } }).then((r) => r.status)));
  const label = shared.scopeFor('/api/item', { headers: { 'x-ip': '10.0.0.1' } }).key;
  const other = random.scopeFor('/api/item', { headers: { 'x-ip': '10.0.0.1' } }).key;
  const limiter = new Limiter({ windows: [{ limit: 5, per: '1m' }], maxConcurrent: 1 });
  let running = 0, most = 0;
  const work = limiter.wrap(async function (x) { running++; most = Math.max(most, running); await new Promise((r) => setTimeout(r, 20)); running--; return this.k * x; });
  const obj = { k: 3, work };
  const products = await Promise.all([1, 2, 3].map((x) => obj.work(x)));
  let rejected = '';
  await limiter.schedule(async () => { throw new Error('boom'); }).catch((e) => { rejected = e.message; });
  window.result = { statuses, label, other, admitted, products, most, rejected, waiting: limiter.waiting };
</script>`),
    },
  });
  t.after(async () => { await browser.close(); await site.close(); });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.url}/page.html`);
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  assert.deepEqual(errors, []);
  assert.deepEqual(result.statuses, [200, 200, 200]);
  assert.equal(result.label, createHmac('sha256', SECRET).update('10.0.0.1').digest('hex').slice(0, 32), 'the same label as Node computes');
  assert.notEqual(result.other, result.label, 'a random secret labels it differently');
  assert.deepEqual(result.admitted, [result.label, result.label, result.label]);
  assert.deepEqual(result.products, [3, 6, 9]);
  assert.equal(result.most, 1);
  assert.equal(result.rejected, 'boom');
  assert.equal(result.waiting, 0);
});
