/**
 * `redisStore(client)`: a quota shared by every process (and machine) that
 * opens the same name on the same Redis. Each decision is one call of Lua
 * (js/src/shared/lua/*.lua): all windows checked and charged together,
 * atomically, in one round trip. See the README's "Sharing a quota".
 */
import { InsufficientCapacityError, QueueFullError } from '../errors.js';
import { StoreError } from '../cost/errors.js';
import { Limiter, type AcquireOptions, type ReconcileOptions, type WindowUsage } from '../limiter.js';
import { type Duration, normalizeCost, normalizePriority, parseDuration } from '../options.js';
import type { ScriptName } from './lua-scripts.js';
import { type Reply, type ScriptRunner, wrapClient } from './redis-client.js';
import { hmacSha256, quotaKey } from '../hmac.js';
import { Slots, acquireInSlot, tryAcquireInSlot } from '../concurrency.js';
import { type ScheduleOptions, type WrapOptions, scheduleWith, wrapWith } from '../schedule.js';
import type {
  NormalizedSharedOptions, SharedLimiter, SharedPermit, SharedStore, SharedTryAcquireResult,
} from './types.js';

export interface RedisStoreOptions {
  /** Prefix of every key and channel: `{prefix:hash}:state`. @default 'tollgate' */
  prefix?: string;
  /**
   * Keys the quota's hash (HMAC-SHA-256 instead of SHA-256 of the name), so
   * that who reads Redis cannot test guesses of a token against the keys.
   * Every process sharing a quota must use the same secret. @default none
   */
  secret?: string;
  /**
   * Whose clock decides. `'redis'`: the script reads Redis `TIME`, so processes
   * whose clocks disagree still share one exact timeline; each process maps
   * times onto its own clock with an offset measured on every reply.
   * `'client'`: the caller's `clock.now()` is used (for tests with virtual
   * time, or clocks known to agree): a clock running ahead can then free slots
   * early for everyone. @default 'redis'
   */
  time?: 'redis' | 'client';
  /** A command Redis has not answered within this fails with `StoreError`. @default 5000 */
  timeoutMs?: Duration;
  /**
   * A waiter whose process gave no sign of life for this long leaves the
   * shared queue (its process died); live processes renew theirs every third
   * of it. @default '15s'
   */
  queueLeaseMs?: Duration;
  /**
   * When Redis fails, keep going on a local in-process `Limiter` holding
   * `share` (0 < share <= 1) of every window's limit (at least 1), announced by
   * a `fallback` event, and go back to Redis (event `recovered`) once it
   * answers again, counting there what was admitted meanwhile. Without it,
   * calls reject with `StoreError`. @default none
   */
  fallback?: { share: number; /** How often to look for Redis again. @default '1s' */ retryMs?: Duration };
  /**
   * After Redis lost a quota (restarted without persistence, failed over), it
   * admits nothing for this long while every process re-registers what it
   * admitted within the longest window (they hear of the loss through
   * pub/sub, or at their next call). @default '2s'
   */
  recoveryMs?: Duration;
}

export interface RedisStore extends SharedStore {
  readonly kind: 'redis';
}

interface Normalized {
  prefix: string;
  secret: string | undefined;
  time: 'redis' | 'client';
  timeoutMs: number;
  queueLeaseMs: number;
  fallback: { share: number; retryMs: number } | undefined;
  recoveryMs: number;
}

function normalizeStoreOptions(o: RedisStoreOptions): Normalized {
  if (typeof o !== 'object' || o === null) throw new TypeError('`redisStore` options must be an object');
  const prefix = o.prefix ?? 'tollgate';
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}\s]/.test(prefix)) {
    throw new TypeError(`\`prefix\` must be a non-empty string without braces or spaces; got ${String(prefix)}`);
  }
  if (o.secret !== undefined && (typeof o.secret !== 'string' || o.secret.length === 0)) {
    throw new TypeError('`secret` must be a non-empty string');
  }
  const time = o.time ?? 'redis';
  if (time !== 'redis' && time !== 'client') throw new TypeError(`\`time\` must be 'redis' or 'client'; got ${String(time)}`);
  const timeoutMs = o.timeoutMs === undefined ? 5_000 : parseDuration(o.timeoutMs, 'timeoutMs');
  if (timeoutMs < 1) throw new TypeError('`timeoutMs` must be at least 1 ms');
  const queueLeaseMs = o.queueLeaseMs === undefined ? 15_000 : parseDuration(o.queueLeaseMs, 'queueLeaseMs');
  if (queueLeaseMs < 30) throw new TypeError('`queueLeaseMs` must be at least 30 ms');
  let fallback: Normalized['fallback'];
  if (o.fallback !== undefined) {
    const share = o.fallback?.share;
    if (typeof share !== 'number' || !(share > 0 && share <= 1)) {
      throw new TypeError(`\`fallback.share\` must be a number above 0 and at most 1; got ${String(share)}`);
    }
    const retryMs = o.fallback.retryMs === undefined ? 1_000 : parseDuration(o.fallback.retryMs, 'fallback.retryMs');
    fallback = { share, retryMs: Math.max(1, retryMs) };
  }
  const recoveryMs = o.recoveryMs === undefined ? 2_000 : parseDuration(o.recoveryMs, 'recoveryMs');
  return { prefix, secret: o.secret, time, timeoutMs, queueLeaseMs, fallback, recoveryMs };
}

