// Runs the bad-input table (bad-input.mjs) and the corrupt-snapshot table, and
// checks that README's "Bad input" table lists every row.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Limiter, SnapshotError, parseRateLimitHeaders } from 'tollgate';
import { CORRUPT, GOOD, NOW, ROWS } from './bad-input.mjs';
import { fakeClock } from './fake-clock.mjs';

/** A Markdown code span of `text` (doubled backticks when it holds one). */
const code = (text) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the bad-input table has at least 60 rows across the JS API, snapshots and headers, and README lists each', () => {
  assert.ok(ROWS.length >= 60, `${ROWS.length} rows`);
  for (const area of ['new Limiter', 'acquire', 'permit', 'restore', 'headers']) assert.ok(ROWS.some((r) => r.area === area), area);
  const missing = ROWS.filter((r) => !readme.includes(`| ${code(r.input)} |`));
  assert.deepEqual(missing.map((r) => r.input), [], 'rows missing from README');
});

test('each bad input gets what the table says', async () => {
  for (const row of ROWS) {
    if (row.headers) {
      const feedback = parseRateLimitHeaders(new Headers(row.headers), NOW);
      if (row.capped) {
        assert.equal(feedback.retryAtMs, 2 ** 53 - 1, row.input);
      } else {
        assert.deepEqual(feedback, row.expect ?? { windows: [] }, row.input);
      }
      continue;
    }
    const [name, pattern = ''] = row.gets.split(/: (.*)/s);
    const message = new RegExp(pattern.replace(/\s*\([^\\]*\)$/, ''));
    const ctx = { Limiter, clock: fakeClock(NOW) };
    let outcome;
    try {
      const r = row.run(ctx);
      outcome = r instanceof Promise ? await r.then((v) => ({ value: v }), (e) => ({ error: e })) : { value: r };
    } catch (error) {
      outcome = { error };
    }
    assert.ok(outcome.error, `${row.input}: no error`);
    assert.equal(outcome.error.name, name, `${row.input}: ${outcome.error.name}: ${outcome.error.message}`);
    assert.match(outcome.error.message, message, row.input);
  }
});

test('at least 30 corrupt snapshots, each a SnapshotError; the good one restores', () => {
  assert.ok(CORRUPT.length >= 30, `${CORRUPT.length} cases`);
  const clock = fakeClock(NOW);
  assert.equal(Limiter.restore(GOOD, { clock }).usage().length, 3);
  for (const [what, snapshot] of CORRUPT) {
    assert.throws(() => Limiter.restore(snapshot, { clock }), (e) => e instanceof SnapshotError && /snapshot/.test(e.message), what);
  }
});

test('a failed complete() leaves the permit open: after the table\'s bad completions it completes', () => {
  const l = new Limiter({ windows: [{ limit: 1, per: '1m' }], clock: fakeClock(NOW), countInFlight: true });
  const { permit } = l.tryAcquire();
  for (const at of [Number.NaN, -1, 'later', NOW + 3_600_000, NOW * 1_000]) assert.throws(() => permit.complete(at), TypeError);
  assert.equal(l.inFlight, 1);
  permit.complete();
  assert.equal(l.inFlight, 0);
});
