// The feedback module's boundary (src/wasm_feedback.rs <-> js/src/wasm/feedback.ts): plain
// exports, so every value crosses as numbers or bytes and is shaped in JS. Checks that the
// shapes, names (UTF-8), absent fields, the retry budget kept on the JS side, the argument
// errors (messages built in JS from codes) and the stack after traps come out right.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryPlanner, giveUpReason, parseFeedback } from '../../js/dist/wasm/feedback.js';

const NOW = Date.parse('2026-12-05T03:40:00.300Z');
const HEADERS = [
  'date: Sat, 05 Dec 2026 03:40:00 GMT',
  'retry-after: 5',
  'x-ratelimit-limit: 10', 'x-ratelimit-remaining: 3', 'x-ratelimit-reset: 30', 'x-ratelimit-window: d\u00fcr',
  'ratelimit-policy: "burst";q=5;w=60', 'ratelimit: "burst";r=2;t=10',
].join('\n');

test('parseFeedback: every field, absent ones left out, names as sent (UTF-8), null for a bad time', () => {
  assert.deepEqual(parseFeedback(HEADERS, NOW), {
    retryAtMs: NOW + 5_000,
    serverOffsetMs: -300,
    windows: [
      { name: 'd\u00fcr', limit: 10, remaining: 3, resetAtMs: NOW + 30_000 },
      { name: 'burst', limit: 5, remaining: 2, resetAtMs: NOW + 10_000, windowMs: 60_000 },
    ],
  });
  assert.deepEqual(parseFeedback('x-ratelimit-remaining: 0\n', NOW), { windows: [{ remaining: 0 }] });
  assert.deepEqual(parseFeedback('', NOW), { windows: [] });
  for (const bad of [Number.NaN, -1, 2 ** 53]) assert.equal(parseFeedback('retry-after: 5\n', bad), null);
  // A long header list (the input area grows) and a short one after it (it does not shrink).
  const many = Array.from({ length: 2_000 }, (_, i) => `"p${i}";q=${i + 1};w=60`).join(', ');
  assert.equal(parseFeedback(`ratelimit-policy: ${many}\n`, NOW).windows.length, 2_000);
  assert.deepEqual(parseFeedback('retry-after: 1\n', NOW), { retryAtMs: NOW + 1_000, windows: [] });
});

test('giveUpReason: the core sentence of each code, and a plain answer for any other number', () => {
  assert.equal(giveUpReason(-1), 'the response status is not one that a retry can fix');
  assert.equal(giveUpReason(-6), 'too many requests failed recently: the retry budget is spent');
  for (const code of [-1, -2, -3, -4, -5, -6]) assert.ok(giveUpReason(code).length > 20);
  for (const other of [0, 1, -7, -1.5, Number.NaN, -(2 ** 40)]) assert.equal(giveUpReason(other), 'not a give-up code');
});

test('RetryPlanner: the budget is kept on the JS side across decisions and successes', () => {
  // 10 tokens, 0.1 back per success (gRPC's): 4 retries of 5xx, then none; 11 successes allow one more.
  const planner = new RetryPlanner(100, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1);
  const fail = () => planner.decide(1, 503, true, false, -1, NOW, NOW, 0.5);
  const decisions = Array.from({ length: 5 }, fail);
  assert.deepEqual(decisions.map((d) => d >= 0), [true, true, true, true, false]);
  assert.equal(decisions[4], -6);
  assert.equal(decisions[0], NOW + 500, 'half of the first backoff ceiling (1 s) at random 0.5');
  for (let i = 0; i < 11; i++) planner.onSuccess();
  assert.ok(fail() >= 0);
  // A 429 with a retry time spends no budget; a POST network error is not retried.
  assert.equal(planner.decide(1, 429, false, false, NOW + 2_000, NOW, NOW, 0), NOW + 2_000);
  assert.equal(planner.decide(1, 0, false, false, -1, NOW, NOW, 0), -5);
  // Two planners do not share a budget.
  assert.ok(new RetryPlanner(100, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1).decide(1, 503, true, false, -1, NOW, NOW, 0) >= 0);
});

test('RetryPlanner: bad arguments are TypeErrors that name them', () => {
  const policy = [4, 1_000, 30_000, Infinity, 0, 300_000, 10, 0.1];
  const bad = (i, value) => () => new RetryPlanner(...policy.map((v, j) => (j === i ? value : v)));
  assert.throws(bad(0, 0), { name: 'TypeError', message: '`maxAttempts` must be a whole number from 1 to 4294967295' });
  assert.throws(bad(1, -1), { name: 'TypeError', message: '`baseMs` must be a whole number of milliseconds from 0 to 9007199254740991' });
  assert.throws(bad(3, Number.NaN), { name: 'TypeError', message: /^`maxTotalMs` must be a whole number of milliseconds/ });
  assert.throws(bad(5, 1.5), { name: 'TypeError', message: /^`maxRetryAfterMs` must be/ });
  assert.throws(bad(6, 2 ** 32), { name: 'TypeError', message: /^`budgetMaxTokens` must be a whole number from 1/ });
  assert.throws(bad(7, -0.1), { name: 'TypeError', message: '`budgetTokenRatio` must be a number of tokens per success from 0 to 4294967' });
  const planner = new RetryPlanner(...policy);
  assert.throws(() => planner.decide(0, 503, true, false, -1, NOW, NOW, 0), { message: /^`attempt` must be a whole number/ });
  assert.throws(() => planner.decide(1, 70_000, true, false, -1, NOW, NOW, 0), { message: /^`status` must be an HTTP status from 1 to 65535/ });
  assert.throws(() => planner.decide(1, 503, true, false, 2 ** 60, NOW, NOW, 0), { message: /^`retryAtMs` must be a finite number of milliseconds/ });
  assert.throws(() => planner.decide(1, 503, true, false, -1, Number.NaN, NOW, 0), { message: /^`nowMs` must be/ });
  assert.throws(() => planner.decide(1, 503, true, false, -1, NOW, -5, 0), { message: /^`startedMs` must be/ });
  assert.ok(planner.decide(1, 503, true, false, -1, NOW, NOW, 0) >= 0, 'a refused call changed nothing');
});

test('a stack overflow inside the module leaves it working: its stack pointer is put back', () => {
  // Recurse until the JS stack runs out, climb back a few frames, parse there: some calls
  // overflow inside wasm, abandoning a wasm frame. Without the reset each would leave the
  // module's own 128 KiB stack lower, until it ran into its data.
  const expected = parseFeedback(HEADERS, NOW);
  const overflows = [];
  let up = 0;
  const dive = () => {
    try {
      dive();
    } catch (error) {
      if (!(error instanceof RangeError) || up-- > 0) throw error;
      try {
        parseFeedback(HEADERS, NOW);
      } catch (e) {
        overflows.push(e); // looked at once the stack is back: no room to do anything here
      }
    }
  };
  for (let i = 0; i < 3_000; i++) {
    up = i % 60; // far enough up that about half the calls get into wasm before the stack runs out
    try {
      dive();
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
  assert.ok(overflows.every((e) => e instanceof RangeError), String(overflows.find((e) => !(e instanceof RangeError))));
  const inWasm = overflows.filter((e) => /wasm-function/.test(e.stack ?? '')).length;
  assert.ok(inWasm > 20, `overflows happened inside wasm (${overflows.length} overflows)`);
  assert.deepEqual(parseFeedback(HEADERS, NOW), expected);
});
