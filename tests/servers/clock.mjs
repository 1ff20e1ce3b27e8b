// Injectable clocks for the test servers.
//
// Every server judges quotas with `clock.now()` (ms since the Unix epoch), never Date.now(),
// so tests can move time by an hour without waiting an hour, and a demo can replay an hour
// in a minute. A clock is any object with `now(): number`.

function assertFiniteMs(ms, what) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError(`${what} must be a finite number of milliseconds, got ${ms}`);
  }
}

/** The real wall clock. */
export const systemClock = Object.freeze({ now: () => Date.now() });

/**
 * A clock that only moves when told to. Tests use it to place requests at exact
 * milliseconds (e.g. "refused at first + 3_599_999, accepted at first + 3_600_000").
 * `set()` may move backwards, but the quota model prunes history relative to the latest
 * time it has seen, so keep test clocks monotonic unless you know what you are doing.
 */
export function manualClock(startMs = 0) {
  assertFiniteMs(startMs, 'startMs');
  let t = startMs;
  return {
    now: () => t,
    advance(ms) {
      assertFiniteMs(ms, 'advance(ms)');
      t += ms;
      return t;
    },
    set(ms) {
      assertFiniteMs(ms, 'set(ms)');
      t = ms;
      return t;
    },
  };
}

/**
 * A clock that runs `speed` times faster than real time from `startMs`
 * (speed 60 => an hour of quota time passes in a real minute). Real elapsed time is taken
 * from performance.now(), which is monotonic, so wall-clock adjustments cannot make it jump.
 * The result is floored to whole milliseconds so logs and Retry-After math stay integral.
 */
export function acceleratedClock({ startMs = Date.now(), speed = 60 } = {}) {
  assertFiniteMs(startMs, 'startMs');
  if (typeof speed !== 'number' || !(speed > 0) || !Number.isFinite(speed)) {
    throw new TypeError(`speed must be a positive finite number, got ${speed}`);
  }
  const realStart = performance.now();
  return {
    speed,
    startMs,
    now: () => Math.floor(startMs + (performance.now() - realStart) * speed),
  };
}