/**
 * A store that shares quotas through Redis. `client` is an ioredis `Redis` or
 * `Cluster`, or a connected node-redis client; tollgate depends on neither.
 *
 * How decisions run, found out on the first call: on Redis 7 and later, as
 * functions of the library `tollgate_<hash>` (`FUNCTION LOAD` once per server,
 * on every master of a cluster, and again when a server lost it; `FCALL` per
 * call); where Redis has no functions or refuses them (before 7, `FUNCTION`
 * or `FCALL` disabled or renamed, an ACL without them), as scripts by SHA
 * (`EVALSHA`), which cost Redis about twice the time per call.
 *
 * ```js
 * const hex = Limiter.shared({ name: 'hex:' + token, windows: [{ limit: 20, per: '1m' }, { limit: 60, per: '1h' }],
 *   store: redisStore(new Redis()) });
 * const permit = await hex.acquire();
 * ```
 */
export function redisStore(client: unknown, options: RedisStoreOptions = {}): RedisStore {
  const runner = wrapClient(client);
  const o = normalizeStoreOptions(options);
  let open = 0;
  let closing: ReturnType<typeof setTimeout> | undefined;
  return {
    kind: 'redis',
    open(shared: NormalizedSharedOptions): SharedLimiter {
      for (const w of shared.windows) {
        // The scripts' GCRA keeps its time in 1/limit ms within 53 bits.
        if (w.kind === 'bucket' && w.limit * w.perMs > 2 ** 52) {
          throw new TypeError(`a shared 'bucket' window needs limit x per <= 2^52 ms; got ${w.limit} per ${w.perMs} ms`);
        }
      }
      open++;
      if (closing !== undefined) clearTimeout(closing);
      closing = undefined;
      return new RedisSharedLimiter(runner, o, shared, () => {
        if (--open > 0) return;
        // The subscriber connection goes once no limiter uses it for a moment
        // (closing and reopening it for every short-lived limiter is slow).
        closing = setTimeout(() => {
          closing = undefined;
          if (open === 0) void runner.close();
        }, 200);
        (closing as { unref?: () => void }).unref?.();
      });
    },
  };
}

interface Waiter {
  id: string;
  cost: number;
  priority: number;
  resolve: (permit: SharedPermit) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Redis has its ticket (its 'queue' call answered). */
  queued: boolean;
}

/** An admission this process remembers, to count it again if Redis loses the quota. Times on the store's clock. */
interface Admission {
  id: string;
  at: number;
  cost: number;
  done: number;
  tracked: boolean;
  /** Released unsent: nothing to count again. */
  released?: boolean;
}

class RedisPermit implements SharedPermit {
  #done = false;
  constructor(
    readonly at: number,
    readonly cost: number,
    private readonly finish: (at: number | undefined) => Promise<void>,
    private readonly giveBack: () => Promise<void>,
  ) {}

  complete(at?: number): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    return this.finish(at);
  }

  release(): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    return this.giveBack();
  }
}

const MAX_PLAN = 100_000;
/** Batches of tryAcquire calls one limiter has under way at once (one forms while the other is decided). */
const MAX_TRY_BATCHES = 2;
/** Decisions in one batch at most (one script call's arguments). */
const MAX_TRY_BATCH = 256;

/** A command under way: it fails with StoreError unless answered by `at` (ms since the epoch). */
interface Deadline {
  at: number;
  reject: (reason: unknown) => void;
  settled: boolean;
}

interface PendingTry {
  cost: number;
  resolve: (result: SharedTryAcquireResult) => void;
  reject: (reason: unknown) => void;
}

function randomId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function closedError(): Error {
  return new DOMException('The shared limiter was closed', 'AbortError');
}

class RedisSharedLimiter implements SharedLimiter {
  readonly key: string;
  #runner: ScriptRunner;
  #s: Normalized;
  #o: NormalizedSharedOptions;
  #release: () => void;
  #stateKey: string;
  #channel: string;
  #spec: string;
  /** ARGV[1] of every call: the configuration, parsed once by the library (policy.lua's parse_config). */
  #config: string;
  /** The smallest limit: a cost up to it fits every window. */
  #minLimit: number;
  #maxPerMs: number;
  #owner = randomId();
  #seq = 0;
  #gen = '';
  #offset = 0;
  #bestRtt = Number.POSITIVE_INFINITY;
  #offsetAt = Number.NEGATIVE_INFINITY;
  #waiters = new Map<string, Waiter>();
  #timer: unknown = undefined;
  #timerAt = Number.NaN;
  #heartbeat: unknown = undefined;
  #polling = false;
  #pollAgain = false;
  #failingSince: number | undefined;
  #subscribed: Promise<void> | undefined;
  #history: Admission[] = [];
  #events: EventTarget | undefined;
  #closed = false;
  #local: Limiter | undefined;
  #localSince = 0;
  #probe: unknown = undefined;
  /** `maxConcurrent`: this process's cap on calls in flight (js/src/concurrency.ts). */
  readonly #slots: Slots | undefined;
  #tries: PendingTry[] = [];
  #triesInFlight = 0;
  #tryFlush = false;

