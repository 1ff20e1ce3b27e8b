// UsageMonitor: runs per project over a rolling 7 days, the weekly budget and its
// alerts, the report, and the JSON snapshot. Time is a fake clock.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { SnapshotError, isSnapshotError } from 'tollgate';
import { fakeClock } from './fake-clock.mjs';

const require = createRequire(import.meta.url);
const { UsageMonitor } = require('../../js/cjs/cost/usage-monitor.js');

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

function alerts(monitor) {
  const seen = [];
  monitor.addEventListener('alert', (e) => {
    assert.ok(e instanceof CustomEvent);
    seen.push(e.detail);
  });
  return seen;
}

test('a run counts for exactly 7 days, per project', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock });
  usage.record('a');
  clock.set(T0 + HOUR);
  usage.record('a');
  usage.record('b');
  usage.record('b', T0 - 2 * HOUR); // recorded late, run earlier
  assert.equal(usage.runs('a'), 2);
  assert.equal(usage.runs('b'), 2);
  clock.set(T0 - 2 * HOUR + WEEK - 1);
  assert.equal(usage.runs('b'), 2);
  clock.set(T0 - 2 * HOUR + WEEK);
  assert.equal(usage.runs('b'), 1, 'the late-recorded run left at exactly 7 days after it ran');
  clock.set(T0 + WEEK);
  assert.deepEqual(usage.report().byProject, { a: 1, b: 1 });
  clock.set(T0 + HOUR + WEEK);
  assert.deepEqual(usage.report().byProject, {});
  usage.record('c', clock.now() - WEEK);
  assert.equal(usage.runs('c'), 0, 'a run already 7 days old counts for nothing');
});

test('a clock that jumps back brings no run back and records at the latest time seen', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock });
  usage.record('a');
  clock.set(T0 + WEEK);
  assert.equal(usage.runs('a'), 0);
  clock.set(T0 + 1); // back
  assert.equal(usage.runs('a'), 0, 'still gone');
  usage.record('b');
  assert.deepEqual(usage.toJSON().runs, { b: [T0 + WEEK] });
  clock.set(T0 + 2 * WEEK - 1);
  assert.equal(usage.runs('b'), 1, 'counted from the latest time seen, not the clock that went back');
});

test('the alert fires once when usage reaches 80% of the budget, and again only after falling back below', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock }); // defaults: 500 a week, [0.8]
  const seen = alerts(usage);
  for (let i = 0; i < 399; i++) usage.record(`p${i % 7}`);
  assert.equal(seen.length, 0, '399 of 500 is below 80%');
  clock.set(T0 + HOUR);
  usage.record('p0');
  assert.deepEqual(seen, [{ threshold: 0.8, used: 0.8, runs: 400, budget: 500, at: T0 + HOUR }]);
  for (let i = 0; i < 50; i++) usage.record('p1');
  assert.equal(seen.length, 1, 'not again while above');
  // The first 399 runs leave the week: 51 left, far below; climbing back fires again.
  clock.set(T0 + WEEK);
  assert.equal(usage.report().totalRuns, 51);
  for (let i = 0; i < 348; i++) usage.record('p2');
  assert.equal(seen.length, 1);
  usage.record('p2');
  assert.equal(seen.length, 2);
  assert.equal(seen[1].runs, 400);
});

test('several thresholds fire in order, each once per crossing', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock, weeklyBudget: 10, thresholds: [1, 0.5, 0.8, 0.5] });
  const seen = alerts(usage);
  for (let i = 0; i < 12; i++) usage.record('p');
  assert.deepEqual(seen.map((d) => [d.threshold, d.runs]), [[0.5, 5], [0.8, 8], [1, 10]]);
  const none = new UsageMonitor({ clock, thresholds: [] });
  const quiet = alerts(none);
  for (let i = 0; i < 600; i++) none.record('p');
  assert.equal(quiet.length, 0);
});

