// rateLimitedFetch against real rate-limiting servers on 127.0.0.1, in real
// time (10 per 10 s), every server x configuration, started 250 ms apart: a
// backlog of 3x the limit loses no call; the right configuration draws no
// 429; a wrong one (twice the limit) or none draws at most one window's
// worth, all in the first window; time against the least the rule allows (2
// windows). nginx's limit_req says nothing (no header, no Retry-After): with
// no configuration its bounds are its own (see the last test).
// `node tests/interop/drill.mjs` prints the same table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIMIT, drillAll, table } from './drill.mjs';

const rows = drillAll();
const check = (r, ok) => (ok ? undefined : `${r.server} ${r.mode} ${r.config}: ${JSON.stringify(r)}`);
const failures = (all, f) => all.map((r) => check(r, f(r))).filter(Boolean);
const silent = (r) => r.server === 'nginx limit_req';

test('the table', async (t) => {
  t.diagnostic(`\n${table(await rows)}`);
});

test('no call is lost, whatever the server and the configuration', async () => {
  assert.deepEqual(failures(await rows, (r) => r.lost === 0 && r.accepted === 3 * LIMIT), []);
});

test('with the right configuration, no 429 from any server (nginx: a bucket of its rate and burst)', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'right'), (r) => r.refused === 0), []);
});

test('with the wrong configuration: at most one window of 429s, all in the first (nginx too: the scope lowers its window to what was accepted)', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'wrong'), (r) => r.refused <= LIMIT && r.refusedAfterFirstWindow === 0), []);
});

test('with no configuration, from servers that state their policy: at most one window of 429s, all in the first', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'none' && !silent(r)), (r) => r.refused <= LIMIT && r.refusedAfterFirstWindow === 0), []);
});

// express-rate-limit's legacy headers give the reset as an epoch second,
// rounded up from the server's exact reset: the client cannot know the true
// reset closer than that second, and waits for the rounded one (sending
// earlier could be early). Depending on where the server's window starts
// within a second, that adds 0 to 1 s per window: 100-110 % of the 20 s
// ideal (two windows), measured 100.1 % and 110.2 % in two runs. Those rows
// get the goal plus that one second per window; every other row the goal.
const WINDOWS_IN_IDEAL = 2;
const wholeSecondSlack = (r) => (r.mode === 'legacy' ? (WINDOWS_IN_IDEAL * 1_000) / 20_000 : 0);
test('time: <= 103 % of the ideal with the right configuration, <= 110 % with none (legacy epoch-second resets: + 1 s a window)', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config !== 'wrong'), (r) => r.ratio <= (r.config === 'right' ? 1.03 : 1.10) + wholeSecondSlack(r)), []);
});

// nginx with no configuration: nothing to learn from but refusals. The first
// 30 go at once (after one probe) and 20 are refused, as the server's burst
// is 10. Then one at a time, the spacing doubled by a refusal and cut by a
// tenth by an acceptance: from twice the server's interval back below it
// takes log(2)/log(1/0.9) = 6.6 acceptances, so the 20 left draw at most 4
// more refusals (one at the start, one per 6.6 acceptances; measured: 3).
test('nginx with no configuration: the first burst\'s excess (20), then at most 4 refusals', async () => {
  assert.deepEqual(failures((await rows).filter((r) => r.config === 'none' && silent(r)), (r) => r.refused <= 2 * LIMIT + 4), []);
});
