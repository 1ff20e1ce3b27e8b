/**
 * The decisions of `tabStore`, as pure functions of the stored state and a
 * time: the wasm core restored from the snapshot decides, with the requests in
 * flight counted at the decision's time (the latest they can reach the server),
 * as the core's own `countInFlight` does.
 */
import { isInsufficientCapacityError } from '../errors.js';
import { Limiter, type WindowUsage } from '../limiter.js';
import type { Clock, NormalizedWindow } from '../options.js';
import { type TabState, byTurn, unitsInFlight } from './state.js';

/** A clock that stays where it is put: a decision reads one time. */
export function pinnedClock(t: number): Clock & { t: number } {
  const c = { t, now: () => c.t, setTimeout: () => 0, clearTimeout: () => {} };
  return c;
}

/** The windows with the answered requests, at `clock`'s time. */
export function restoreAt(state: TabState, windows: readonly NormalizedWindow[], clock: Clock): Limiter {
  const options = { windows: windows.map(({ kind, limit, perMs, offsetMs }) => ({ kind, limit, per: perMs, ...(kind === 'fixed' ? { offset: offsetMs } : {}) })), clock };
  if (state.snapshot !== null) {
    try {
      return Limiter.restore(state.snapshot, options);
    } catch {
      // another format or other windows: start afresh (the store is a cache of the quota, not its truth)
    }
  }
  return new Limiter(options);
}

/**
 * Records `cost` as sent at `at` (the core never moves back: a time before its
 * last one counts at that one, later, which is on the safe side). Fits by
 * construction (it was admitted with room for it); if not, counted when it fits.
 */
export function record(state: TabState, windows: readonly NormalizedWindow[], cost: number, at: number): void {
  const clock = pinnedClock(at);
  const limiter = restoreAt(state, windows, clock);
  const r = limiter.tryAcquire(cost);
  if (!r.ok && Number.isFinite(r.retryAt)) {
    clock.t = r.retryAt;
    limiter.tryAcquire(cost);
  }
  state.snapshot = limiter.snapshot();
}

/** Requests whose lease ended by `now` count as sent at `at + leaseMs`, in that order, and hold nothing more. */
export function settleLeases(state: TabState, windows: readonly NormalizedWindow[], now: number): void {
  const ended = state.inFlight.filter((p) => !p.counted && p.leaseEnd <= now).sort((a, b) => a.leaseEnd - b.leaseEnd);
  if (ended.length === 0) return;
  for (const p of ended) record(state, windows, p.cost, p.leaseEnd);
  state.inFlight = state.inFlight.filter((p) => !ended.includes(p));
}

/**
 * When `cost` more fits under every window together with every request in
 * flight, and the pause: `now` if it fits now; Infinity if only an answer (or
 * a lease ending) can make room. Throws `InsufficientCapacityError` when it can never fit.
 */
export function earliest(state: TabState, windows: readonly NormalizedWindow[], now: number, cost: number): number {
  const limiter = restoreAt(state, windows, pinnedClock(now));
  const inFlight = unitsInFlight(state);
  let at: number;
  try {
    at = limiter.plan(1, { cost: cost + inFlight })[0]!;
  } catch (error) {
    if (!isInsufficientCapacityError(error) || inFlight === 0) throw error;
    limiter.plan(1, { cost }); // throws if `cost` alone can never fit
    at = Number.POSITIVE_INFINITY;
  }
  return Math.max(at, state.pausedUntil, now);
}

/**
 * Grants the queue's head while it fits now, in turn (priority, then arrival,
 * across tabs; a head that does not fit is not overtaken). Returns when the
 * head that is left fits if no answer arrives (leases ending included), or
 * undefined when the queue is empty.
 */
export function grantQueue(
  state: TabState, windows: readonly NormalizedWindow[], now: number,
  { leaseMs, countInFlight }: { leaseMs: number; countInFlight: boolean },
): number | undefined {
  state.queue.sort(byTurn);
  while (state.queue.length > 0) {
    const head = state.queue[0]!;
    if (earliest(state, windows, now, head.cost) > now) return timeline(state, windows, now, [head.cost]);
    state.queue.shift();
    admit(state, windows, now, { id: head.id, owner: head.owner, cost: head.cost }, { leaseMs, countInFlight });
  }
  return undefined;
}

/** Takes `cost` now: in flight until answered (or its lease ends), or counted at once without `countInFlight`. */
export function admit(
  state: TabState, windows: readonly NormalizedWindow[], now: number,
  grant: { id: string; owner: string; cost: number }, { leaseMs, countInFlight }: { leaseMs: number; countInFlight: boolean },
): void {
  if (!countInFlight) record(state, windows, grant.cost, now);
  state.inFlight.push({ ...grant, at: now, leaseEnd: now + leaseMs, picked: false, counted: !countInFlight });
}

/** The soonest lease still running, when the requests it holds start to age out. */
export function nextLeaseEnd(state: TabState, now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const p of state.inFlight) if (!p.counted && p.leaseEnd > now) next = Math.min(next, p.leaseEnd);
  return next;
}

/** The windows with the requests in flight counted now, on a clock `plan` may move. */
function viewLimiter(state: TabState, windows: readonly NormalizedWindow[], clock: Clock): Limiter {
  const limiter = restoreAt(state, windows, clock);
  const inFlight = unitsInFlight(state);
  if (inFlight > 0) limiter.tryAcquire(Math.min(inFlight, ...windows.map((w) => w.limit)));
  return limiter;
}

export function usageAt(state: TabState, windows: readonly NormalizedWindow[], now: number): WindowUsage[] {
  return viewLimiter(state, windows, pinnedClock(now)).usage();
}

/**
 * When each of the next `n` requests of `cost` would be admitted if nothing
 * else took from the quota: every tab's queued waiters go first (in turn), the
 * requests in flight count as answered now, nothing before the pause.
 */
export function planAt(state: TabState, windows: readonly NormalizedWindow[], now: number, n: number, cost: number): number[] {
  const clock = pinnedClock(Math.max(now, state.pausedUntil));
  const limiter = viewLimiter(state, windows, clock);
  for (const q of [...state.queue].sort(byTurn)) {
    const at = limiter.plan(1, { cost: q.cost })[0]!;
    if (!Number.isFinite(at)) return new Array<number>(n).fill(Number.POSITIVE_INFINITY);
    clock.t = at;
    limiter.tryAcquire(q.cost);
  }
  return limiter.plan(n, { cost });
}

/**
 * When the last of `costs` (taken in order, each counted as answered when
 * admitted) would be admitted if no answer arrived: requests in flight hold
 * their units until their leases end, then count as sent then. Infinity only
 * when a cost can never fit. This is the exact `retryAt` of a tab store.
 */
export function timeline(state: TabState, windows: readonly NormalizedWindow[], now: number, costs: readonly number[]): number {
  const copy: TabState = JSON.parse(JSON.stringify(state));
  let t = now;
  for (const cost of costs) {
    for (;;) {
      const at = earliest(copy, windows, t, cost);
      const next = nextLeaseEnd(copy, t);
      if (at <= next) {
        if (!Number.isFinite(at)) return at;
        t = at;
        record(copy, windows, cost, t);
        break;
      }
      t = next;
      settleLeases(copy, windows, t);
    }
  }
  return t;
}
