// The dashboard shows each scope's configured and learned windows side by side
// (issue 10), in Debian's Chromium: SecureCodingHub's server is started at 30
// a minute, below the preset's 50 (60 less 10 spare); its 429s state that
// window (X-RateLimit-Window: per_minute, X-RateLimit-Limit: 30), the scope
// learns it, and each key's card shows "1 min: configured 50 (calendar),
// learned 30 in force" beside the hour it configured and the server never
// stated. Also at 375 px: no horizontal scrolling, and axe-core finds no
// serious or critical violation in the cards. Saves
// tests/artifacts/dashboard-learned.png (one such card) for review.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDashboard } from '../../www/serve.mjs';
import { launch } from './chromium.mjs';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Each SecureCodingHub card's policy table: [row header, configured, learned] per row. */
const policies = (page) => page.$$eval('#apis [data-api="sch"] .scope table.policy', (tables) => tables.map((t) => [...t.tBodies[0].rows]
  .map((r) => [...r.cells].map((c) => c.textContent.trim()))));

test('the dashboard shows a window the server stated, lower than configured, beside the configured ones', { timeout: 60_000 }, async (t) => {
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  const stated = [];
  const dashboard = await startDashboard({
    port: 0, speed: 60, serverOptions: { sch: { perMinute: 30 } },
    onServerLog: (api, entries) => { if (api === 'sch') stated.push(...entries.filter((e) => e.status === 429)); },
  });
  t.after(async () => {
    await browser.close();
    await dashboard.close();
  });
  const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });

  // The first SecureCodingHub batch (70 reads over two keys at once) meets the stricter server at once.
  await page.waitForFunction(() => {
    const tables = [...document.querySelectorAll('#apis [data-api="sch"] .scope table.policy')];
    return tables.length === 2 && tables.every((t) => t.querySelector('td[data-side="learned"][data-in-force="true"]'));
  }, null, { timeout: 30_000 });
  assert.deepEqual(await policies(page), [
    [['1 min', '50 (calendar)', '30 in force'], ['1 h', '1,000', '—']],
    [['1 min', '50 (calendar)', '30 in force'], ['1 h', '1,000', '—']],
  ]);
  assert.ok(stated.length > 0, 'the server refused, and its 429s stated its window');
  // The bars follow the learned limit (the limiter in force).
  const bars = await page.$$eval('#apis [data-api="sch"] .scope .bar', (els) => els.map((e) => e.getAttribute('aria-valuemax')));
  assert.deepEqual(bars, ['30', '1000', '30', '1000']);
  // A scope whose server stated nothing: configured only.
  const hex = await page.$eval('#apis [data-api="hex"] .scope table.policy', (t) => [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(hex, [['1 min', '20', '—'], ['1 h', '60', '—']]);

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow} px)`);
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run('#apis', { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`));
  assert.deepEqual(violations, []);
  assert.deepEqual(errors, []);
  await page.$eval('#apis [data-api="sch"] .scope', (el) => el.scrollIntoView());
  mkdirSync(artifacts, { recursive: true });
  await (await page.$('#apis [data-api="sch"] .scope')).screenshot({ path: `${artifacts}dashboard-learned.png` });
});
