// The dashboard as a person sees it, in Debian's Chromium: served by
// www/serve.mjs's own server (in-process, quota clock x60), the live bars
// move while the servers refuse nothing, and the playground run keeps tollgate
// at 0 refusals while the Hex document's limiter, on the same load, draws 429s.
// Saves tests/artifacts/dashboard.png for review.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDashboard } from '../../www/serve.mjs';
import { launch } from './chromium.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const HEX = '20/1m, 60/1h';

test('the dashboard: live bars move, no server refuses, the playground beats the Hex document’s limiter', { timeout: 60_000 }, async (t) => {
  // x60, npm start's own speed: faster, and the page's timers (a real millisecond
  // late is `speed` ms late) would spread the arrivals beyond the document's burst.
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const dashboard = await startDashboard({ port: 0, speed: 60 });
  t.after(async () => {
    await browser.close();
    await dashboard.close();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  const elsewhere = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(`${dashboard.url}/`)) elsewhere.push(r.url());
  });

  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });

  // Live view: one card per scope (2 Hex tokens, Hexagraph, 2 SecureCodingHub keys), keys hashed.
  await page.waitForFunction(() => document.querySelectorAll('#apis .scope').length === 5, null, { timeout: 15_000 });
  const keys = await page.$$eval('#apis .scope .key', (els) => els.map((e) => e.textContent));
  assert.ok(keys.every((k) => !/token|worker/.test(k)), `keys are shown hashed, never raw: ${keys}`);
  const liveBars = () => page.$$eval('#apis .scope .bar', (els) => els.map((e) => e.getAttribute('aria-valuenow')));
  const before = await liveBars();
  await page.waitForFunction((b) => [...document.querySelectorAll('#apis .scope .bar')]
    .some((e, i) => e.getAttribute('aria-valuenow') !== b[i]), before, { timeout: 20_000 });
  const sentPerScope = await page.$$eval('#apis [data-count="admitted"]', (els) => els.map((e) => Number(e.textContent.replace(/,/g, ''))));
  assert.ok(sentPerScope.every((n) => n > 0), `every scope sent requests: ${sentPerScope}`);
  assert.equal(await page.$$eval('#apis svg.chart rect.sent', (els) => els.length > 0), true, 'the timelines show requests sent');

  // Playground: Hex's quota, 45 requests one a second (quota clock), same load for both sides.
  await page.selectOption('#pg-preset', 'hex');
  assert.equal(await page.inputValue('#pg-windows'), HEX);
  await page.fill('#pg-count', '45');
  await page.fill('#pg-interval', '1');
  const pgBars = () => page.$$eval('#pg-bars .bar', (els) => els.map((e) => Number(e.getAttribute('aria-valuenow'))));
  assert.deepEqual(await pgBars(), [0, 0]);
  await page.click('#pg-fire');
  await page.waitForFunction(() => Number(document.querySelector('#pg-bars .bar')?.getAttribute('aria-valuenow')) > 0, null, { timeout: 15_000 });
  await page.waitForSelector('#playground[data-state="done"]', { timeout: 40_000 });

  const text = async (sel) => (await page.textContent(sel)).trim();
  assert.equal(await text('#pg-tg-accepted'), '45');
  assert.equal(await text('#pg-tg-refused'), '0', 'tollgate draws no 429');
  assert.ok(Number(await text('#pg-naive-refused')) > 0, 'the Hex document’s limiter draws 429s on the same load');
  const [minute, hour] = await pgBars();
  assert.ok(minute <= 20 && hour === 45, `the bars show the spent quota: ${minute}/20, ${hour}/60`);
  assert.match(await text('#pg-summary'), /tollgate: 45 accepted, 0 refused by the server/);

  // What the mock server saw of tollgate: every request accepted, never more than the quota.
  const seen = dashboard.mock.log.filter((e) => e.windows === HEX && e.key.startsWith('tg-'));
  assert.equal(seen.length, 45);
  assert.deepEqual(seen.filter((e) => e.status !== 201), []);
  assert.ok(mostInAnyWindow(seen.map((e) => e.at), 60_000) <= 20);

  // After all that, still no refusal by any pipeline server.
  const refused = await page.$$eval('#apis [data-count="refused"], #apis .server-refused', (els) => els.map((e) => e.textContent));
  assert.ok(refused.length === 8 && refused.every((n) => n === '0'), `refused by the servers: ${refused}`);

  await page.evaluate(() => window.scrollTo(0, 0));
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}dashboard.png` });
  await page.screenshot({ path: `${artifacts}dashboard-full.png`, fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(elsewhere, [], 'no request leaves the dashboard’s origin');
});

test('the dashboard fits a narrow screen and is usable by keyboard', { timeout: 60_000 }, async (t) => {
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const dashboard = await startDashboard({ port: 0, speed: 300, pipeline: false });
  t.after(async () => {
    await browser.close();
    await dashboard.close();
  });
  const page = await browser.newPage({ viewport: { width: 375, height: 700 } });
  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow} px)`);

  // Every form control has a label.
  const unlabelled = await page.$$eval('input, select, button', (els) => els.filter((e) => !(e.labels?.length || e.textContent.trim() || e.getAttribute('aria-label'))).map((e) => e.id));
  assert.deepEqual(unlabelled, []);

  // Keyboard only: type windows, tab to Fire, press Enter.
  await page.focus('#pg-windows');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('3/1m');
  assert.equal(await page.inputValue('#pg-preset'), 'custom');
  await page.focus('#pg-count');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('4');
  await page.focus('#pg-interval');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('0');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pg-fire');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#playground[data-state="done"]', { timeout: 30_000 });
  assert.equal((await page.textContent('#pg-tg-accepted')).trim(), '4');
  assert.equal((await page.textContent('#pg-tg-refused')).trim(), '0');

  // A bad window is named, next to the field.
  await page.fill('#pg-windows', '20 a minute');
  assert.match(await page.textContent('#pg-error'), /window 1 .* must look like 20\/1m/);
  assert.equal(await page.getAttribute('#pg-windows', 'aria-invalid'), 'true');
});
