// The playground's quota is kept in localStorage: a reload shows what was
// spent, and a request fired after the reload waits for the window instead of
// reaching the server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDashboard } from '../../www/serve.mjs';
import { launch } from './chromium.mjs';

const WINDOWS = '5/1d';

test('a reload keeps the spent quota', { timeout: 60_000 }, async (t) => {
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const dashboard = await startDashboard({ port: 0, speed: 600, pipeline: false });
  t.after(async () => {
    await browser.close();
    await dashboard.close();
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
  await page.fill('#pg-windows', WINDOWS);
  await page.fill('#pg-count', '5');
  await page.fill('#pg-interval', '0');
  await page.click('#pg-fire');
  await page.waitForSelector('#playground[data-state="done"]', { timeout: 30_000 });
  const bar = () => page.getAttribute('#pg-bars .bar', 'aria-valuenow');
  assert.equal(await bar(), '5');
  const quotaBefore = /quota #(\w+)/.exec(await page.textContent('#pg-gate'))[1];

  await page.reload();
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
  assert.equal(await page.inputValue('#pg-windows'), WINDOWS, 'the form is kept too');
  await page.waitForFunction(() => document.querySelector('#pg-bars .bar')?.getAttribute('aria-valuenow') === '5', null, { timeout: 5_000 });
  assert.match(await page.textContent('#pg-bars .window-next'), /^full: next slot frees in (23|24) h/);
  assert.equal(/quota #(\w+)/.exec(await page.textContent('#pg-gate'))[1], quotaBefore);

  // One more request waits for the day window; the server never sees it.
  await page.fill('#pg-count', '1');
  await page.click('#pg-fire');
  await page.waitForSelector('#playground[data-state="running"]');
  await page.waitForTimeout(1_500); // 15 minutes on the quota clock
  assert.equal((await page.textContent('#pg-tg-sent')).trim(), '0');
  const seen = dashboard.mock.log.filter((e) => e.windows === WINDOWS && e.key.startsWith('tg-'));
  assert.equal(seen.length, 5);
  assert.deepEqual(errors, []);
});
