// The browser build in a real Chromium: a plain <script type="module"> imports
// it (no bundler, no init()), limits, and wraps the page's own fetch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';
import { startStaticServer } from './static.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the browser entry loads with a plain module import and limits in Chromium', async (t) => {
  let served = 0;
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const site = await startStaticServer({
    root,
    routes: {
      '/api/item': (req, res) => { served++; res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'); },
      '/smoke.html': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>
<script type="module">
  import { Limiter, rateLimitedFetch, InsufficientCapacityError } from '/js/dist/browser.js';
  const limiter = new Limiter({ windows: [{ limit: 2, per: '1m' }] });
  const first = [limiter.tryAcquire().ok, limiter.tryAcquire().ok, limiter.tryAcquire().ok];
  let named = '';
  try { limiter.tryAcquire(3); } catch (e) { named = e instanceof InsufficientCapacityError ? e.name : 'wrong'; }
  const limited = rateLimitedFetch(fetch, { routes: [{ url: '/api/*', windows: [{ limit: 3, per: '1h' }] }] });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await limited('/api/item')).status);
  const next = limited.scopes()[0].limiter.tryAcquire();
  window.result = { first, named, statuses, nextOk: next.ok, waitMs: next.waitMs };
</script>`),
    },
  });
  t.after(async () => { await browser.close(); await site.close(); });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.url}/smoke.html`);
  const result = await page.waitForFunction(() => window.result, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  assert.deepEqual(errors, []);
  assert.deepEqual(result.first, [true, true, false]);
  assert.equal(result.named, 'InsufficientCapacityError');
  assert.deepEqual(result.statuses, [200, 200, 200]);
  assert.equal(result.nextOk, false);
  assert.ok(result.waitMs > 3_500_000 && result.waitMs <= 3_600_000);
  assert.equal(served, 3);
});
