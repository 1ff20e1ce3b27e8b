// Two tabs of the dashboard share one quota through the package's tabStore
// (Web Locks + IndexedDB + BroadcastChannel; www/shared-quota.js opens it, and
// www/ has no limiter of its own): both fire at once, and the mock
// server, which judges each request when it arrives with a strict sliding log,
// never sees more than the limit and refuses nothing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDashboard } from '../../www/serve.mjs';
import { launch } from './chromium.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';

const WINDOWS = '10/1m';
const www = fileURLToPath(new URL('../../www/', import.meta.url));

test('two tabs firing at once stay within one shared quota', { timeout: 60_000 }, async (t) => {
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const dashboard = await startDashboard({ port: 0, speed: 120, pipeline: false }); // a quota minute is 0.5 s of real time: room for a loaded machine
  t.after(async () => {
    await browser.close();
    await dashboard.close();
  });
  const context = await browser.newContext();
  const tabs = [await context.newPage(), await context.newPage()];
  const errors = [];
  for (const tab of tabs) {
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${dashboard.url}/`);
    await tab.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
    await tab.fill('#pg-windows', WINDOWS);
    await tab.fill('#pg-count', '15');
    await tab.fill('#pg-interval', '0');
  }
  // The same quota in both: one epoch, one key at the server.
  const quota = (tab) => tab.waitForFunction(() => /quota #(\w+)/.exec(document.querySelector('#pg-gate').textContent)?.[1])
    .then((h) => h.jsonValue());
  assert.equal(await quota(tabs[0]), await quota(tabs[1]));

  await Promise.all(tabs.map((tab) => tab.click('#pg-fire')));
  await Promise.all(tabs.map((tab) => tab.waitForSelector('#playground[data-state="done"]', { timeout: 45_000 })));

  const seen = dashboard.mock.log.filter((e) => e.windows === WINDOWS && e.key.startsWith('tg-'));
  assert.equal(seen.length, 30, 'both tabs sent all their requests');
  assert.equal(new Set(seen.map((e) => e.key)).size, 1, 'under one key: one quota');
  assert.deepEqual(seen.filter((e) => e.status !== 201).map((e) => e.status), [], 'the server refused none');
  const most = mostInAnyWindow(seen.map((e) => e.at), 60_000);
  assert.ok(most <= 10, `at most 10 in any minute at the server; saw ${most}`);
  assert.equal(most, 10, 'and the quota was used: 10 in the first minute');
  for (const tab of tabs) {
    assert.equal((await tab.textContent('#pg-tg-accepted')).trim(), '15');
    assert.equal((await tab.textContent('#pg-tg-refused')).trim(), '0');
  }
  // Each tab's bar shows the quota the other spent too.
  for (const tab of tabs) assert.equal(await tab.getAttribute('#pg-bars .bar', 'aria-valuemax'), '10');
  // The quota lives where the package's tabStore keeps it.
  const stored = await tabs[0].evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('tollgate');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction('quotas').objectStore('quotas').getAllKeys();
      req.onsuccess = () => resolve(req.result);
    };
  }));
  assert.ok(stored.length >= 1 && stored.every((k) => k.startsWith('tollgate:limiter:')), `the quotas in the tabStore database: ${stored}`);
  assert.deepEqual(errors, []);
});

test('www/ uses the package\'s tabStore, not a copy of it', () => {
  const files = readdirSync(www).filter((f) => f.endsWith('.js'));
  const uses = files.filter((f) => /\btabStore\(\)/.test(readFileSync(join(www, f), 'utf8')));
  assert.deepEqual(uses, ['shared-quota.js']);
  for (const f of files) {
    const text = readFileSync(join(www, f), 'utf8');
    assert.doesNotMatch(text, /new BroadcastChannel|tollgate:limiter:/, `${f} keeps no shared limiter of its own`);
  }
});
