/**
 * Listening to the server: read the headers that describe its limits (parsed
 * in the core, so Node and browsers agree) and fold them into a limiter.
 */
import type { Feedback, ServerWindow } from './core.js';
import { parseFeedback } from './wasm/feedback.js';
import type { Limiter } from './limiter.js';

/** The headers the core reads; anything else is not passed across. */
const NAMES = [
  'date', 'retry-after',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-window',
  'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset', 'x-rate-limit-window',
  'ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset',
];


/** One header as a line of the text the core parses: a line break inside a value would start another header. */
function headerLine(name: string, value: string): string {
  return `${name}: ${value.replace(/[\r\n]/g, ' ')}\n`;
}

/**
 * What the response says about limits, or `null` when it says nothing beyond a Date.
 * `sentAtMs`: when its request was sent; a Date behind ours by up to a second
 * and the trip is then read as clocks in step (see `src/headers.rs`), so that a
 * slow answer does not move an epoch reset a second later than the server meant.
 */
export function readFeedback(headers: Headers, nowMs: number, sentAtMs?: number): Feedback | null {
  // Asked by name, the Date only when something else was found. Not one pass
  // over the headers: alone that costs about as much, but in a fetch it runs
  // undici's iteration and sorting code, which fetch itself never runs, cold
  // on every response, while `get` is close to fetch's own path (in
  // tests/bench/fetch-overhead.mjs `forEach` cost about twice what the gets do).
  let found: (string | null)[] | undefined;
  for (let i = 1; i < NAMES.length; i++) {
    const value = headers.get(NAMES[i]!);
    if (value !== null) (found ??= [])[i] = value;
  }
  if (found === undefined) return null;
  found[0] = headers.get(NAMES[0]!);
  let text = '';
  for (let i = 0; i < NAMES.length; i++) {
    const value = found![i];
    if (value != null) text += headerLine(NAMES[i]!, value);
  }
  // Not a header (only NAMES are copied from the response): the core's name for the send time.
  if (sentAtMs !== undefined && Number.isFinite(sentAtMs) && sentAtMs >= 0) text += `tollgate-sent-at: ${Math.floor(sentAtMs)}\n`;
  return parseFeedback(text, nowMs);
}

/**
 * What a response's headers say about the server's limits, decoded in the core:
 * Retry-After, `X-RateLimit-*`, the IETF `RateLimit` fields and `Date` (the
 * server's clock offset), with times on the client clock. Malformed values are
 * left out; nothing throws.
 */
export function parseRateLimitHeaders(headers: Headers, nowMs: number = Date.now()): Feedback {
  let text = '';
  for (const name of NAMES) {
    const value = headers.get(name);
    if (value !== null) text += headerLine(name, value);
  }
  return parseFeedback(text, nowMs) ?? { windows: [] };
}

/** `Date` minus our clock when the response arrived, ms; undefined without a valid Date. */
function dateOffset(headers: Headers, nowMs: number, feedback: Feedback | null): number | undefined {
  if (feedback?.serverOffsetMs !== undefined) return feedback.serverOffsetMs;
  const date = headers.get('date');
  if (date === null) return undefined;
  return parseFeedback(headerLine('date', date), nowMs)?.serverOffsetMs ?? undefined;
}

/**
 * What the `Date` headers of a scope's responses say about the server's clock.
 * Date has whole seconds and is stamped before the response travels, so each
 * response bounds the offset: `date - arrival <= offset <= date + 1 s + trip -
 * arrival`. The bounds only narrow; the offset used is the one in them closest
 * to 0 (clocks in step unless shown otherwise), and the bounds' width is how far
 * a fixed window's boundaries may still be off.
 */
export class ServerClock {
  #lo = Number.NEGATIVE_INFINITY;
  #hi = Number.POSITIVE_INFINITY;
  #applied: [number, number] | undefined;

  /** The offset applied last (0 before any). */
  get offset(): number {
    return this.#applied?.[0] ?? 0;
  }

