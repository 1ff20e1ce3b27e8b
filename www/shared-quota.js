// The playground's quota, shared by every tab of the dashboard: the package's
// own `tabStore()` (Web Locks + IndexedDB + BroadcastChannel, requests in
// flight with a lease), opened as `Limiter.shared` opens it. This file only
// adds what the page draws: each window's use now, and when a list of
// arrivals would be admitted.
import { windowViews } from './window-view.js';

/**
 * `name`: the quota (the server's boot id and the windows: a new server starts
 * a new quota, whose times are on its clock). `leaseMs`: on the quota clock,
 * the longest a request may be in flight (the page gives up on it then).
 */
export function openQuota(tollgate, { name, windows, clock, leaseMs }) {
  const { Limiter } = tollgate;
  // `Limiter.shared` once it is in the package (the redis helper's branch), the same function until then.
  const open = tollgate.Limiter.shared ?? tollgate.openShared;
  const limiter = open({ name, windows, clock, leaseMs, countInFlight: true, store: tollgate.tabStore() });
  const empty = new Limiter({ windows, clock }).snapshot();
  const frozen = (t) => ({ now: () => t, setTimeout: () => 0, clearTimeout: () => {} });
  const restore = (snapshot, clk) => {
    try {
      return Limiter.restore(snapshot ?? empty, { windows, clock: clk });
    } catch {
      return Limiter.restore(empty, { windows, clock: clk }); // stored under other windows: a fresh quota
    }
  };
  return Object.assign(limiter, {
    /** Each window's use now (requests in flight from every tab included), the gate and the epoch. */
    view() {
      const q = limiter.peek();
      const now = clock.now();
      const windows = windowViews(Limiter, restore(q.snapshot, frozen(now)).snapshot(), now, { inFlight: q.inFlight });
      return { now, windows, inFlight: q.inFlight, pausedUntil: q.pausedUntil, pauseReason: q.pauseReason, epoch: q.epoch };
    },
    /**
     * When each request arriving at `arrivals` (quota clock, ascending) would be
     * admitted if nothing else took from the quota (requests in flight counted
     * as answered now): the package's `plan(n)` when all arrive at once, else
     * the same decisions replayed on a copy at the arrival times.
     */
    async planArrivals(arrivals) {
      const now = clock.now();
      if (arrivals.every((a) => a <= now)) return limiter.plan(arrivals.length);
      const q = limiter.peek();
      let t = Math.max(now, q.pausedUntil);
      const copy = restore(q.snapshot, { now: () => t, setTimeout: () => 0, clearTimeout: () => {} });
      if (q.inFlight > 0) copy.tryAcquire(q.inFlight);
      return arrivals.map((arrival) => {
        t = Math.max(t, arrival);
        const r = copy.tryAcquire();
        if (r.ok) return t;
        t = r.retryAt;
        copy.tryAcquire();
        return t;
      });
    },
  });
}