test('report: totals, budget use, over budget, and projects over N runs a week, most first', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock, weeklyBudget: 50 });
  for (let i = 0; i < 21; i++) usage.record('hourly-dashboard');
  for (let i = 0; i < 20; i++) usage.record('daily-report');
  for (let i = 0; i < 25; i++) usage.record('abandoned');
  usage.record('__proto__');
  const r = usage.report();
  assert.equal(r.totalRuns, 67);
  assert.equal(r.budget, 50);
  assert.equal(r.used, 67 / 50);
  assert.equal(r.overBudget, true);
  assert.deepEqual(r.flagged, ['abandoned', 'hourly-dashboard'], 'more than 20, most first; 20 is not more than 20');
  assert.equal(Object.getPrototypeOf(r.byProject), Object.prototype);
  assert.deepEqual(Object.entries(r.byProject).sort(), [['__proto__', 1], ['abandoned', 25], ['daily-report', 20], ['hourly-dashboard', 21]]);
  assert.deepEqual(usage.report({ overRunsPerWeek: 24 }).flagged, ['abandoned']);
  assert.deepEqual(usage.report({ overRunsPerWeek: 0 }).flagged, ['abandoned', 'hourly-dashboard', 'daily-report', '__proto__']);

  const atBudget = new UsageMonitor({ clock, weeklyBudget: 3 });
  for (let i = 0; i < 3; i++) atBudget.record('p');
  assert.equal(atBudget.report().overBudget, false, 'at the budget is not over it');
  atBudget.record('p');
  assert.equal(atBudget.report().overBudget, true);
});

test('toJSON / fromJSON: a restart keeps the week, drops what aged out, and alerts from where it was', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock, weeklyBudget: 10 });
  for (let i = 0; i < 5; i++) usage.record('a', T0 + i);
  clock.set(T0 + 2 * 24 * HOUR);
  for (let i = 0; i < 3; i++) usage.record('b');
  const saved = JSON.stringify(usage);
  assert.deepEqual(JSON.parse(saved), { version: 1, runs: { a: [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4], b: Array(3).fill(T0 + 2 * 24 * HOUR) } });

  clock.set(T0 + WEEK + 2); // the runs of 'a' at T0, T0+1, T0+2 have aged out
  const restored = UsageMonitor.fromJSON(saved, { clock, weeklyBudget: 10 });
  assert.deepEqual(restored.report().byProject, { a: 2, b: 3 });
  assert.deepEqual(restored.toJSON().runs.a, [T0 + 3, T0 + 4], 'pruned, not only hidden');
  const seen = alerts(restored);
  restored.record('c'); // 6 of 10
  restored.record('c'); // 7
  assert.equal(seen.length, 0);
  restored.record('c'); // 8 of 10: 80%
  assert.equal(seen.length, 1);
  // The object form works as well as the text.
  assert.equal(UsageMonitor.fromJSON(JSON.parse(saved), { clock }).report().totalRuns, 5);
});

test('memory holds only the last 7 days', () => {
  const clock = fakeClock(T0);
  const usage = new UsageMonitor({ clock });
  for (let hour = 0; hour < 24 * 60; hour++) { // 60 days of hourly runs, over 100 projects
    clock.set(T0 + hour * HOUR);
    usage.record(`p${hour % 100}`);
  }
  const kept = Object.values(usage.toJSON().runs).flat();
  assert.equal(kept.length, 7 * 24);
  assert.ok(kept.every((t) => t > clock.now() - WEEK));
  assert.equal(Object.keys(usage.report().byProject).length, 100);
});

test('a bad snapshot is a SnapshotError; bad options and arguments are TypeErrors naming them', () => {
  const bad = ['not json', 'null', '{"version":2,"runs":{}}', '{"version":1}', '{"version":1,"runs":[]}',
    '{"version":1,"runs":{"a":[1,"2"]}}', '{"version":1,"runs":{"a":5}}', '{"version":1,"runs":{"a":[null]}}'];
  for (const text of bad) {
    assert.throws(() => UsageMonitor.fromJSON(text), (e) => e instanceof SnapshotError && isSnapshotError(e), text);
  }
  assert.throws(() => UsageMonitor.fromJSON({ version: 1, runs: { a: [Number.NaN] } }), SnapshotError);
  assert.throws(() => new UsageMonitor({ weeklyBudget: 0 }), /`weeklyBudget`/);
  assert.throws(() => new UsageMonitor({ weeklyBudget: 1.5 }), /`weeklyBudget`/);
  assert.throws(() => new UsageMonitor({ thresholds: 0.8 }), /`thresholds`/);
  assert.throws(() => new UsageMonitor({ thresholds: [0] }), /`thresholds`/);
  assert.throws(() => new UsageMonitor({ clock: { now: () => 0 } }), /`clock`/);
  const usage = new UsageMonitor({ clock: fakeClock(T0) });
  assert.throws(() => usage.record(''), /`projectId`/);
  assert.throws(() => usage.record('p', Number.NaN), /`at`/);
  assert.throws(() => usage.report({ overRunsPerWeek: -1 }), /`overRunsPerWeek`/);
  assert.throws(() => UsageMonitor.fromJSON({ version: 1, runs: {} }, { weeklyBudget: -5 }), /`weeklyBudget`/);
});
