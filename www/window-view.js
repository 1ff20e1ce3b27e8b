// Each window's use at a given time, computed by tollgate's core.
//
// `limiter.usage()` reports the windows as of the last time the limiter read
// its clock, so an idle limiter keeps showing slots that have long been freed.
// Here each window is cut out of a snapshot on its own, restored, and asked for
// a plan at `now`: the plan's times that are not after `now` are the free
// slots, and the first later one is when the next slot frees. Exact for every
// window kind, with no knowledge of the snapshot's inner form beyond `windows`.
//
// Pure (the limiter class is passed in): the dashboard server and the page both use it.

const MAX_PLAN = 10_000;

/**
 * `[{ kind, limit, perMs, used, remaining, nextFreeAt }]` at `now` (ms since the
 * epoch). `inFlight` units are taken from the free slots first (requests sent
 * and not yet answered). `nextFreeAt` is when one more slot than now is free,
 * `undefined` when nothing is used (or only requests in flight, whose answer frees them).
 */
export function windowViews(Limiter, snapshot, at, { inFlight = 0 } = {}) {
  // `snapshot()` reads the limiter's clock, which may have moved past `at` since
  // it was read (the dashboard's quota clock runs fast): a restored limiter plans
  // from its snapshot's time, so that is the earliest `now` the view can be at.
  const now = Math.max(at, snapshot.clockMs);
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  return snapshot.windows.map((w) => {
    const alone = { version: snapshot.version, clockMs: snapshot.clockMs, pausedUntilMs: 0, windows: [w] };
    const times = Limiter.restore(alone, { clock }).plan(Math.min(w.limit, MAX_PLAN));
    let free = 0;
    while (free < times.length && times[free] <= now) free++;
    const remaining = Math.max(0, free - inFlight);
    const used = w.limit - remaining;
    const next = Math.max(free, inFlight);
    return {
      kind: Object.keys(w.state)[0],
      limit: w.limit,
      perMs: w.perMs,
      used,
      remaining,
      nextFreeAt: used > 0 && next < times.length ? times[next] : undefined,
    };
  });
}