  constructor(runner: ScriptRunner, s: Normalized, o: NormalizedSharedOptions, release: () => void) {
    this.#runner = runner;
    this.#s = s;
    this.#o = o;
    this.#release = release;
    const utf8 = (text: string) => new TextEncoder().encode(text);
    this.key = s.secret === undefined ? quotaKey(o.name)
      : Array.from(hmacSha256(utf8(s.secret))(utf8(`tollgate:quota:${o.name}`)), (b) => b.toString(16).padStart(2, '0')).join('');
    const maxConcurrent = o.maxConcurrent ?? Number.POSITIVE_INFINITY;
    this.#slots = Number.isFinite(maxConcurrent) ? new Slots(maxConcurrent, o.maxWaiters) : undefined;
    // One hash tag per quota: every key of it lives in one cluster slot.
    const tag = `{${s.prefix}:${this.key.slice(0, 32)}}`;
    this.#stateKey = `${tag}:state`;
    this.#channel = `${tag}:head`;
    this.#spec = o.windows.map((w) => `${w.kind[0]}:${w.limit}:${w.perMs}:${w.offsetMs}`).join('|');
    this.#config = [this.#spec, s.recoveryMs, o.countInFlight ? 1 : 0, o.leaseMs, s.queueLeaseMs].join('#');
    this.#minLimit = Math.min(...o.windows.map((w) => w.limit));
    this.#maxPerMs = Math.max(...o.windows.map((w) => w.perMs));
  }

  get events(): EventTarget {
    return (this.#events ??= new EventTarget());
  }

  #emit(type: string, detail: Record<string, unknown>): void {
    this.#events?.dispatchEvent(new CustomEvent(type, { detail: { at: this.#o.clock.now(), ...detail } }));
  }

  // ---------------------------------------------------------------- time

