/**
 * `TabLimiter`: the `SharedLimiter` of `tabStore`. Every decision is one step
 * under the quota's exclusive Web Lock: read the state from IndexedDB, let
 * the core decide, write it back, tell the other tabs through a
 * BroadcastChannel. Waiters of every tab stand in one queue in the state, so
 * the tab that holds the lock grants the head whoever's it is; the owner picks
 * its grant up when told. A waiting tab sleeps until the head's exact time,
 * a message from another tab, or the death of the tab whose entry is ahead
 * (each tab holds a lock of its own for its lifetime, which the browser
 * releases when the tab closes): no polling.
 */
import { quotaKey } from '../hmac.js';
import { Slots, acquireInSlot, tryAcquireInSlot } from '../concurrency.js';
import { QueueFullError, TollgateError } from '../errors.js';
import type { AcquireOptions, ReconcileOptions, WindowUsage } from '../limiter.js';
import { normalizeCost, normalizePriority, parseDuration } from '../options.js';
import { type ScheduleOptions, type WrapOptions, scheduleWith, wrapWith } from '../schedule.js';
import type { NormalizedSharedOptions, SharedLimiter, SharedPermit, SharedTryAcquireResult } from '../shared/types.js';
import type { QuotaDatabase } from './database.js';
import { type TabState, freshState, newId, parseState, unitsInFlight } from './state.js';
import { admit, earliest, grantQueue, planAt, record, restoreAt, pinnedClock, settleLeases, timeline, usageAt } from './windows.js';

interface Waiter {
  cost: number;
  priority: number;
  resolve: (permit: SharedPermit) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** What a tab's view of the quota needs, read without the lock (see `TabLimiter#peek`). */
export interface TabQuotaView {
  /** The answered requests (`Limiter#snapshot()` form); null before the first. */
  snapshot: unknown;
  /** Units in flight from every tab. */
  inFlight: number;
  /** Units waiting in every tab. */
  queued: number;
  pausedUntil: number;
  pauseReason: string;
  /** Names this incarnation of the quota; undefined until some tab stored it. */
  epoch: string | undefined;
}

export class TabLimiter implements SharedLimiter {
  readonly key: string;
  readonly events = new EventTarget();
  readonly #o: NormalizedSharedOptions;
  readonly #db: Promise<QuotaDatabase>;
  /** The state as last written by any tab that told us (views read it without a lock). */
  #seen: string | undefined;
  readonly #prefix: string;
  readonly #stateKey: string;
  readonly #owner = newId();
  readonly #channel: BroadcastChannel;
  readonly #waiters = new Map<string, Waiter>();
  #releaseLife!: () => void;
  #timer: unknown = undefined;
  #graves = new Map<string, AbortController>();
  #stepping = false;
  /** Waiters not yet in the shared queue, in arrival order. */
  #arrivals: string[] = [];
  /** Answers not yet recorded (id -> when), recorded together under one lock. */
  #answers = new Map<string, number | undefined>();
  #recording: Promise<void> | undefined;
  /** The life locks held when this step began, on the first step only (see `#liveTabs`). */
  #alive: Set<string> | undefined;
  #queried = false;
  /** `maxConcurrent`: this tab's calls in flight (per tab, like the Redis store's per process). */
  readonly #slots: Slots | undefined;
  /** Limiters whose tab closed: their life lock came free (a name is never reused). */
  readonly #dead = new Set<string>();
  #again = false;
  #closed = false;

