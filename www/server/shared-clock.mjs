// One accelerated quota clock read by several processes (`npm start -- --redis`).
//
// The workers share their quotas through Redis with `time: 'client'`: the
// windows are on the quota clock, which runs `speed` times fast, so Redis's own
// TIME (real time) cannot decide for them. Every process must then read the
// same quota time at the same instant, or one running ahead frees slots early
// for everyone. Each reads the wall clock through its monotonic clock,
// `performance.timeOrigin + performance.now()` (Date.now() moves in whole ms:
// 60 ms of quota time at x60); two processes agree to some 10 µs
// (tests/browser/shared-clock.test.mjs).

/** The wall clock in ms since the epoch, with µs resolution, never stepping back. */
export function wallClockMs() {
  return performance.timeOrigin + performance.now();
}

/**
 * The quota clock: `startMs` at wall-clock time `realStartMs`, `speed` times
 * faster since. The same three numbers give the same clock in every process.
 */
export function sharedAcceleratedClock({ startMs, realStartMs, speed }) {
  return {
    speed,
    startMs,
    realStartMs,
    now: () => Math.floor(startMs + (wallClockMs() - realStartMs) * speed),
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