  /** Store time to ours. */
  #toLocal(t: number): number {
    return t === -1 ? Number.POSITIVE_INFINITY : t - this.#offset;
  }

  #toStore(t: number): number {
    return Math.round(t + this.#offset);
  }

  /** Redis said `redisNow` between our t0 and t1: keep the tightest recent estimate of the offset. */
  #sample(redisNow: number, t0: number, t1: number): void {
    const rtt = t1 - t0;
    if (rtt <= this.#bestRtt || t1 - this.#offsetAt > 10_000) {
      this.#bestRtt = rtt;
      this.#offsetAt = t1;
      this.#offset = Math.round(redisNow - (t0 + t1) / 2);
    }
  }

  // ---------------------------------------------------------------- calls

  /** Runs operation `name` and checks its reply (see #request). */
  #call(name: ScriptName, extra: readonly (string | number)[], anyGeneration = false): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => this.#request(name, extra, anyGeneration, resolve, reject));
  }

  /**
   * Runs operation `name` and checks its reply: OK goes to `done`, a lost
   * quota is registered again and the call made again, anything else (or
   * Redis failing, or silent for `timeoutMs`) goes to `fail` as StoreError.
   * Callbacks, run from the client's own reply callback: a lone caller hears
   * back in as few promise hops as the client allows.
   */
  #request(
    name: ScriptName, extra: readonly (string | number)[], anyGeneration: boolean,
    done: (reply: Reply) => void, fail: (error: unknown) => void, attempt = 0,
  ): void {
    const t0 = this.#o.clock.now();
    // Hear of losses and of the queue's head from the first call on.
    if (this.#subscribed === undefined) this.#subscribe().catch(() => {});
    const args = [
      this.#config,
      this.#s.time === 'client' ? String(t0) : '',
      anyGeneration ? '' : this.#gen,
      // The generation if this call creates the state: unique without asking the RNG on every call.
      `${this.#owner}.${++this.#seq}`,
    ];
    for (const x of extra) args.push(typeof x === 'string' ? x : String(x));
    const deadline = this.#deadline(fail);
    this.#runner.run(name, this.#stateKey, args, (reply) => {
      if (!this.#settle(deadline)) return; // too late: the call failed already
      try {
        const t1 = this.#o.clock.now();
        if (this.#s.time === 'redis') this.#sample(Number(reply[1]), t0, t1);
        this.#repliedAt = t1;
        // policy.lua's replies: a status (0 OK, 1 lost, 2 other windows), Redis's time, the generation (0: the one sent).
        // (Number(): a client may be set to answer integers as strings.)
        const status = Number(reply[0]);
        if (status === 0) {
          const gen = reply[2];
          // A generation is `owner.seq`: never 0, nor '0'.
          if (typeof gen === 'string' && gen.length > 1 && gen !== this.#gen) this.#gen = gen;
          done(reply);
        } else if (status === 1 && attempt < 3) {
          // The quota was lost and is now generation reply[2]: count this process's
          // admissions there (once, however many calls found it), then call again.
          this.#registerInto(typeof reply[2] === 'string' ? reply[2] : '')
            .then(() => this.#request(name, extra, anyGeneration, done, fail, attempt + 1), fail);
        } else if (status === 2) {
          fail(new StoreError(`the quota \`${this.#o.name}\` is held in Redis with other windows: every process sharing it must configure the same windows`, this.#runner.location));
        } else {
          fail(new StoreError(`Redis answered ${String(status)}`, this.#runner.location));
        }
      } catch (error) {
        fail(error);
      }
    }, (error) => {
      if (this.#settle(deadline)) fail(this.#failed(error));
    });
  }

  /** When the latest reply arrived (the injected clock). */
  #repliedAt = 0;

  #failed(error: unknown): StoreError {
    return error instanceof StoreError ? error
      : new StoreError(`Redis failed: ${error instanceof Error ? error.message : String(error)}`, this.#runner.location, error);
  }

  /**
   * Commands under way, in the order sent, each with when it must have been
   * answered: one timer watches the oldest (a timer set and cleared for every
   * command cost more than the rest of a call's JS together).
   */
  #deadlines: Deadline[] = [];
  #watchdog: ReturnType<typeof setTimeout> | undefined;

  /** A command sent now must be answered within `timeoutMs` (real time, not the injected clock: this bounds a network wait), or `reject` is called. */
  #deadline(reject: (reason: unknown) => void): Deadline {
    const deadline: Deadline = { at: Date.now() + this.#s.timeoutMs, reject, settled: false };
    this.#deadlines.push(deadline);
    if (this.#watchdog === undefined) this.#watch(this.#s.timeoutMs);
    return deadline;
  }

  #withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = this.#deadline(reject);
      p.then(
        (v) => { if (this.#settle(deadline)) resolve(v); },
        (e) => { if (this.#settle(deadline)) reject(this.#failed(e)); },
      );
    });
  }

  /** The command was answered: false if too late (its deadline failed it already). */
  #settle(deadline: Deadline): boolean {
    if (deadline.settled) return false;
    deadline.settled = true;
    // Answers come in order (one connection): the settled ones at the front go.
    const d = this.#deadlines;
    while (d.length > 0 && d[0]!.settled) d.shift();
    return true;
  }

  #watch(ms: number): void {
    this.#watchdog = globalThis.setTimeout(() => {
      this.#watchdog = undefined;
      const now = Date.now();
      const d = this.#deadlines;
      while (d.length > 0 && (d[0]!.settled || d[0]!.at <= now)) {
        const late = d.shift()!;
        if (late.settled) continue;
        late.settled = true;
        late.reject(new StoreError(`Redis did not answer within ${this.#s.timeoutMs} ms`, this.#runner.location));
      }
      if (d.length > 0) this.#watch(d[0]!.at - now);
    }, ms);
    (this.#watchdog as { unref?: () => void }).unref?.();
  }

  /**
   * Counts this process's admissions into generation `gen` of the quota,
   * once. Calls under way when Redis lost the quota each come back "lost"
   * (the first one made the new generation; the others were sent with the old
   * one), and its announcement (`lost <generation>`) arrives too: registering
   * for each would count the same admissions two or three times. So a
   * generation this process has registered into, or is registering into, is
   * not registered again; a failed registration is forgotten, to be tried again.
   */
  #registerInto(gen: string): Promise<void> {
    if (gen !== '' && gen === this.#gen) return Promise.resolve();
    if (gen !== '' && this.#registration?.gen === gen) return this.#registration.done;
    const done = this.#reregister();
    if (gen !== '') {
      const registration = { gen, done };
      this.#registration = registration;
      done.catch(() => {
        if (this.#registration === registration) this.#registration = undefined;
      });
    }
    return done;
  }

  /** The generation this process last registered into (or is registering into), and when that is done. */
  #registration: { gen: string; done: Promise<void> } | undefined;

  /** Redis lost the quota (or it expired): count again what this process admitted within the longest window. */
  async #reregister(records?: Admission[]): Promise<void> {
    this.#prune();
    if (records === undefined) this.#fullRegistrations++;
    const list = (records ?? this.#history).filter((r) => !r.released).sort((a, b) => a.at - b.at);
    const args: (string | number)[] = [randomId()];
    for (const r of list) args.push(r.id, r.at, r.cost, r.done, r.tracked ? '1' : '0');
    await this.#call('register', args, true);
    this.#emit('reregistered', { requests: list.length });
    // The queue went too: the next poll notices and queues this process's waiters again.
    if (this.#waiters.size > 0) queueMicrotask(() => this.#poll());
  }

  #prune(): void {
    const horizon = this.#toStore(this.#o.clock.now()) - this.#maxPerMs - this.#o.leaseMs;
    if (this.#history.length > 0 && this.#history[0]!.at < horizon) {
      this.#history = this.#history.filter((r) => Math.max(r.at, r.done) >= horizon || (r.done < 0 && r.tracked && r.at + this.#o.leaseMs >= horizon));
    }
  }

  #remember(id: string, storeAt: number, cost: number): Admission {
    const record = { id, at: storeAt, cost, done: -1, tracked: this.#o.countInFlight };
    this.#history.push(record);
    if (this.#history.length % 64 === 0) this.#prune();
    return record;
  }

  #permit(id: string, storeAt: number, cost: number): SharedPermit {
    const record = this.#remember(id, storeAt, cost);
    return new RedisPermit(this.#toLocal(storeAt), cost, async (at) => {
      const when = at === undefined ? undefined : this.#toStore(at);
      record.done = when ?? this.#toStore(this.#o.clock.now());
      if (this.#local !== undefined) return;
      const atArg = when !== undefined ? String(when) : this.#s.time === 'client' ? String(this.#o.clock.now()) : '';
      await this.#call('complete', [id, storeAt, cost, atArg]);
      // As the core pumps after a completion: it may have made room (or moved the clock) for our head.
      if (this.#waiters.size > 0) this.#poll();
    }, async () => {
      // Never sent: not counted again if Redis loses the quota.
      this.#forget(record);
      // On the local fallback Redis is out of reach: there it stays counted (in
      // flight until its lease ends), overcounted for a while, never undercounted.
      if (this.#local !== undefined) return;
      await this.#call('release', [id, storeAt, cost]);
      if (this.#waiters.size > 0) this.#poll();
    });
  }

  #forget(record: Admission): void {
    record.released = true;
  }

  #checkCost(cost: number): void {
    if (cost <= this.#minLimit) return;
    for (const [i, w] of this.#o.windows.entries()) {
      if (cost > w.limit) {
        throw new InsufficientCapacityError(`cost ${cost} exceeds window ${i}'s limit of ${w.limit}: it could never be admitted`);
      }
    }
  }

  // ---------------------------------------------------------------- fallback

  async #orFallback<T>(error: unknown, local: () => T): Promise<T> {
    if (this.#s.fallback === undefined || !(error instanceof StoreError) || this.#closed) throw error;
    this.#enterFallback(error);
    return local();
  }

  #enterFallback(error: StoreError): void {
    if (this.#local !== undefined) return;
    const share = this.#s.fallback!.share;
    const windows = this.#o.windows.map((w) => ({
      kind: w.kind, limit: Math.max(1, Math.floor(w.limit * share)), per: w.perMs, ...(w.kind === 'fixed' ? { offset: w.offsetMs } : {}),
    }));
    this.#local = new Limiter({ windows, clock: this.#o.clock, countInFlight: this.#o.countInFlight });
    this.#localSince = this.#history.length;
    this.#emit('fallback', { error, share });
    // Waiters queued in Redis continue on the local limiter.
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    this.#disarm();
    for (const w of waiters) {
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      this.#localAcquire(w.cost, w.priority, w.signal).then(w.resolve, w.reject);
    }
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    this.#probe = this.#o.clock.setTimeout(() => {
      this.#probe = undefined;
      if (this.#closed || this.#local === undefined) return;
      const records = this.#history.slice(this.#localSince);
      const before = this.#fullRegistrations;
      // Redis may have kept the quota (it was only unreachable): then count there
      // what was admitted locally. If it lost it, the call re-registers the whole
      // history, local admissions included.
      this.#call('usage', [])
        .then(() => (this.#fullRegistrations === before ? this.#reregister(records) : undefined))
        .then(() => {
          this.#local = undefined;
          this.#emit('recovered', { counted: records.length });
        }, () => this.#scheduleProbe());
    }, this.#s.fallback!.retryMs);
  }

  #wrapLocal(p: { at: number; cost: number; complete(at?: number): void; release(): void }): SharedPermit {
    const record = this.#remember(`${this.#owner}:${++this.#seq}`, this.#toStore(p.at), p.cost);
    return new RedisPermit(p.at, p.cost, async (at) => {
      record.done = this.#toStore(at ?? this.#o.clock.now());
      p.complete(at);
    }, async () => {
      this.#forget(record);
      p.release();
    });
  }

  async #localAcquire(cost: number, priority: number, signal: AbortSignal | undefined): Promise<SharedPermit> {
    const p = await this.#local!.acquire({ cost, priority, ...(signal ? { signal } : {}) });
    return this.#wrapLocal(p);
  }

  // ---------------------------------------------------------------- the API

  tryAcquire(cost = 1): Promise<SharedTryAcquireResult> {
    const slots = this.#slots;
    if (slots === undefined) return this.#tryWindows(cost);
    try {
      normalizeCost(cost);
    } catch (error) {
      return Promise.reject(error);
    }
    return tryAcquireInSlot(slots, () => this.#tryWindows(cost));
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

  /** `fn` limited: each call waits its turn in every process's shared queue. */
  wrap<A extends unknown[], R, This = unknown>(fn: (this: This, ...args: A) => R, options?: WrapOptions): (this: This, ...args: A) => Promise<Awaited<R>> {
    return wrapWith(this, fn, options);
  }

  #tryWindows(cost: number): Promise<SharedTryAcquireResult> {
    try {
      normalizeCost(cost);
      this.#checkCost(cost);
      if (this.#closed) throw closedError();
      if (this.#local !== undefined) return Promise.resolve(this.#tryLocal(cost));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<SharedTryAcquireResult>((resolve, reject) => {
      this.#tries.push({ cost, resolve, reject });
      // A lone call (nothing under way or gathering) goes at once.
      if (this.#triesInFlight === 0 && !this.#tryFlush) this.#sendTries();
      else this.#flushTries();
    });
  }

  #tryLocal(cost: number): SharedTryAcquireResult {
    const r = this.#local!.tryAcquire(cost);
    return r.ok ? { ok: true as const, permit: this.#wrapLocal(r.permit) } : r;
  }

  /**
   * tryAcquire calls made while one of this limiter's batches is under way go
   * to Redis together, in one function call that decides them in order, each
   * all or nothing (as if they had come one after another in one
   * millisecond): the round trip, the call's start and the state's reading
   * are paid once per batch, not once per decision. A lone call goes at once;
   * calls made in the same tick after it form the next batch.
   */
  #flushTries(): void {
    if (this.#tryFlush || this.#triesInFlight >= MAX_TRY_BATCHES || this.#tries.length === 0) return;
    this.#tryFlush = true;
    // Calls made in the same tick join this batch.
    queueMicrotask(() => {
      this.#tryFlush = false;
      this.#sendTries();
    });
  }

  #sendTries(): void {
    if (this.#triesInFlight >= MAX_TRY_BATCHES || this.#tries.length === 0) return;
    const batch = this.#tries.length <= MAX_TRY_BATCH ? this.#tries : this.#tries.slice(0, MAX_TRY_BATCH);
    this.#tries = this.#tries.length <= MAX_TRY_BATCH ? [] : this.#tries.slice(MAX_TRY_BATCH);
    if (this.#local !== undefined) {
      // Redis failed while these waited for their batch: the local fallback decides them.
      for (const t of batch) {
        try {
          t.resolve(this.#tryLocal(t.cost));
        } catch (error) {
          t.reject(error);
        }
      }
      return;
    }
    this.#triesInFlight++;
    const args: (string | number)[] = ['try'];
    for (const t of batch) args.push(t.cost);
    this.#request('acquire', args, false, (reply) => {
      try {
        const now = this.#repliedAt;
        for (let k = 0, i = 3; k < batch.length; k++, i += 2) {
          const t = batch[k]!;
          if (Number(reply[i]) === 1) {
            t.resolve({ ok: true, permit: this.#permit(`${this.#owner}:${++this.#seq}`, Number(reply[i + 1]), t.cost) });
          } else {
            const retryAt = this.#toLocal(Number(reply[i + 1]));
            t.resolve({ ok: false, retryAt, waitMs: retryAt - now });
          }
        }
      } finally {
        this.#triesDone();
      }
    }, (error) => {
      for (const t of batch) this.#orFallback(error, () => this.#tryLocal(t.cost)).then(t.resolve, t.reject);
      this.#triesDone();
    });
  }

  #triesDone(): void {
    this.#triesInFlight--;
    this.#flushTries();
  }

  #acquireWindows(options: AcquireOptions = {}): Promise<SharedPermit> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let cost: number;
    let priority: number;
    try {
      cost = normalizeCost(options.cost ?? 1);
      this.#checkCost(cost);
      priority = normalizePriority(options.priority ?? 0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(closedError());
    if (this.#local !== undefined) return this.#localAcquire(cost, priority, signal);
    if (this.#waiters.size >= this.#o.maxWaiters) {
      return Promise.reject(new QueueFullError(`the shared limiter's queue in this process already holds ${this.#o.maxWaiters} waiters (\`maxWaiters\`)`));
    }
    const id = `${this.#owner}:${++this.#seq}`;
    return new Promise<SharedPermit>((resolve, reject) => {
      const waiter: Waiter = { id, cost, priority, resolve, reject, signal, onAbort: undefined, queued: false };
      if (signal) {
        waiter.onAbort = () => this.#abort(id, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.set(id, waiter);
      this.#subscribe()
        .then(() => this.#call('acquire', ['queue', cost, id, this.#owner, priority]))
        .then((reply) => {
          waiter.queued = true;
          this.#onPump(reply);
          if (this.#waiters.has(id)) this.#emit('queued', { cost, priority, waiting: this.#waiters.size });
        })
        .catch((error) => {
          if (!this.#waiters.delete(id)) return;
          if (waiter.onAbort) signal!.removeEventListener('abort', waiter.onAbort);
          this.#orFallback(error, () => this.#localAcquire(cost, priority, signal)).then(resolve, reject);
        });
    });
  }

  #subscribe(): Promise<void> {
    return (this.#subscribed ??= this.#withTimeout(this.#runner.subscribe(this.#channel, (m) => this.#onMessage(m))).catch((error) => {
      this.#subscribed = undefined;
      throw error;
    }));
  }

  /** Admitted tickets of this process, then who heads the queue. */
  #onPump(reply: Reply): void {
    const n = Number(reply[3]);
    let i = 4;
    for (let k = 0; k < n; k++, i += 2) {
      const id = String(reply[i]);
      const permit = this.#permit(id, Number(reply[i + 1]), this.#costOf(id));
      const waiter = this.#waiters.get(id);
      if (waiter === undefined) {
        // Aborted while Redis admitted it: never sent, its units go back.
        permit.release().catch(() => {});
        continue;
      }
      this.#waiters.delete(id);
      if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(permit);
      this.#emit('admitted', { cost: waiter.cost, waiting: this.#waiters.size });
    }
    const headOwner = String(reply[i + 1]);
    const retry = Number(reply[i + 2]);
    const head = String(reply[i]);
    if (headOwner === this.#owner && this.#waiters.has(head)) this.#arm(retry);
    else this.#disarm();
    // Our ticket without a waiter (its caller gave up while a call was under way) must not block the queue.
    if (headOwner === this.#owner && !this.#waiters.has(head)) this.#call('cancel', [head]).catch(() => {});
    const queuedThere = Number(reply[i + 3]);
    let queuedHere = 0;
    for (const w of this.#waiters.values()) if (w.queued) queuedHere++;
    if (queuedThere < queuedHere && !this.#requeueing) void this.#requeue();
    this.#keepAlive();
  }

  #requeueing = false;
  #fullRegistrations = 0;

  /**
   * Redis lost this process's places in the queue (a restart without
   * persistence, a failover): queue its waiters again, in their order. Queueing
   * a ticket that is still there changes nothing.
   */
  async #requeue(): Promise<void> {
    this.#requeueing = true;
    try {
      for (const w of [...this.#waiters.values()]) {
        if (!w.queued || !this.#waiters.has(w.id) || this.#closed || this.#local !== undefined) continue;
        this.#onPumpQuiet(await this.#call('acquire', ['queue', w.cost, w.id, this.#owner, w.priority]));
      }
    } catch {
      // The next poll (a timer or the heartbeat) tries again.
    } finally {
      this.#requeueing = false;
    }
  }

  #onPumpQuiet(reply: Reply): void {
    const saved = this.#requeueing;
    this.#requeueing = true;
    try {
      this.#onPump(reply);
    } finally {
      this.#requeueing = saved;
    }
  }

  #costs = new Map<string, number>();
  #costOf(id: string): number {
    return this.#waiters.get(id)?.cost ?? this.#costs.get(id) ?? 1;
  }

  #onMessage(message: string): void {
    const [ticket, owner, retry] = message.split(' ');
    if (owner === this.#owner && ticket !== 'lost' && !this.#waiters.has(ticket!)) {
      this.#call('cancel', [ticket!]).catch(() => {});
      return;
    }
    if (ticket === 'lost') {
      // Another process found the quota lost: count what we admitted there now.
      // (On the local fallback, the probe for Redis does it.)
      if (owner !== undefined && owner !== '' && this.#gen !== '' && this.#local === undefined) this.#registerInto(owner).catch(() => {});
      return;
    }
    if (owner === this.#owner && this.#waiters.has(ticket!)) this.#arm(Number(retry));
  }

  /** One timer, for the head of the queue when it is ours: sleep until its exact time. */
  #arm(storeRetry: number): void {
    if (storeRetry === -1 || this.#closed) return this.#disarm(); // only a completion (announced) can make room
    const at = this.#toLocal(storeRetry);
    if (this.#timer !== undefined && this.#timerAt === at) return;
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.NaN;
      this.#poll();
    }, Math.max(0, at - this.#o.clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.NaN;
  }

  /** While this process has waiters, it renews their places now and then (and catches up on a lost message). */
  #keepAlive(): void {
    if (this.#waiters.size === 0 || this.#closed) {
      if (this.#heartbeat !== undefined) this.#o.clock.clearTimeout(this.#heartbeat);
      this.#heartbeat = undefined;
      return;
    }
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = this.#o.clock.setTimeout(() => {
      this.#heartbeat = undefined;
      this.#poll();
    }, Math.floor(this.#s.queueLeaseMs / 3));
  }

  #poll(): void {
    if (this.#closed || this.#local !== undefined) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = true;
    this.#call('acquire', ['poll', 1, '', this.#owner, 0])
      .then((reply) => {
        this.#failingSince = undefined;
        this.#onPump(reply);
      }, (error) => this.#pollFailed(error))
      .finally(() => {
        this.#polling = false;
        if (this.#pollAgain) {
          this.#pollAgain = false;
          this.#poll();
        }
      });
  }

  /** Redis failed while waiters wait: try again shortly; after `timeoutMs` of failures, fail them (or fall back). */
  #pollFailed(error: unknown): void {
    const now = Date.now();
    this.#failingSince ??= now;
    if (now - this.#failingSince < this.#s.timeoutMs && !this.#closed) {
      this.#disarm();
      this.#timer = globalThis.setTimeout(() => {
        this.#timer = undefined;
        this.#poll();
      }, 100);
      return;
    }
    this.#failingSince = undefined;
    if (this.#s.fallback !== undefined && error instanceof StoreError) return this.#enterFallback(error);
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    this.#keepAlive();
    for (const w of waiters) {
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.reject(error);
    }
  }

  #abort(id: string, reason: unknown): void {
    const waiter = this.#waiters.get(id);
    if (waiter === undefined) return;
    this.#waiters.delete(id);
    waiter.reject(reason);
    this.#emit('aborted', { cost: waiter.cost, waiting: this.#waiters.size });
    this.#costs.set(id, waiter.cost);
    this.#call('cancel', [id]).then(() => this.#costs.delete(id), () => {});
    this.#keepAlive();
  }

  async pauseUntil(at: number): Promise<void> {
    if (typeof at !== 'number' || !(at >= 0)) throw new TypeError(`\`at\` must be ms since the Unix epoch; got ${String(at)}`);
    if (this.#local !== undefined) {
      this.#local.pauseUntil(at);
    } else {
      try {
        await this.#call('pause', [this.#toStore(at)]);
      } catch (error) {
        await this.#orFallback(error, () => this.#local!.pauseUntil(at));
      }
    }
    this.#emit('paused', { until: at });
  }

  async reconcile(window: number, { remaining, resetAt }: ReconcileOptions): Promise<boolean> {
    if (!Number.isInteger(window) || window < 0 || window >= this.#o.windows.length) {
      throw new TypeError(`\`window\` must be an index from 0 to ${this.#o.windows.length - 1}; got ${String(window)}`);
    }
    if (!Number.isInteger(remaining) || remaining < 0) {
      throw new TypeError(`\`remaining\` must be an integer >= 0; got ${String(remaining)}`);
    }
    const reset = resetAt === undefined ? '' : this.#toStore(parseDuration(resetAt, 'resetAt'));
    let changed: boolean;
    if (this.#local !== undefined) {
      changed = this.#local.reconcile(window, { remaining, ...(resetAt === undefined ? {} : { resetAt }) });
    } else {
      try {
        changed = Number((await this.#call('reconcile', [window + 1, remaining, reset]))[3]) === 1;
      } catch (error) {
        changed = await this.#orFallback(error, () => this.#local!.reconcile(window, { remaining, ...(resetAt === undefined ? {} : { resetAt }) }));
      }
    }
    if (changed) this.#emit('reconciled', { window, remaining, resetAt });
    return changed;
  }

  async usage(): Promise<WindowUsage[]> {
    if (this.#local !== undefined) return this.#local.usage();
    const reply = await this.#call('usage', []);
    return this.#o.windows.map((w, i) => {
      const used = Number(reply[6 + 2 * i]);
      return { kind: w.kind, limit: w.limit, perMs: w.perMs, used, remaining: Math.max(0, w.limit - used), nextFreeAt: this.#toLocal(Number(reply[7 + 2 * i])) };
    });
  }

  async plan(n: number, { cost = 1 }: { cost?: number } = {}): Promise<number[]> {
    if (!Number.isInteger(n) || n < 0 || n > MAX_PLAN) {
      throw new TypeError(`\`n\` must be an integer from 0 to ${MAX_PLAN}; got ${String(n)}`);
    }
    normalizeCost(cost);
    this.#checkCost(cost);
    if (this.#local !== undefined) return this.#local.plan(n, { cost });
    const reply = await this.#call('plan', [n, cost]);
    return reply.slice(3).map((t) => this.#toLocal(Number(t)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    this.#keepAlive();
    if (this.#probe !== undefined) this.#o.clock.clearTimeout(this.#probe);
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) {
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.reject(closedError());
    }
    try {
      if (waiters.length > 0 && this.#local === undefined) await this.#call('cancel', waiters.map((w) => w.id));
      if (this.#subscribed !== undefined) await this.#runner.unsubscribe(this.#channel);
    } catch {
      // Closing must not fail because Redis is gone: the tickets expire on their own.
    } finally {
      this.#release();
    }
  }
}