  /** @internal Use `Limiter.shared({ ..., store: tabStore() })`. */
  constructor(o: NormalizedSharedOptions, { db, prefix }: { db: Promise<QuotaDatabase>; prefix: string }) {
    this.#o = o;
    this.key = quotaKey(o.name);
    this.#db = db;
    this.#prefix = prefix;
    this.#stateKey = `${prefix}:limiter:${this.key}`;
    const maxConcurrent = o.maxConcurrent ?? Number.POSITIVE_INFINITY;
    this.#slots = Number.isFinite(maxConcurrent) ? new Slots(maxConcurrent, o.maxWaiters) : undefined;
    this.#channel = new BroadcastChannel(this.#stateKey);
    this.#channel.onmessage = (e: MessageEvent) => {
      if (typeof e.data === 'string') this.#seen = e.data;
      this.#changed();
    };
    // The first view: the stored state, read once without the lock.
    db.then((d) => d.get(this.#stateKey)).then((text) => {
      if (this.#seen === undefined && text !== undefined) {
        this.#seen = text;
        this.events.dispatchEvent(new Event('change'));
      }
    }, () => {});
    // Held for this limiter's life; the browser releases it when the tab closes,
    // which is how the other tabs learn that its waiters are gone.
    const life = new Promise<void>((resolve) => { this.#releaseLife = resolve; });
    void navigator.locks.request(this.#lifeLock(this.#owner), () => life);
  }

  async tryAcquire(cost = 1): Promise<SharedTryAcquireResult> {
    normalizeCost(cost);
    this.#open();
    const slots = this.#slots;
    if (slots === undefined) return this.#tryWindows(cost);
    return tryAcquireInSlot(slots, () => this.#tryWindows(cost));
  }

  async #tryWindows(cost: number): Promise<SharedTryAcquireResult> {
    const id = newId();
    const r = await this.#locked((state, now) => {
      this.#housekeep(state, now);
      if (state.queue.length > 0 || earliest(state, this.#o.windows, now, cost) > now) {
        const retryAt = timeline(state, this.#o.windows, now, [...state.queue.map((q) => q.cost), cost]);
        return { ok: false as const, retryAt, waitMs: retryAt - now };
      }
      admit(state, this.#o.windows, now, { id, owner: this.#owner, cost }, this.#o);
      return { ok: true as const, at: this.#pick(state, id)! };
    });
    if (!r.ok) return r;
    return { ok: true, permit: new TabPermit(this, id, cost, r.at) };
  }

  acquire(options: AcquireOptions = {}): Promise<SharedPermit> {
    if (this.#slots === undefined) return this.#acquireWindows(options);
    if (typeof options !== 'object' || options === null) return Promise.reject(new TypeError('`options` must be an object like { cost, priority, signal }'));
    return acquireInSlot(this.#slots, options, (o) => this.#acquireWindows(o), this.#waiters.size);
  }

  /** Runs `fn` once admitted and completes the permit when it settles (a rejection too). */
  schedule<T>(fn: () => T | PromiseLike<T>, options?: ScheduleOptions): Promise<Awaited<T>> {
    return scheduleWith(this, fn, options);
  }

  /** `fn` limited: each call waits its turn in every tab's queue. */
  wrap<A extends unknown[], R, This = unknown>(fn: (this: This, ...args: A) => R, options?: WrapOptions): (this: This, ...args: A) => Promise<Awaited<R>> {
    return wrapWith(this, fn, options);
  }

  #acquireWindows(options: AcquireOptions): Promise<SharedPermit> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let cost: number;
    let priority: number;
    try {
      cost = normalizeCost(options.cost ?? 1);
      priority = normalizePriority(options.priority ?? 0);
      this.#open();
      if (this.#waiters.size >= this.#o.maxWaiters) throw new QueueFullError(`the queue already holds \`maxWaiters\` (${this.#o.maxWaiters}) waiters`);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = newId();
    return new Promise<SharedPermit>((resolve, reject) => {
      const waiter: Waiter = { cost, priority, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          if (!this.#waiters.delete(id)) return;
          reject(signal.reason);
          this.#emit('aborted', { cost, waiting: this.#waiters.size });
          this.#step(); // removes its entry (or unsent grant) from the shared state
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.set(id, waiter);
      this.#arrivals.push(id); // joins the shared queue in the next step, with every other arrival since
      this.#step();
    });
  }

  /** Admits nothing before `at` in any tab (e.g. a server's Retry-After); `reason` is shown in views. */
  async pauseUntil(at: number, reason = ''): Promise<void> {
    if (typeof at !== 'number' || Number.isNaN(at)) throw new TypeError(`\`at\` must be a time in ms since the epoch; got ${String(at)}`);
    this.#open();
    await this.#locked((state) => {
      if (at <= state.pausedUntil) return;
      state.pausedUntil = at;
      state.pauseReason = reason;
    });
    this.#emit('paused', { until: at });
  }

  /** The server reports fewer units left in window `window` than counted here: adopt its view for every tab. */
  async reconcile(window: number, options: ReconcileOptions): Promise<boolean> {
    this.#open();
    const changed = await this.#locked((state, now) => {
      const limiter = restoreAt(state, this.#o.windows, pinnedClock(now));
      const changed = limiter.reconcile(window, options);
      if (changed) state.snapshot = limiter.snapshot();
      return changed;
    });
    if (changed) this.#emit('reconciled', { window, ...options });
    return changed;
  }

  /** Each window's use now, every tab's requests in flight included. Reads without the lock. */
  async usage(): Promise<WindowUsage[]> {
    const now = this.#o.clock.now();
    const state = await this.#settledCopy(now);
    return usageAt(state, this.#o.windows, now);
  }

  /** When each of the next `n` requests would be admitted if nothing else took from the quota (every tab's waiters first). */
  async plan(n: number, { cost = 1 }: { cost?: number } = {}): Promise<number[]> {
    if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new TypeError(`\`n\` must be an integer from 0 to 1000000; got ${String(n)}`);
    normalizeCost(cost);
    const now = this.#o.clock.now();
    return planAt(await this.#settledCopy(now), this.#o.windows, now, n, cost);
  }

  /** Forgets what was spent, in every tab, and starts a new epoch (requests in flight are forgotten too; waiters stay). */
  async reset(): Promise<void> {
    this.#open();
    await this.#locked((state) => {
      Object.assign(state, { ...freshState(), queue: state.queue, seq: state.seq });
    });
  }

  /** The epoch of the stored quota (stores one if no tab has yet). */
  async epoch(): Promise<string> {
    this.#open();
    return this.#locked((state) => state.epoch);
  }

  /**
   * The state as last stored by any tab, for views that redraw often (no lock,
   * no read: every tab's writes are broadcast with it; a `change` event says it moved).
   */
  peek(): TabQuotaView {
    const { state, stored } = parseState(this.#seen);
    return {
      snapshot: state.snapshot,
      inFlight: unitsInFlight(state),
      queued: state.queue.reduce((n, q) => n + q.cost, 0),
      pausedUntil: state.pausedUntil,
      pauseReason: state.pauseReason,
      epoch: stored ? state.epoch : undefined,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new TollgateError('the shared limiter was closed');
    for (const w of this.#waiters.values()) {
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.reject(error);
    }
    this.#waiters.clear();
    this.#disarm();
    try {
      await navigator.locks.request(this.#stateKey, () => this.#write((state) => this.#cleanUp(state)));
    } finally {
      for (const grave of this.#graves.values()) grave.abort();
      this.#releaseLife();
      this.#channel.close();
    }
  }

  /** @internal The answer to `id` arrived at `at`: count it then, in every tab. */
  async _complete(id: string, at: number | undefined): Promise<void> {
    if (at !== undefined) parseDuration(at, 'at');
    if (this.#closed) return;
    this.#answers.set(id, at);
    this.#recording ??= Promise.resolve().then(() => this.#locked((state, now) => {
      const answers = new Map(this.#answers);
      this.#answers.clear();
      this.#recording = undefined;
      for (const [id, at] of answers) {
        const i = state.inFlight.findIndex((p) => p.id === id);
        if (i < 0) continue; // its lease ended (already counted), or a reset forgot it
        const [p] = state.inFlight.splice(i, 1);
        if (!p!.counted) record(state, this.#o.windows, p!.cost, Math.min(at ?? now, now));
      }
    }));
    return this.#recording;
  }

  #open(): void {
    if (this.#closed) throw new TollgateError('the shared limiter was closed');
  }

  #lifeLock(owner: string): string {
    return `${this.#prefix}:tab:${owner}`;
  }

  #emit(type: string, detail: Record<string, unknown>): void {
    this.events.dispatchEvent(new CustomEvent(type, { detail: { at: this.#o.clock.now(), ...detail } }));
  }

  async #settledCopy(now: number): Promise<TabState> {
    const { state } = parseState(await (await this.#db).get(this.#stateKey));
    settleLeases(state, this.#o.windows, now);
    return state;
  }

  /** Runs `decide` under the quota's lock on the stored state; stores it and tells every tab if it changed. */
  async #locked<T>(decide: (state: TabState, now: number) => T): Promise<T> {
    const { result, changed } = await navigator.locks.request(this.#stateKey, () => this.#write(decide));
    if (changed) {
      this.#channel.postMessage(this.#seen);
      this.#changed();
    }
    return result;
  }

  async #write<T>(decide: (state: TabState, now: number) => T): Promise<{ result: T; changed: boolean }> {
    const db = await this.#db;
    this.#alive = await this.#liveTabs();
    return db.update(this.#stateKey, (before) => {
      const { state } = parseState(before);
      const result = decide(state, this.#o.clock.now());
      const after = JSON.stringify(state);
      this.#seen = after;
      const changed = after !== before;
      return { text: changed ? after : undefined, result: { result, changed } };
    });
  }

  /**
   * The life locks held now, asked once, on this limiter's first step: tabs
   * that closed before it came are dropped then. Later, a closed tab is known
   * from its grave (see `#watchGraves`), so a step costs no query.
   */
  async #liveTabs(): Promise<Set<string> | undefined> {
    if (this.#queried) return undefined;
    this.#queried = true;
    const { held = [], pending = [] } = await navigator.locks.query();
    return new Set([...held, ...pending].map((l) => l.name!));
  }

  /** Lease ends, closed tabs' waiters, then the queue's heads that fit now. */
  #housekeep(state: TabState, now: number): number | undefined {
    settleLeases(state, this.#o.windows, now);
    const others = new Set([...state.queue, ...state.inFlight.filter((p) => !p.picked)].map((e) => e.owner));
    others.delete(this.#owner);
    const alive = this.#alive;
    if (others.size > 0) {
      const dead = new Set([...others].filter((o) => this.#dead.has(o) || (alive !== undefined && !alive.has(this.#lifeLock(o)))));
      if (dead.size > 0) {
        state.queue = state.queue.filter((q) => !dead.has(q.owner));
        // A grant its tab never saw was never sent.
        state.inFlight = state.inFlight.filter((p) => p.picked || !dead.has(p.owner));
      }
    }
    this.#cleanUp(state);
    return grantQueue(state, this.#o.windows, now, this.#o);
  }

  /** Drops this limiter's entries whose waiter is gone (aborted, closed). */
  #cleanUp(state: TabState): void {
    const mine = (e: { owner: string; id: string }) => e.owner === this.#owner && !this.#waiters.has(e.id);
    state.queue = state.queue.filter((q) => !mine(q));
    state.inFlight = state.inFlight.filter((p) => p.picked || !mine(p));
  }

  /** Marks grant `id` seen by its owner; returns its time (or undefined if there is none). */
  #pick(state: TabState, id: string): number | undefined {
    const p = state.inFlight.find((e) => e.id === id);
    if (p === undefined) return undefined;
    p.picked = true;
    if (p.counted) state.inFlight.splice(state.inFlight.indexOf(p), 1);
    return p.at;
  }

  #changed(): void {
    this.events.dispatchEvent(new Event('change'));
    if (this.#waiters.size > 0) this.#step();
  }

  /**
   * One step for this tab's waiters: housekeeping, pick up grants, then sleep
   * until the head's time (or a lease end), a message, or a tab ahead closing.
   * New arrivals join the shared queue first.
   */
  #step(): void {
    if (this.#closed) return;
    if (this.#stepping) {
      this.#again = true;
      return;
    }
    this.#stepping = true;
    this.#disarm();
    const run = this.#locked((state, now) => {
      for (const id of this.#arrivals.splice(0)) {
        const w = this.#waiters.get(id);
        if (w === undefined) continue; // aborted before it joined
        try {
          // A cost that can never fit is refused now, not queued forever.
          earliest({ ...state, inFlight: [], pausedUntil: 0 }, this.#o.windows, state.pausedUntil, w.cost);
        } catch (error) {
          this.#waiters.delete(id);
          w.reject(error);
          continue;
        }
        state.queue.push({ id, owner: this.#owner, cost: w.cost, priority: w.priority, seq: state.seq++ });
        this.#emit('queued', { cost: w.cost, priority: w.priority, waiting: this.#waiters.size });
      }
      const wake = this.#housekeep(state, now);
      const grants: Array<[string, number]> = [];
      for (const id of this.#waiters.keys()) {
        const at = this.#pick(state, id);
        if (at !== undefined) grants.push([id, at]);
      }
      const ahead = new Set(state.queue.concat().filter((q) => q.owner !== this.#owner).map((q) => q.owner));
      for (const p of state.inFlight) if (!p.picked && p.owner !== this.#owner) ahead.add(p.owner);
      return { grants, wake: wake ?? Number.POSITIVE_INFINITY, now, ahead };
    });
    run.then(({ grants, wake, now, ahead }) => {
      for (const [id, at] of grants) {
        const w = this.#waiters.get(id);
        if (w === undefined) continue; // aborted while the step ran: the next step frees it
        this.#waiters.delete(id);
        if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
        w.resolve(new TabPermit(this, id, w.cost, at));
        this.#emit('admitted', { cost: w.cost, waiting: this.#waiters.size });
      }
      this.#stepping = false;
      if (this.#closed) return;
      if (this.#again) {
        this.#again = false;
        return this.#step();
      }
      if (this.#waiters.size === 0) return;
      if (Number.isFinite(wake)) this.#timer = this.#o.clock.setTimeout(() => this.#step(), Math.max(0, wake - now));
      this.#watchGraves(ahead);
    }, (error) => {
      this.#stepping = false;
      for (const w of this.#waiters.values()) w.reject(error);
      this.#waiters.clear();
    });
  }

  /** Wakes when a tab whose entries stand ahead closes (its life lock becomes free). */
  #watchGraves(owners: Set<string>): void {
    for (const [owner, ac] of this.#graves) {
      if (!owners.has(owner)) {
        ac.abort();
        this.#graves.delete(owner);
      }
    }
    for (const owner of owners) {
      if (this.#graves.has(owner)) continue;
      const ac = new AbortController();
      this.#graves.set(owner, ac);
      navigator.locks.request(this.#lifeLock(owner), { signal: ac.signal }, () => undefined).then(() => {
        this.#graves.delete(owner);
        this.#dead.add(owner);
        this.#step();
      }, () => {});
    }
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

class TabPermit implements SharedPermit {
  #limiter: TabLimiter | undefined;
  readonly #id: string;
  readonly cost: number;
  readonly at: number;

  constructor(limiter: TabLimiter, id: string, cost: number, at: number) {
    this.#limiter = limiter;
    this.#id = id;
    this.cost = cost;
    this.at = at;
  }

  complete(at?: number): Promise<void> {
    const limiter = this.#limiter;
    this.#limiter = undefined;
    return limiter ? limiter._complete(this.#id, at) : Promise.resolve();
  }

  /** Not given back across tabs yet: counted as sent now (overcounted once, never undercounted). */
  release(): Promise<void> {
    return this.complete();
  }
}
