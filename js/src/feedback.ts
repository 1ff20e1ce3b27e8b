/**
 * Listening to the server: read the headers that describe its limits (parsed
 * in the core, so Node and browsers agree) and fold them into a limiter.
 */
import { core, type Feedback } from './core.js';
import type { Limiter } from './limiter.js';

/** The headers the core reads; anything else is not passed across. */
const NAMES = [
  'date', 'retry-after',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-window',
  'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset', 'x-rate-limit-window',
  'ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset',
];

/** What the response says about limits, or `null` when it says nothing beyond a Date. */
export function readFeedback(headers: Headers, nowMs: number): Feedback | null {
  let text = '';
  let any = false;
  for (const name of NAMES) {
    const value = headers.get(name);
    if (value === null) continue;
    text += `${name}: ${value.replace(/[\r\n]/g, ' ')}\n`;
    if (name !== 'date') any = true;
  }
  return any ? core().parseFeedback(text, nowMs) : null;
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
    if (value !== null) text += `${name}: ${value.replace(/[\r\n]/g, ' ')}\n`;
  }
  return core().parseFeedback(text, nowMs) ?? { windows: [] };
}

/**
 * Adopts the server's remaining counts: each server window is matched to the
 * limiter window of the same period, else of the same limit, else to the only
 * window. Returns the indexes of the windows that changed.
 */
export function reconcileWith(limiter: Limiter, feedback: Feedback): number[] {
  const ours = limiter.usage();
  const changed: number[] = [];
  for (const w of feedback.windows) {
    if (w.remaining === undefined) continue;
    let i = w.windowMs === undefined ? -1 : ours.findIndex((o) => o.perMs === w.windowMs);
    if (i < 0 && w.limit !== undefined) i = ours.findIndex((o) => o.limit === w.limit);
    if (i < 0 && ours.length === 1) i = 0;
    if (i < 0) continue;
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
