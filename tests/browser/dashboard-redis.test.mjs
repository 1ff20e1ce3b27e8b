// `npm start -- --redis <url> --workers N`: the dashboard's pipeline as N real
// worker processes sharing every quota through a real redis-server (started
// here on a free port, without persistence). Chromium reads the page: every
// worker shows a share of the Hex quotas, and what they take together never
// exceeds a limit; the seed-like servers' own logs judge (0 429s, never more
// than a window allows). Then the command: a bad or unreachable --redis is one
// line and exit 1, and no worker process outlives the dashboard (SIGTERM, or
// the dashboard killed outright). Saves tests/artifacts/dashboard-redis.png for review.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { startDashboard } from '../../www/serve.mjs';
import { mostInAnyWindow } from '../js/windows.mjs';
import { freePort, startRedis } from '../shared/redis-server.mjs';
import { launch } from './chromium.mjs';

const serve = fileURLToPath(new URL('../../www/serve.mjs', import.meta.url));
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const MINUTE = 60_000;
const HOUR = 3_600_000;

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls until none of `pids` runs (or `ms` pass); returns those still running. */
async function survivors(pids, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

/** The most of `times` in one calendar period of `perMs` (epoch-aligned, as SecureCodingHub counts). */
function mostInOnePeriod(times, perMs) {
  const counts = new Map();
  for (const t of times) counts.set(Math.floor(t / perMs), (counts.get(Math.floor(t / perMs)) ?? 0) + 1);
  return Math.max(0, ...counts.values());
}

test('three workers share the quotas through Redis: each shows a share, together within every limit, no server refuses', { timeout: 90_000 }, async (t) => {
  const logs = { hex: [], hexagraph: [], sch: [] };
  const browser = await launch(); // first: if it throws, no server is left open to hold the process
  // x300: the Hex hour (60 runs) fills in seconds, and a quota minute is 200 real ms.
  const dashboard = await startDashboard({ port: 0, speed: 300, redis: redis.url, workers: 3,
    onServerLog: (api, entries) => logs[api].push(...entries) });
  let closed = false;
  t.after(async () => {
    await browser.close();
    if (!closed) await dashboard.close();
  });
  const pids = dashboard.workerPids;
  assert.equal(pids.length, 3);
  assert.ok(pids.every(alive) && !pids.includes(process.pid), `three worker processes: ${pids}`);

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });

  // The overview: one row per worker process, with its pid.
  await page.waitForFunction(() => document.querySelectorAll('#workers tbody tr[data-worker]').length === 3, null, { timeout: 15_000 });
  const shownPids = await page.$$eval('#workers tbody tr [data-field="pid"]', (els) => els.map((e) => Number(e.textContent.replace('pid ', ''))));
  assert.deepEqual(shownPids, pids);
  assert.match(await page.textContent('#workers'), new RegExp(`Redis at redis://127\\.0\\.0\\.1:${redis.port}`));

  // Each Hex token's card: every worker has a share of the hour window (window 2).
  const hexShares = () => page.$$eval('#apis [data-api="hex"] .scope', (cards) => cards.map((card) => ({
    rows: [...card.querySelectorAll('.shares tbody tr')].map((r) => [...r.querySelectorAll('[data-share]')].map((c) => Number(c.dataset.value))),
  })));
  await page.waitForFunction(() => {
    const cards = document.querySelectorAll('#apis [data-api="hex"] .scope');
    return cards.length === 2 && [...cards].every((card) => {
      const rows = card.querySelectorAll('.shares tbody tr');
      return rows.length === 3 && [...rows].every((r) => Number(r.querySelector('[data-share="1"]')?.dataset.value) > 0);
    });
  }, null, { timeout: 30_000 });

  // For a few seconds (some 25 quota minutes): what the page shows together never exceeds a limit.
  const samples = [];
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    samples.push(...await page.$$eval('#apis .scope .shares tr.total [data-total]', (cells) => cells.map((c) => ({
      together: Number(c.dataset.value), limit: Number(c.dataset.limit), within: c.dataset.within,
      used: Number(c.dataset.used),
    }))));
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(samples.length > 20, `sampled ${samples.length}`);
  for (const s of samples) {
    assert.ok(s.together <= s.limit && s.within === 'true', `together ${s.together} of ${s.limit}`);
    assert.ok(s.used <= s.limit, `Redis counts ${s.used} of ${s.limit}`);
  }
  assert.ok(samples.some((s) => s.limit === 60 && s.together >= 55), 'a Hex hour was (nearly) full: the workers did compete');
  const shares = await hexShares();
  assert.ok(shares.every((card) => card.rows.every((row) => row[1] > 0)), `every worker kept a share: ${JSON.stringify(shares)}`);

  await page.evaluate(() => window.scrollTo(0, 0));
  mkdirSync(artifacts, { recursive: true });
  await page.locator('#live').screenshot({ path: `${artifacts}dashboard-redis.png` });

  // The workers' tables read as well as the rest of the page (axe-core, as in newcomer.test.mjs).
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run('#live', { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`));
  assert.deepEqual(violations, []);

  // The page shows no refusal anywhere.
  const refused = await page.$$eval('#workers [data-field="refused"], #apis .server-refused', (els) => els.map((e) => e.textContent));
  assert.ok(refused.length === 6 && refused.every((n) => n === '0'), `refused: ${refused}`);
  assert.deepEqual(errors, []);

  const client = new Redis(redis.port, '127.0.0.1');
  t.after(() => client.disconnect());
  assert.ok((await client.keys('{tollgate-dashboard-*')).length > 0, 'the quotas are in Redis');
  await dashboard.close();
  closed = true;
  assert.deepEqual(await survivors(pids, 1_000), [], 'no worker outlives close()');
  assert.deepEqual(await client.keys('{tollgate-dashboard-*'), [], 'the dashboard’s quotas are gone from Redis');

  // The servers' own logs: all three workers' requests, 0 refused, never more than a window allows.
  const counted = (e) => e.status >= 200 && e.status < 300 || e.status === 409; // Hex counts a 409 (already running)
  for (const [api, log] of Object.entries(logs)) {
    assert.ok(log.length > 0, `${api} saw requests`);
    assert.deepEqual(log.filter((e) => e.status === 429), [], `${api} refused nothing`);
  }
  const byKey = (log) => {
    const groups = {};
    for (const e of log.filter(counted)) (groups[e.key] ??= []).push(e);
    return groups;
  };
  const hex = byKey(logs.hex.filter((e) => e.method === 'POST'));
  assert.equal(Object.keys(hex).length, 2, 'two Hex tokens');
  for (const [key, entries] of Object.entries(hex)) {
    const at = entries.map((e) => e.at);
    assert.ok(mostInAnyWindow(at, MINUTE) <= 20 && mostInAnyWindow(at, HOUR) <= 60, `Hex ${key}: ${mostInAnyWindow(at, MINUTE)}/min, ${mostInAnyWindow(at, HOUR)}/h`);
  }
  // The CI token's three workers ask for 225 an hour: together they used its 60 (so the limit was tested).
  const ci = Math.max(...Object.values(hex).map((entries) => mostInAnyWindow(entries.map((e) => e.at), HOUR)));
  assert.ok(ci >= 55, `a Hex token used its hour: ${ci}`);
  assert.ok(mostInAnyWindow(logs.hexagraph.filter(counted).map((e) => e.at), MINUTE) <= 30);
  for (const [key, entries] of Object.entries(byKey(logs.sch))) {
    const at = entries.map((e) => e.at);
    assert.ok(mostInOnePeriod(at, MINUTE) <= 60 && mostInAnyWindow(at, HOUR) <= 1_000, `SecureCodingHub ${key}`);
  }
});

test('Redis lost mid-run: the page says which calls failed and why; the workers carry on when it is back, and stop', { timeout: 60_000 }, async (t) => {
  const browser = await launch();
  const dashboard = await startDashboard({ port: 0, speed: 300, redis: redis.url, workers: 2 });
  t.after(async () => {
    await browser.close();
    await dashboard.close();
    assert.deepEqual(await survivors(dashboard.workerPids, 1_000), []);
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${dashboard.url}/`);
  await page.waitForFunction(() => document.querySelectorAll('#workers tbody tr[data-worker]').length === 2, null, { timeout: 15_000 });
  assert.equal(await page.isHidden('#workers .workers-problem'), true, 'no problem while Redis answers');
  const admitted = () => page.$$eval('#workers [data-field="admitted"]', (els) => els.reduce((n, e) => n + Number(e.textContent.replace(/,/g, '')), 0));
  await page.waitForFunction(() => [...document.querySelectorAll('#workers [data-field="admitted"]')].every((e) => Number(e.textContent) > 0), null, { timeout: 15_000 });

  // A narrow screen: nothing scrolls the page sideways, and what scrolls inside is reachable.
  await page.setViewportSize({ width: 375, height: 700 });
  await page.waitForFunction(() => document.querySelectorAll('#apis .scope .shares').length >= 3, null, { timeout: 15_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow} px)`);
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run('#live', { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id));
  assert.deepEqual(violations, []);

  await redis.kill();
  await page.waitForSelector('#workers .workers-problem:not([hidden])', { timeout: 20_000 });
  assert.match(await page.textContent('#workers .workers-problem'), /worker \d: [\d,]+ calls? failed \(last: StoreError: /);
  assert.deepEqual(await page.$$eval('#workers tr[data-worker]', (rows) => rows.map((r) => r.dataset.running)), ['true', 'true'], 'the workers keep running');

  await redis.restart();
  const before = await admitted();
  await page.waitForFunction((n) => [...document.querySelectorAll('#workers [data-field="admitted"]')]
    .reduce((sum, e) => sum + Number(e.textContent.replace(/,/g, '')), 0) > n + 5, before, { timeout: 30_000 });
});

/** The command with `args`; resolves once it printed its banner (or exited). */
function startCommand(args) {
  const child = spawn(process.execPath, [serve, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const banner = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/Ctrl-C to stop/.test(stdout)) resolve(stdout);
    });
    exited.then(({ code }) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  return { child, banner, exited, stderr: () => stderr };
}

test('the command: workers listed, stopped with the dashboard (SIGTERM), and gone when it is killed outright', { timeout: 60_000 }, async () => {
  for (const [signal, code] of [['SIGTERM', 0], ['SIGKILL', null]]) {
    const port = await freePort();
    const run = startCommand(['--port', String(port), '--speed', '600', '--redis', redis.url, '--workers', '2']);
    const banner = await run.banner;
    const pids = /pids ([\d, ]+)\) sharing the quotas through Redis at redis:\/\/127\.0\.0\.1:\d+/.exec(banner)?.[1].split(', ').map(Number);
    assert.equal(pids?.length, 2, banner);
    assert.ok(pids.every(alive));
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    run.child.kill(signal);
    const exit = await run.exited;
    assert.equal(exit.code, code, `${signal}: ${run.stderr()}`);
    // SIGKILL leaves the workers no word: they stop when their IPC channel to the dashboard closes.
    assert.deepEqual(await survivors(pids), [], `no worker outlives the dashboard (${signal})`);
  }
});

test('a bad or unreachable --redis is one line naming the option, exit 1, no hang', async () => {
  const closed = await freePort(); // nothing listens there
  const cases = [
    [['--redis', 'localhost:6379'], "tollgate: --redis must be a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379; got 'localhost:6379'\n"],
    [['--workers', '2'], 'tollgate: --workers needs --redis <url>: the workers share their quotas through it, e.g. --redis redis://127.0.0.1:6379 --workers 3\n'],
    [['--redis', redis.url, '--workers', '0'], "tollgate: --workers must be a whole number from 1 to 16; got '0'\n"],
    [['--port', '0', '--redis', `redis://127.0.0.1:${closed}`],
      new RegExp(`^tollgate: --redis: Redis at redis://127\\.0\\.0\\.1:${closed} does not answer \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\); start redis-server there, or pass the redis:// URL of one that runs \\(or leave --redis out\\)\\n$`)],
    [['--port', '0', '--redis', 'redis://user:hunter2@127.0.0.1:1/0'], /^tollgate: --redis: Redis at redis:\/\/127\.0\.0\.1:1\/0 does not answer [^\n]*\n$/],
  ];
  await assert.rejects(startDashboard({ port: 0, redis: redis.url, workers: 0 }), (e) => e instanceof TypeError && /`workers` must be a whole number from 1 to 16; got 0/.test(e.message));
  for (const [args, expected] of cases) {
    const started = Date.now();
    const r = spawnSync(process.execPath, [serve, ...args], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    if (typeof expected === 'string') assert.equal(r.stderr, expected);
    else assert.match(r.stderr, expected);
    assert.ok(!r.stderr.includes('hunter2'), 'the password is never printed');
    assert.ok(Date.now() - started < 10_000, `${args.join(' ')} took ${Date.now() - started} ms`);
  }
});
