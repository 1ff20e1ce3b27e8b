/**
 * The feedback module (src/wasm_feedback.rs): header parsing and retry
 * decisions, a wasm module of its own. Only what reads server feedback or
 * retries imports this file (fetch.ts, feedback.ts), so a bundle of
 * `import { Limiter }` carries neither this code nor the module's bytes.
 *
 * The module is compiled from its inlined bytes on first use, synchronously
 * (it is small: Chromium compiles modules up to 8 MB on the main thread), in
 * every runtime but Cloudflare Workers, whose entry hands it over compiled
 * (`provideFeedbackModule`). Like the limiter module it imports nothing and
 * exports plain functions: text goes in as UTF-8 bytes written into its memory,
 * results come back as numbers (and name bytes) read here and shaped into
 * objects; a bad argument comes back as NaN and an error code, and the message
 * is built here. Every decision is the core's.
 */
import type { CoreRetryPlanner, Feedback, ServerWindow } from '../core.js';
import bytes from './tollgate_feedback.js';

/** The module's exports (times are ms since the Unix epoch; -1: absent). */
interface FeedbackExports {
  // Structural types, not WebAssembly's: the package's declarations must not need DOM or Node types.
  memory: { readonly buffer: ArrayBuffer };
  __stack_pointer: { value: number };
  tf_out(): number;
  tf_names(): number;
  tf_input(len: number): number;
  tf_parse(len: number, nowMs: number): number;
  tf_reason(code: number): number;
  tf_policy(maxAttempts: number, baseMs: number, capMs: number, maxTotalMs: number, retryAfterJitterMs: number,
    maxRetryAfterMs: number, budgetMaxTokens: number, budgetTokenRatio: number): number;
  tf_decide(maxAttempts: number, baseMs: number, capMs: number, maxTotalMs: number, retryAfterJitterMs: number,
    maxRetryAfterMs: number, budgetMaxTokens: number, budgetRatioMilli: number, budgetTokensMilli: number,
    attempt: number, status: number, idempotent: number, hasKey: number, retryAtMs: number, nowMs: number,
    startedMs: number, random: number): number;
  tf_success(budgetMaxTokens: number, budgetRatioMilli: number, budgetTokensMilli: number): number;
}

let x: FeedbackExports | undefined;
let compiled: unknown;
/** The stack pointer between calls. */
let stackTop = 0;

/**
 * Hands over the module compiled already, for runtimes that forbid compiling
 * wasm from bytes (Cloudflare Workers: js/src/workerd.ts). Before first use.
 */
export function provideFeedbackModule(module: unknown): void {
  compiled = module;
}

/**
 * Calls `f` on the module (instantiated on first use). A throw (a trap: the JS
 * stack ran out inside wasm) may leave the shadow stack pointer where the
 * abandoned call moved it: it is put back. The module keeps no other state a
 * trap could break (src/wasm_feedback.rs).
 */
function call<T>(f: (x: FeedbackExports) => T): T {
  if (x === undefined) {
    const module = (compiled ?? new WebAssembly.Module(bytes())) as WebAssembly.Module;
    x = new WebAssembly.Instance(module, {}).exports as unknown as FeedbackExports;
    stackTop = x.__stack_pointer.value;
  }
  try {
    return f(x);
  } catch (error) {
    x.__stack_pointer.value = stackTop;
    throw error;
  }
}

/** `n` numbers of the output area (read after the call: memory may have grown during it). */
const out = (m: FeedbackExports, n: number): Float64Array => {
  const at = m.tf_out();
  return new Float64Array(m.memory.buffer, at, n);
};

const utf8 = (m: FeedbackExports, at: number, length: number): string =>
  new TextDecoder().decode(new Uint8Array(m.memory.buffer, at, length));

/**
 * What `headers` (`name: value` lines, lower-case names, separated by `\n`)
 * say about the server's limits at `nowMs`; `null` when `nowMs` is not a valid time.
 */
export function parseFeedback(headers: string, nowMs: number): Feedback | null {
  return call((m) => {
    const text = new TextEncoder().encode(headers);
    const at = m.tf_input(text.length); // first: it may grow the memory, detaching any view taken before
    new Uint8Array(m.memory.buffer, at, text.length).set(text);
    const n = m.tf_parse(text.length, nowMs);
    if (n < 0) return null;
    const o = out(m, n);
    const names = m.tf_names();
    const feedback = {} as Feedback;
    if (o[0]! >= 0) feedback.retryAtMs = o[0]!;
    if (o[2]) feedback.serverOffsetMs = o[1]!;
    feedback.windows = [];
    for (let i = 3; i < n; i += 6) {
      const w: ServerWindow = {};
      if (o[i + 5]! >= 0) w.name = utf8(m, names + o[i + 4]!, o[i + 5]!);
      if (o[i]! >= 0) w.limit = o[i]!;
      if (o[i + 1]! >= 0) w.remaining = o[i + 1]!;
      if (o[i + 2]! >= 0) w.resetAtMs = o[i + 2]!;
      if (o[i + 3]! >= 0) w.windowMs = o[i + 3]!;
      feedback.windows.push(w);
    }
    return feedback;
  });
}

