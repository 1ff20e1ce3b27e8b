// One tollgate quota shared by every tab of an origin, kept in localStorage so a
// reload does not forget what was spent.
//
// Every decision is taken under an exclusive Web Lock (`tollgate:limiter:<name>`):
// read the state, `Limiter.restore` its snapshot, decide, write it back, release.
// One lock admits every request of the tab that fits, in order; answers that
// arrive together are recorded under one lock. A BroadcastChannel tells the other tabs the state changed: their views refresh
// and their waiting request looks again. A wait is otherwise a timer set for the
// `retryAt` the decision returned.
//
// Requests in flight are kept beside the snapshot, not in it: a snapshot writes
// them as sent at its own time, but a strict server counts a request when it
// arrives, which may be later. So this follows tollgate's `countInFlight` rule
// across tabs: a request is admitted only if it fits together with every request
// in flight (`plan(1, { cost: cost + inFlight })` at now), holds its slot while in
// flight, and is recorded in the windows when its answer arrives. Recording then
// always fits, because used slots only free up as time passes. A request whose tab
// closed before its answer (no completion after `staleAfterMs` of real time) is
// recorded as answered then.

import { Limiter, SnapshotError, isInsufficientCapacityError } from './tollgate.js';
import { windowViews } from './window-view.js';

const VERSION = 1;
const newId = () => crypto.randomUUID();

export class SharedLimiter extends EventTarget {
  #key;
  #windows;
  #clock;
  #staleAfterMs;
  #channel;
  /** This tab's requests, in arrival order: one lock admits every one that fits. */
  #waiters = [];
  #pumping = false;
  #wakers = new Set();
  /** Answers not yet recorded: recorded together, under one lock. */
  #answered = new Set();
  #recording;

  /** `windows`: tollgate's window options; `clock`: the quota clock shared by the tabs. */
  constructor({ name, windows, clock, staleAfterMs = 15_000 }) {
    super();
    this.#key = `tollgate:limiter:${name}`;
    this.#windows = windows;
    this.#clock = clock;
    this.#staleAfterMs = staleAfterMs;
    this.#channel = new BroadcastChannel(this.#key);
    this.#channel.onmessage = () => this.#changed();
  }

