// rateLimitedFetch against real rate-limiting middleware on 127.0.0.1, in
// real time (10 per 10 s), every server x configuration at once: a backlog
// of 3x the limit loses no call; the right configuration draws no 429; a
// wrong one (twice the limit) or none draws at most one window's worth, all
// in the first window; time against the least the rule allows (2 windows).
// `node tests/interop/drill.mjs` prints the same table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIGS, LIMIT, SERVERS, drill, table } from './drill.mjs';

const rows = Promise.all(SERVERS.flatMap((s) => Object.keys(CONFIGS).map((c) => drill(s, c))));
const check = (r, ok) => (ok ? undefined : `${r.server} ${r.mode} ${r.config}: ${JSON.stringify(r)}`);
const failures = (all, f) => all.map((r) => check(r, f(r))).filter(Boolean);

test('the table', async (t) => {
  t.diagnostic(`\n${table(await rows)}`);
});

test('no call is lost, whatever the configuration', async () => {
  assert.deepEqual(failures(await rows, (r) => r.lost === 0 && r.accepted === 3 * LIMIT), []);
});

test('with no configuration: at most one window of 429s, all in the first window', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'none'), (r) => r.refused <= LIMIT && r.refusedAfterFirstWindow === 0), []);
});

test('with the right configuration, no 429 (servers that state their policy in RateLimit headers)', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'right' && r.mode !== 'legacy'), (r) => r.refused === 0), []);
});

test('with the wrong configuration: at most one window of 429s, all in the first', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'wrong'), (r) => r.refused <= LIMIT && r.refusedAfterFirstWindow === 0), []);
});

// Not met yet (see the README's Performance table): kept visible as todo.
test('express-rate-limit legacy headers, right configuration: no 429', { todo: 'epoch X-RateLimit-Reset + Date: 429s in some runs' }, async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'right' && r.mode === 'legacy'), (r) => r.refused === 0), []);
});

test('time: <= 103 % of the ideal with the right configuration, <= 110 % with none', { todo: 'slots count from the response, a round trip per window on a loaded machine' }, async () => {
  assert.deepEqual(failures(await rows, (r) => r.config === 'wrong' || r.ratio <= (r.config === 'right' ? 1.03 : 1.10)), []);
});
