/**
 * `checkHeadroom(fetch, url, limiter, { n })`: Hexagraph's "call GET
 * /rate-limit before initiating large batch operations", done right. It reads
 * the server's counts, makes the limiter adopt them (another process or
 * machine on the same IP may have spent some), and says whether a batch of `n`
 * fits in both windows now, and if not, when.
 *
 * Pass the plain `fetch`, not a `rateLimitedFetch` whose route covers
 * `/rate-limit`: the server does not count this read, so neither should the
 * limiter.
 */
import type { Limiter } from '../limiter.js';
import { HeadroomError } from './errors.js';
import { type HeadroomOptions, normalizeHeadroomOptions } from './options.js';

type FetchLike = (input: any, init?: any) => Promise<Response>;

/** One of the server's windows, as `/rate-limit` reported it. */
export interface WindowHeadroom {
  /** Requests the server counts in the window now. */
  current: number;
  limit: number;
  /** `limit - current`, never below 0. */
  remaining: number;
}

export interface Headroom {
  /** The batch size asked about. */
  n: number;
  /** All n can be sent now: both of the server's windows and the limiter have room for them. */
  fits: boolean;
  minute: WindowHeadroom;
  day: WindowHeadroom;
  /**
   * n is within every window's limit, so the n can ever be sent at once.
   * When false, the batch can only be spread out, and `earliestAt` says when its last request goes.
   */
  inOneGo: boolean;
  /**
   * When the batch fits, ms since the epoch. With `inOneGo`: when all n can be
   * sent at once (`limiter.earliest(n)`). Otherwise: when the n-th request is
   * admitted if the n are sent one after another, each as soon as the limiter
   * admits it. Requests already queued in the limiter are not counted.
   */
  earliestAt: number;
  /** `earliestAt - now`: 0 when the batch fits now. */
  waitMs: number;
  /** Whether the server's counts were higher than the limiter's and were adopted. */
  reconciled: boolean;
}

/** Hexagraph's windows, matched with the limiter's windows by their period. */
const SERVER_WINDOWS = [['minute', 60_000], ['day', 86_400_000]] as const;
type WindowName = (typeof SERVER_WINDOWS)[number][0];

export async function checkHeadroom(fetch: FetchLike, url: string | URL, limiter: Limiter, options?: HeadroomOptions): Promise<Headroom> {
  const { n, signal, clock } = normalizeHeadroomOptions(options);
  if (typeof fetch !== 'function') throw new TypeError('`fetch` must be a fetch function, e.g. globalThis.fetch');
  if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('`url` must be the /rate-limit URL, e.g. \'https://hexagraph-core.onrender.com/rate-limit\'');
  const usage = typeof limiter?.usage === 'function' ? limiter.usage() : undefined;
  if (usage === undefined) throw new TypeError('`limiter` must be a tollgate Limiter');
  const matched = {} as Record<WindowName, number[]>;
  for (const [name, perMs] of SERVER_WINDOWS) {
    matched[name] = usage.flatMap((w, i) => (w.perMs === perMs ? [i] : []));
    if (matched[name].length === 0) {
      throw new TypeError(`\`limiter\` has no window of ${perMs} ms to match Hexagraph's ${name} window; give it { limit: 30, per: '1m' } and { limit: 1000, per: '1d' }`);
    }
  }

  const response = await fetch(url, { headers: { accept: 'application/json' }, signal });
  const server = await readRateLimit(response, String(url));

  let reconciled = false;
  for (const [name] of SERVER_WINDOWS) {
    for (const i of matched[name]) {
      // Adopt the server's count, not its remaining: the limiter's limit may be set below the server's, for headroom.
      const remaining = Math.max(0, usage[i]!.limit - server[name].current);
      reconciled = limiter.reconcile(i, { remaining }) || reconciled;
    }
  }

  const now = clock.now();
  const inOneGo = n <= Math.min(...usage.map((w) => w.limit), server.minute.limit, server.day.limit);
  const earliestAt = inOneGo ? Math.max(now, limiter.earliest(n)) : lastAdmission(limiter, n, now);
  const fits = inOneGo && earliestAt <= now && n <= server.minute.remaining && n <= server.day.remaining;
  return { n, fits, minute: server.minute, day: server.day, inOneGo, earliestAt, waitMs: Math.max(0, earliestAt - now), reconciled };
}

async function readRateLimit(response: Response, url: string): Promise<Record<WindowName, WindowHeadroom>> {
  const fail = (what: string, cause?: unknown) =>
    new HeadroomError(`GET ${url}: ${what}`, { request: new Request(url), response, ...(cause === undefined ? {} : { cause }) });
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw fail(`the server answered ${response.status} ${response.statusText}`.trimEnd());
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw fail('the answer is not JSON', error);
  }
  const rateLimit = (body as { rateLimit?: unknown } | null)?.rateLimit;
  if (typeof rateLimit !== 'object' || rateLimit === null) throw fail('the answer has no `rateLimit` object');
  const out = {} as Record<WindowName, WindowHeadroom>;
  for (const [name] of SERVER_WINDOWS) {
    const w = (rateLimit as Record<string, unknown>)[name] as { current?: unknown; limit?: unknown } | undefined;
    if (typeof w !== 'object' || w === null) throw fail(`the answer has no \`rateLimit.${name}\` object`);
    const { current, limit } = w;
    if (typeof current !== 'number' || !Number.isInteger(current) || current < 0) {
      throw fail(`\`rateLimit.${name}.current\` must be an integer >= 0; got ${JSON.stringify(current)}`);
    }
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw fail(`\`rateLimit.${name}.limit\` must be an integer >= 1; got ${JSON.stringify(limit)}`);
    }
    out[name] = { current, limit, remaining: Math.max(0, limit - current) };
  }
  return out;
}

/**
 * When the n-th of n requests sent one after another would be admitted: a
 * copy of the limiter on a clock of its own, moved to each time it names.
 * Steps take as many as every window has room for at once, so a batch of
 * thousands takes a handful of steps, not thousands.
 */
function lastAdmission(limiter: Limiter, n: number, now: number): number {
  let t = now;
  const clock = { now: () => t, setTimeout: () => undefined, clearTimeout: () => {} };
  // The limiter's own class: the copy shares its wasm core, whichever copy of the package made it.
  const copy = (limiter.constructor as typeof Limiter).restore(limiter.snapshot(), { clock });
  let admitted = 0;
  let last = now;
  while (admitted < n) {
    // Usage is as of the copy's last call; it only falls as time passes, so this room is never too large.
    const room = Math.max(1, Math.min(n - admitted, ...copy.usage().map((w) => w.remaining)));
    let r = copy.tryAcquire(room);
    let took = room;
    if (!r.ok && room > 1) {
      r = copy.tryAcquire(1);
      took = 1;
    }
    if (r.ok) {
      admitted += took;
      last = t;
    } else {
      if (!(r.retryAt > t) || r.retryAt === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
      t = r.retryAt;
    }
  }
  return last;
}