  /**
   * Resolves with a permit when the request may be sent (first come, first
   * served in this tab; a large cost at the head is not overtaken); complete it
   * when the answer arrived. Aborting `signal` removes the request.
   */
  acquire({ cost = 1, signal } = {}) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = { cost, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#waiters.indexOf(waiter);
          if (i < 0) return;
          this.#waiters.splice(i, 1);
          reject(signal.reason);
          this.#wake(); // the head may have changed
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** Admits nothing before `until` (quota clock), e.g. a server's Retry-After. */
  pauseUntil(until, reason) {
    return this.#locked((state) => {
      if (until <= state.pausedUntil) return;
      state.pausedUntil = until;
      state.pauseReason = reason;
      state.dirty = true;
    });
  }

  /** Forgets everything spent, in every tab; the new epoch names a fresh quota at the server too. */
  reset() {
    return this.#locked((state) => {
      Object.assign(state, fresh(), { dirty: true });
    });
  }

  /** Each window's use now (requests in flight included), the gate and the epoch. Reads, takes no lock. */
  view() {
    const state = this.#read();
    const now = this.#clock.now();
    const inFlight = state.inFlight.reduce((n, p) => n + p.cost, 0);
    const windows = windowViews(Limiter, this.#limiter(state, frozenAt(now)).snapshot(), now, { inFlight });
    // A state not stored yet has no epoch: `epoch()` makes one, under the lock, for every tab.
    const epoch = state.dirty ? undefined : state.epoch;
    return { now, windows, inFlight, pausedUntil: state.pausedUntil, pauseReason: state.pauseReason, epoch };
  }

  /** The epoch of the stored state, creating it if there is none yet. */
  async epoch() {
    return this.#locked((state) => state.epoch);
  }

  /**
   * When each request arriving at `arrivals` (quota clock, ascending) would be
   * admitted if nothing else took from the quota, requests in flight counted as
   * answered now: the core's `plan(n)` when they all arrive at once, else the
   * same decisions replayed on a copy with the arrival times.
   */
  plan(arrivals) {
    const state = this.#read();
    let t = Math.max(this.#clock.now(), state.pausedUntil);
    const copy = this.#limiter(state, { now: () => t, setTimeout: () => 0, clearTimeout: () => {} }); // a clock the replay moves
    const inFlight = state.inFlight.reduce((n, p) => n + p.cost, 0);
    if (inFlight > 0) copy.tryAcquire(inFlight);
    if (arrivals.every((a) => a <= t)) return copy.plan(arrivals.length);
    return arrivals.map((arrival) => {
      t = Math.max(t, arrival);
      const r = copy.tryAcquire();
      if (r.ok) return t;
      t = r.retryAt;
      copy.tryAcquire();
      return t;
    });
  }

  close() {
    this.#channel.close();
  }

  /** Admits this tab's waiters in order while they fit, then sleeps until the head's `retryAt` or a change. */
  async #pump() {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiters.length > 0) {
        const batch = [...this.#waiters];
        const { admitted, retryAt } = await this.#locked((state, now) => this.#take(state, now, batch.map((w) => w.cost)));
        admitted.forEach(({ id, at }, k) => {
          const waiter = batch[k];
          const i = this.#waiters.indexOf(waiter);
          if (i < 0) return void this._complete(id, { sent: false }); // aborted meanwhile
          this.#waiters.splice(i, 1);
          waiter.signal?.removeEventListener('abort', waiter.onAbort);
          waiter.resolve(new SharedPermit(this, id, waiter.cost, at));
        });
        if (admitted.length < batch.length && this.#waiters.length > 0) await this.#sleep(retryAt);
      }
    } catch (error) {
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    } finally {
      this.#pumping = false;
    }
  }

  /** Admits the leading `costs` that fit now, each together with every request in flight. */
  #take(state, now, costs) {
    this.#settle(state, now, () => false);
    let inFlight = state.inFlight.reduce((n, p) => n + p.cost, 0);
    const limiter = this.#limiter(state, frozenAt(now));
    const admitted = [];
    for (const cost of costs) {
      let at;
      try {
        at = limiter.plan(1, { cost: cost + inFlight })[0];
      } catch (error) {
        if (!isInsufficientCapacityError(error) || inFlight === 0) throw error;
        at = Infinity; // only an answer to a request in flight can make room
      }
      at = Math.max(at, state.pausedUntil);
      if (at > now) return { admitted, retryAt: at };
      const id = newId();
      state.inFlight.push({ id, at: now, wallAt: Date.now(), cost });
      state.dirty = true;
      inFlight += cost;
      admitted.push({ id, at: now });
    }
    return { admitted, retryAt: now };
  }

  /**
   * @internal The answer to permit `id` arrived (or, `sent: false`, the request
   * never went out). Answers that arrive together are recorded under one lock.
   */
  _complete(id, { sent = true } = {}) {
    this.#answered.add(sent ? id : `unsent:${id}`);
    this.#recording ??= Promise.resolve().then(() => this.#locked((state, now) => {
      const answered = new Set(this.#answered);
      this.#answered.clear();
      this.#recording = undefined;
      const unsent = state.inFlight.filter((p) => answered.has(`unsent:${p.id}`));
      if (unsent.length > 0) {
        state.inFlight = state.inFlight.filter((p) => !unsent.includes(p));
        state.dirty = true;
      }
      this.#settle(state, now, (p) => answered.has(p.id));
    }));
    return this.#recording;
  }

  /**
   * Records the requests in flight that `answered(p)` says were answered, and
   * those whose tab went quiet (stale), in the windows at `now`. One that does
   * not fit keeps holding its slot.
   */
  #settle(state, now, answered) {
    const old = Date.now() - this.#staleAfterMs;
    const done = state.inFlight.filter((p) => answered(p) || p.wallAt < old);
    if (done.length === 0) return;
    const limiter = this.#limiter(state, frozenAt(now));
    const recorded = new Set(done.filter((p) => limiter.tryAcquire(p.cost).ok));
    state.snapshot = limiter.snapshot();
    state.inFlight = state.inFlight.filter((p) => !recorded.has(p));
    state.dirty = true;
  }

  #limiter(state, clock) {
    if (state.snapshot) {
      try {
        return Limiter.restore(state.snapshot, { windows: this.#windows, clock });
      } catch (error) {
        if (!(error instanceof SnapshotError)) throw error; // another format: start afresh
      }
    }
    return new Limiter({ windows: this.#windows, clock });
  }

  #read() {
    try {
      const state = JSON.parse(localStorage.getItem(this.#key) ?? 'null');
      if (state?.version === VERSION && Array.isArray(state.inFlight)) return state;
    } catch {
      // unreadable: start afresh
    }
    return { ...fresh(), dirty: true };
  }

  /** Runs `decide(state, now)` under the lock; writes the state back and tells every tab if it changed. */
  async #locked(decide) {
    const { result, dirty } = await navigator.locks.request(this.#key, () => {
      const state = this.#read();
      const out = decide(state, this.#clock.now());
      const changed = state.dirty === true;
      if (changed) {
        delete state.dirty;
        localStorage.setItem(this.#key, JSON.stringify(state));
      }
      return { result: out, dirty: changed };
    });
    if (dirty) {
      this.#channel.postMessage('change');
      this.#changed();
    }
    return result;
  }

  #changed() {
    this.#wake();
    this.dispatchEvent(new Event('change'));
  }

  #wake() {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Until `at` (quota clock), a change in any tab, or a second of real time, whichever comes first. */
  #sleep(at) {
    return new Promise((resolve) => {
      let timer;
      const wake = () => {
        this.#wakers.delete(wake);
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        clearTimeout(poll);
        resolve();
      };
      this.#wakers.add(wake);
      if (Number.isFinite(at)) timer = this.#clock.setTimeout(wake, at - this.#clock.now());
      // A message lost with a closing tab must not strand a waiter.
      const poll = setTimeout(wake, 1_000);
    });
  }
}

/** One decision, one time: a quota clock ×60 moves between two reads. The limiter is rebuilt for each decision, so it never waits on it. */
function frozenAt(now) {
  return { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
}

function fresh() {
  return { version: VERSION, epoch: newId().slice(0, 8), snapshot: null, inFlight: [], pausedUntil: 0, pauseReason: '' };
}

/** An admitted request's hold on the shared quota. */
export class SharedPermit {
  #limiter;
  #id;

  constructor(limiter, id, cost, at) {
    this.#limiter = limiter;
    this.#id = id;
    this.cost = cost;
    /** When it was admitted, on the quota clock. */
    this.at = at;
  }

  /** The answer arrived: record the request now, in every tab's view. Later calls do nothing. */
  complete() {
    const limiter = this.#limiter;
    this.#limiter = undefined;
    return limiter ? limiter._complete(this.#id) : Promise.resolve();
  }
}
