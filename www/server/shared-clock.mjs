// One accelerated quota clock read by several processes (`npm start -- --redis`).
//
// The workers share their quotas through Redis with `time: 'client'`: the
// windows are on the quota clock, which runs `speed` times fast, so Redis's own
// TIME (real time) cannot decide for them. Every process must then read the
// same quota time at the same instant, or one running ahead frees slots early
// for everyone. `performance.timeOrigin` is only good to a few ms per process
// (x60: a few hundred ms of quota time), so each process maps its monotonic
// `performance.now()` onto the wall clock by catching the instant `Date.now()`
// ticks: the latest catch (the least delayed) of several agrees across
// processes to a few µs.

const ROUNDS = 12;

/** `performance.now()` + this = wall-clock ms, to a few µs (busy-waits about ROUNDS ms, once). */
export function wallClockOffset() {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < ROUNDS; i++) {
    const t = Date.now();
    let ticked;
    while ((ticked = Date.now()) === t) { /* wait for the next millisecond */ }
    // Caught late (preempted) only makes this smaller: the largest is the truest.
    best = Math.max(best, ticked - performance.now());
  }
  return best;
}

/**
 * The quota clock: `startMs` at wall-clock time `realStartMs`, `speed` times
 * faster since. The same three numbers give the same clock in every process.
 */
export function sharedAcceleratedClock({ startMs, realStartMs, speed }) {
  const offset = wallClockOffset();
  return {
    speed,
    startMs,
    realStartMs,
    now: () => Math.floor(startMs + (performance.now() + offset - realStartMs) * speed),
  };
}

/** tollgate's clock over a quota clock: its timers run `speed` times fast too. */
export function quotaTimers(clock, speed) {
  return {
    now: clock.now,
    setTimeout: (callback, ms) => setTimeout(callback, Math.max(0, ms) / speed),
    clearTimeout: (handle) => clearTimeout(handle),
  };
}