  /** The offset and its uncertainty to apply now, or undefined when nothing changed enough. */
  observe(headers: Headers, sentAt: number, arrivedAt: number, feedback: Feedback | null): [number, number] | undefined {
    const offset = dateOffset(headers, arrivedAt, feedback);
    if (offset === undefined) return undefined;
    const hi = offset + 1_000 + Math.max(0, arrivedAt - sentAt);
    if (offset > this.#hi || hi < this.#lo) {
      // Inconsistent with what we knew: a clock was set. Start again.
      this.#lo = Number.NEGATIVE_INFINITY;
      this.#hi = Number.POSITIVE_INFINITY;
    }
    this.#lo = Math.max(this.#lo, offset);
    this.#hi = Math.min(this.#hi, hi);
    const use = Math.min(Math.max(0, this.#lo), this.#hi);
    const uncertainty = Math.min(2_000, this.#hi - this.#lo);
    const last = this.#applied;
    if (last !== undefined && last[0] === use && Math.abs(last[1] - uncertainty) < 250) return undefined;
    this.#applied = [use, uncertainty];
    return this.#applied;
  }
}

/**
 * The index of the window of `ours` that a server window speaks of: the one of
 * the same period, else of the same limit, else the only one; -1 for none.
 */
export function matchWindow(ours: readonly { perMs: number; limit: number }[], w: ServerWindow): number {
  let i = w.windowMs === undefined ? -1 : ours.findIndex((o) => o.perMs === w.windowMs);
  if (i < 0 && w.limit !== undefined) i = ours.findIndex((o) => o.limit === w.limit);
  if (i < 0 && ours.length === 1) i = 0;
  return i;
}

/**
 * Adopts the server's remaining counts where they are lower than ours: each server window is matched to the
 * limiter window of the same period, else of the same limit, else to the only
 * window. Returns the indexes of the windows that changed.
 */
export function reconcileWith(limiter: Limiter, feedback: Feedback): number[] {
  const ours = limiter.usage();
  const changed: number[] = [];
  for (const w of feedback.windows) {
    if (w.remaining === undefined) continue;
    const i = matchWindow(ours, w);
    if (i < 0) continue;
    // Only a server counting more than we do changes anything: its reset is
    // often rounded up to whole seconds, and holding our own count until then
    // would wait for nothing.
    if (w.remaining >= ours[i]!.remaining) continue;
    if (limiter.reconcile(i, { remaining: w.remaining, resetAt: w.resetAtMs })) changed.push(i);
  }
  return changed;
}

/**
 * When a refusing server said to come back: Retry-After, else the latest reset
 * of a window it reports as empty. `undefined` when it did not say.
 */
export function comeBackAt(feedback: Feedback | null): number | undefined {
  if (feedback === null) return undefined;
  if (feedback.retryAtMs !== undefined) return feedback.retryAtMs;
  let at: number | undefined;
  for (const w of feedback.windows) {
    if (w.remaining === 0 && w.resetAtMs !== undefined) at = Math.max(at ?? 0, w.resetAtMs);
  }
  return at;
}

/**
 * Plausibility bounds on the server's times: a reset further than `maxMs`
 * from `now` is not adopted as it is. A window it says is empty (remaining 0)
 * is left out of `feedback` and its reset returned, for the scope to refuse
 * calls until then (bounded); any other such reset is brought to `now + maxMs`.
 * Changes `feedback` in place. Returns the latest such empty window's reset.
 */
export function boundFeedback(feedback: Feedback, now: number, maxMs: number): number | undefined {
  let refuseUntil: number | undefined;
  const bound = now + maxMs;
  feedback.windows = feedback.windows.filter((w) => {
    if (w.resetAtMs === undefined || w.resetAtMs <= bound) return true;
    if (w.remaining === 0) {
      refuseUntil = Math.max(refuseUntil ?? 0, w.resetAtMs);
      return false;
    }
    w.resetAtMs = bound;
    return true;
  });
  return refuseUntil;
}
