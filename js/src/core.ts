/**
 * The small interface the hand-written JS needs from the limiter module. Each
 * runtime's entry point (node.ts, browser.ts, inline.ts, workerd.ts) loads it
 * and hands it over with `useCore`. (The feedback module, header parsing and
 * retries, is loaded on first use by wasm/feedback.ts.)
 *
 * The limiter module (`src/wasm.rs`) exports plain functions over handles and
 * imports nothing, so no JavaScript runs while one of its frames is on the
 * stack: every input is read and checked here or in limiter.ts first, and only
 * numbers cross. When a call throws anyway (the JS stack ran out inside wasm, or
 * a bug trapped), `rewind` puts the shadow stack pointer back where it was
 * between calls before the next one. A full stack never cuts a change short
 * (the wasm side's stack probe traps before anything changes); a limiter a
 * panic left half changed fails every later call with a named error.
 */
import { coreError } from './errors.js';

/** The limiter module's exports. Times are ms since the Unix epoch; NaN means an error (see `tg_error`). */
export interface LimiterExports {
  // Structural types, not WebAssembly's: the package's declarations must not need DOM or Node types.
  memory: { readonly buffer: ArrayBuffer };
  __stack_pointer: { value: number };
  tg_scratch(n: number): number;
  tg_error(): number;
  tg_new(windows: number, maxWaiters: number, countInFlight: number): number;
  tg_free(h: number): void;
  tg_try_acquire(h: number, now: number, cost: number): number;
  tg_enqueue(h: number, cost: number, priority: number): number;
  tg_admit_next(h: number, now: number): number;
  tg_cancel(h: number, id: number): number;
  tg_complete(h: number, permitAt: number, cost: number, at: number, now: number): number;
  tg_release(h: number, permitAt: number, cost: number): number;
  tg_pause_until(h: number, until: number): number;
  tg_reconcile(h: number, window: number, remaining: number, resetAt: number, now: number): number;
  tg_advance(h: number, now: number): number;
  tg_align(h: number, offset: number, uncertainty: number): number;
  tg_next_wake(h: number): number;
  tg_in_flight(h: number): number;
  tg_waiters(h: number): number;
  tg_paused_until(h: number): number;
  tg_clock(h: number): number;
  tg_used(h: number, window: number): number;
  tg_window_earliest(h: number, window: number): number;
  tg_earliest(h: number, cost: number): number;
  tg_plan(h: number, now: number, n: number, cost: number): number;
  tg_snapshot(h: number): number;
  tg_restore(len: number, windows: number, maxWaiters: number, countInFlight: number): number;
}

/** What a response said about the server's limits (times on the client clock). */
export interface Feedback {
  retryAtMs?: number;
  serverOffsetMs?: number;
  windows: ServerWindow[];
}

export interface ServerWindow {
  name?: string;
  limit?: number;
  remaining?: number;
  resetAtMs?: number;
  windowMs?: number;
}

/** The core's retry decision, with the wrapper's shared retry budget. */
export interface CoreRetryPlanner {
  /** The retry time (>= 0), or a give-up code (< 0). status 0: network error before any response. */
  decide(attempt: number, status: number, idempotent: boolean, hasKey: boolean, retryAtMs: number, nowMs: number,
    startedMs: number, random: number): number;
  onSuccess(): void;
}

/**
 * The limiter module's exports (a live binding: set by `useCore` before any
 * limiter exists; the hot paths in limiter.ts call them directly).
 */
export let wasm = undefined as unknown as LimiterExports;
let x: LimiterExports | undefined;
/** The stack pointer between calls, when no wasm frame is live. */
let stackTop = 0;
let f64: Float64Array = new Float64Array(0);

const NOT_LOADED = 'tollgate: the wasm core is not loaded; import the package entry point, not an inner file';

export function useCore(limiter: { exports: object }): void {
  x = wasm = limiter.exports as unknown as LimiterExports;
  stackTop = x.__stack_pointer.value as number;
}

/** The limiter module. */
export function exportsOf(): LimiterExports {
  if (x === undefined) throw new Error(NOT_LOADED);
  return x;
}

/**
 * Set when a call into the limiter module threw: the shadow stack pointer may
 * be left where the abandoned call had moved it. The catch blocks only set this
 * flag (calling anything there could overflow the stack again); the next call
 * puts the pointer back first, with `rewind()`.
 */
export const boundary = { unwound: false };

/** Puts the stack pointer back where it is between calls (no wasm frame is live here). */
export function rewind(): void {
  x!.__stack_pointer.value = stackTop;
  boundary.unwound = false;
}

/** The scratch buffer with room for `n` numbers, as a view (valid until the next call). */
export function scratch(n: number): Float64Array {
  const at = call((x) => x.tg_scratch(n));
  return view(at, n);
}

/** `n` numbers the last call left in the scratch buffer. */
export function scratchOut(n: number): Float64Array {
  return view(call((x) => x.tg_scratch(0)), n);
}

function view(at: number, n: number): Float64Array {
  if (f64.buffer !== x!.memory.buffer) f64 = new Float64Array(x!.memory.buffer);
  return f64.subarray(at / 8, at / 8 + n);
}

/** The error behind the NaN the last call returned, as this package's error. */
export function lastError(): Error {
  const e = view(call((x) => x.tg_error()), 7);
  const [code, window, value, bound, detail, at, len] = e as unknown as number[];
  let text = '';
  const bytes = new Uint8Array(x!.memory.buffer, at, len);
  for (const byte of bytes) text += String.fromCharCode(byte);
  return coreError(code!, window!, value!, bound!, detail!, text);
}

/** A handle that names no limiter (`tg_*` return NaN for it). */
export const DISPOSED = 2 ** 32 - 1;

/**
 * Calls `f` on the limiter module; a NaN result becomes the error it stands
 * for. The hot paths in limiter.ts inline this.
 */
export function call(f: (x: LimiterExports) => number): number {
  if (boundary.unwound) rewind();
  let r: number;
  try {
    r = f(x!);
  } catch (error) {
    boundary.unwound = true;
    throw error;
  }
  if (r !== r) throw lastError();
  return r;
}

/** Frees limiters the program dropped without `dispose()`. */
/** (Cloudflare Workers have no FinalizationRegistry: there only `dispose()` frees.) */
export const finalizer: Pick<FinalizationRegistry<number>, 'register' | 'unregister'> = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<number>((h) => {
    call((x) => (x.tg_free(h), 0));
  })
  : { register() {}, unregister: () => false };
