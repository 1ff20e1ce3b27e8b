// www/server/shared-clock.mjs: the dashboard's workers decide on their own
// clocks (`time: 'client'`), so separate processes must read the same quota
// time at the same instant. A child process is asked for its clock many
// times; the answer that came back soonest brackets the child's reading
// between two of ours, and it must fall inside (plus a little: a reading is
// floored to whole ms of quota time, and calibration is good to some µs).
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sharedAcceleratedClock, wallClockMs } from '../../www/server/shared-clock.mjs';

if (process.env.TOLLGATE_CLOCK_CHILD) {
  // The child: the same clock from the same numbers, answering `now` on request.
  process.once('message', (numbers) => {
    const clock = sharedAcceleratedClock(numbers);
    process.on('message', (m) => {
      if (m === 'stop') process.disconnect();
      else process.send(clock.now());
    });
    process.send('ready');
  });
}

/** [child's reading - our midpoint, our round trip], the tightest of `rounds` asks. */
async function bestOffset(child, clock, rounds) {
  const next = () => new Promise((resolve) => child.once('message', resolve));
  let best = { rtt: Infinity, diff: 0 };
  for (let i = 0; i < rounds; i++) {
    const t0 = clock.now();
    const answer = next();
    child.send('now');
    const theirs = await answer;
    const t1 = clock.now();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, diff: theirs - (t0 + t1) / 2 };
  }
  return best;
}

test('two processes read one quota clock: at x60, within a few ms of quota time (µs of real time)', { skip: Boolean(process.env.TOLLGATE_CLOCK_CHILD), timeout: 30_000 }, async () => {
  const speed = 60;
  const realStartMs = wallClockMs();
  const numbers = { startMs: Math.floor(realStartMs), realStartMs, speed };
  const clock = sharedAcceleratedClock(numbers);
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, TOLLGATE_CLOCK_CHILD: '1' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const ready = new Promise((resolve) => child.once('message', resolve));
    child.send(numbers);
    await ready;
    const { rtt, diff } = await bestOffset(child, clock, 200);
    // The child's reading is inside our [t0, t1] (±1 ms for flooring, ±0.1 real ms = 6 ms of quota
    // time to spare; measured: some 10 µs apart). A process whose clock were off by one real ms
    // (Date.now()'s step) would be 60 ms out.
    assert.ok(Math.abs(diff) <= rtt / 2 + 1 + 6, `child - parent: ${diff.toFixed(1)} ms of quota time (round trip ${rtt} ms)`);
    assert.ok(rtt < 60 * speed, `a round trip was short enough to judge by: ${rtt} ms of quota time`);
  } finally {
    child.send('stop');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
});

test('the quota clock runs `speed` times fast from `startMs`', { skip: Boolean(process.env.TOLLGATE_CLOCK_CHILD) }, () => {
  const realStartMs = wallClockMs();
  const clock = sharedAcceleratedClock({ startMs: 1_000_000, realStartMs, speed: 600 });
  const a = clock.now();
  const realA = performance.now();
  while (performance.now() - realA < 20) { /* 20 real ms */ }
  const b = clock.now();
  const real = performance.now() - realA;
  assert.ok(a >= 1_000_000 && a < 1_000_000 + 600 * 50, `starts at startMs: ${a}`);
  assert.ok(Math.abs((b - a) - real * 600) <= 600 * 2, `600x: ${b - a} ms of quota time in ${real.toFixed(1)} real ms`);
});
