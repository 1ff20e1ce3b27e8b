// A clock for the Limiter whose timers run only when the test advances time,
// and which counts pending timers (the Limiter promises exactly one).
export function fakeClock(startMs = 0) {
  let now = startMs;
  let nextHandle = 1;
  const timers = new Map(); // handle -> { at, callback }
  const clock = {
    now: () => now,
    setTimeout(callback, ms) {
      const handle = nextHandle++;
      timers.set(handle, { at: now + Math.max(0, ms), callback });
      return handle;
    },
    clearTimeout(handle) {
      timers.delete(handle);
    },
    get pending() {
      return timers.size;
    },
    /** When the earliest pending timer is due, or undefined. */
    nextTimerAt() {
      let at;
      for (const t of timers.values()) if (at === undefined || t.at < at) at = t.at;
      return at;
    },
    /** Moves time to `at`, firing due timers in order (each at its own time). */
    async advanceTo(at) {
      for (;;) {
        let due;
        for (const [h, t] of timers) if (t.at <= at && (!due || t.at < due[1].at)) due = [h, t];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].callback();
        await flush();
      }
      now = Math.max(now, at);
      await flush();
    },
    advance(ms) {
      return clock.advanceTo(now + ms);
    },
    /** Sets the time without firing anything (to model a clock jumping back). */
    set(at) {
      now = at;
    },
  };
  return clock;
}

export async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Tracks whether a promise has settled, without awaiting it. */
export function track(promise) {
  const state = { settled: false, value: undefined, error: undefined };
  promise.then((v) => { state.settled = true; state.value = v; }, (e) => { state.settled = true; state.error = e; });
  return state;
}