/** Why a request is not retried, for a give-up code (`RetryPlanner.decide`'s negative results). */
export function giveUpReason(code: number): string {
  return call((m) => {
    const at = m.tf_reason(code);
    const length = out(m, 1)[0]!;
    return length > 0 ? utf8(m, at, length) : 'not a give-up code';
  });
}

const MAX_TIME_MS = Number.MAX_SAFE_INTEGER;
const POLICY = ['maxAttempts', 'baseMs', 'capMs', 'maxTotalMs', 'retryAfterJitterMs', 'maxRetryAfterMs', 'budgetMaxTokens', 'budgetTokenRatio'];
const ATTEMPT = ['attempt', 'status', 'idempotent', 'hasKey', 'retryAtMs', 'nowMs', 'startedMs', 'random'];

/** The error behind a NaN: `[kind, argument]` in the output area (src/wasm_feedback.rs names the kinds). */
function argumentError(m: FeedbackExports, names: string[]): TypeError {
  const [kind, i] = out(m, 2);
  const name = `\`${names[i!]}\``;
  switch (kind) {
    case 1: return new TypeError(`${name} must be a whole number from 1 to ${2 ** 32 - 1}`);
    case 2: return new TypeError(`${name} must be a whole number of milliseconds from 0 to ${MAX_TIME_MS}`);
    case 3: return new TypeError(`${name} must be a number of tokens per success from 0 to ${Math.floor((2 ** 32 - 1) / 1000)}`);
    case 4: return new TypeError(`${name} must be an HTTP status from 1 to 65535, 0 (a network error before any response) or -1 (one after the response started)`);
    default: return new TypeError(`${name} must be a finite number of milliseconds since the Unix epoch, from 0 to ${MAX_TIME_MS}`);
  }
}

/**
 * A retry policy and its retry budget (src/retry.rs). The budget's count is
 * kept here and passed in with each decision, so the module holds no planner
 * and nothing needs freeing.
 */
export class RetryPlanner implements CoreRetryPlanner {
  /** The policy as the core checked it, then the budget: max tokens, ratio (thousandths), tokens left (thousandths). */
  readonly #p: number[];

  /** `maxTotalMs`: Infinity for no limit; `budgetTokenRatio`: tokens per success (0.1). */
  constructor(maxAttempts: number, baseMs: number, capMs: number, maxTotalMs: number, retryAfterJitterMs: number,
    maxRetryAfterMs: number, budgetMaxTokens: number, budgetTokenRatio: number) {
    this.#p = call((m) => {
      const r = m.tf_policy(maxAttempts, baseMs, capMs, maxTotalMs, retryAfterJitterMs, maxRetryAfterMs, budgetMaxTokens, budgetTokenRatio);
      if (r !== r) throw argumentError(m, POLICY);
      return Array.from(out(m, 9));
    });
  }

  /**
   * The time to retry at (>= 0), or a give-up code (< 0, see `giveUpReason`).
   * `status` 0: a network error before any response, -1: one after the
   * response started. `retryAtMs` < 0: the server gave no time.
   */
  decide(attempt: number, status: number, idempotent: boolean, hasKey: boolean, retryAtMs: number, nowMs: number,
    startedMs: number, random: number): number {
    const p = this.#p;
    return call((m) => {
      const r = m.tf_decide(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!,
        attempt, status, idempotent ? 1 : 0, hasKey ? 1 : 0, retryAtMs, nowMs, startedMs, random);
      if (r !== r) throw argumentError(m, ATTEMPT);
      p[8] = out(m, 1)[0]!;
      return r;
    });
  }

  /** Counts a success: gives the budget back its ratio of a token. */
  onSuccess(): void {
    const p = this.#p;
    // A full budget stays full (the core adds up to the maximum): most
    // responses are successes, and this one needs no call into the module.
    if (p[8]! >= p[6]! * 1_000) return;
    p[8] = call((m) => m.tf_success(p[6]!, p[7]!, p[8]!));
  }
}
