// A small, exact quota model shared by the test servers.
//
// The servers must be *stricter* than the clients under test, never looser: "20 per minute"
// means no 60_000 ms span ever holds 21 accepted requests. So windows are kept as exact logs
// (not token buckets, which would let a full bucket plus its refill through - see the seeds
// README), and `check()` also says exactly when one more request will fit (`retryAtMs`),
// which is what SecureCodingHub's Retry-After needs.
//
// Only requests that are accepted are recorded: a refused request does not consume quota.
// Time is expected to be (mostly) monotonic; history is pruned relative to the latest time seen.

// First index i with arr[i] > x (arr sorted ascending).
function upperBound(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function assertLimit(limit, perMs) {
  if (!Number.isInteger(limit) || limit < 0) throw new TypeError(`limit must be an integer >= 0, got ${limit}`);
  if (!(perMs > 0) || !Number.isFinite(perMs)) throw new TypeError(`perMs must be > 0, got ${perMs}`);
}

/**
 * Strict sliding log: a request recorded at t counts during [t, t + perMs).
 * count(t) = number of recorded e with t - perMs < e <= t.
 */
export function slidingLog(limit, perMs) {
  assertLimit(limit, perMs);
  const log = []; // sorted ascending; insertion keeps order even if requests are recorded out of order
  let latest = -Infinity;

  function prune(t) {
    if (t <= latest) return;
    latest = t;
    // Entries with e + perMs <= latest can never count again (for t >= latest).
    const dead = upperBound(log, latest - perMs);
    if (dead > 0) log.splice(0, dead);
  }

  function count(t) {
    prune(t);
    return upperBound(log, t) - upperBound(log, t - perMs);
  }

  return {
    kind: 'sliding',
    limit,
    perMs,
    count,
    check(t) {
      const n = count(t);
      if (n < limit) return { ok: true, count: n, limit, retryAtMs: t };
      if (limit === 0) return { ok: false, count: n, limit, retryAtMs: Infinity };
      // The live entries are log[lo .. lo+n). For one more to fit, the count must drop to
      // limit - 1, i.e. the (n - limit + 1) oldest live entries must have expired.
      const lo = upperBound(log, t - perMs);
      return { ok: false, count: n, limit, retryAtMs: log[lo + (n - limit)] + perMs };
    },
    record(t) {
      prune(t);
      log.splice(upperBound(log, t), 0, t);
    },
  };
}

/**
 * Fixed buckets aligned to the Unix epoch (+ offsetMs): bucket = floor((t - offsetMs) / perMs).
 * With perMs = 60_000 these are calendar UTC minutes (Unix time has no leap seconds), so
 * 13:42:59 and 13:43:01 fall into different buckets, as SecureCodingHub documents.
 */
export function fixedBuckets(limit, perMs, offsetMs = 0) {
  assertLimit(limit, perMs);
  const counts = new Map(); // bucket index -> accepted count
  let latestBucket = -Infinity;
  const bucketOf = (t) => Math.floor((t - offsetMs) / perMs);

  function prune(b) {
    if (b <= latestBucket) return;
    latestBucket = b;
    for (const k of counts.keys()) if (k < b) counts.delete(k);
  }

  function count(t) {
    const b = bucketOf(t);
    prune(b);
    return counts.get(b) ?? 0;
  }

  return {
    kind: 'fixed',
    limit,
    perMs,
    offsetMs,
    bucketOf,
    bucketStartMs: (t) => bucketOf(t) * perMs + offsetMs,
    count,
    check(t) {
      const n = count(t);
      if (n < limit) return { ok: true, count: n, limit, retryAtMs: t };
      if (limit === 0) return { ok: false, count: n, limit, retryAtMs: Infinity };
      return { ok: false, count: n, limit, retryAtMs: (bucketOf(t) + 1) * perMs + offsetMs };
    },
    record(t) {
      const b = bucketOf(t);
      prune(b);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    },
  };
}

/**
 * Several named windows per key, checked all-or-nothing: a request is accepted only if every
 * window has room, and then it is recorded in every window.
 *
 *   const q = new Quota({ minute: () => slidingLog(20, 60_000), hour: () => slidingLog(60, 3_600_000) });
 *   q.take('token-a', clock.now()) // => { ok, retryAtMs, window, limit, windows }
 *
 * On refusal, `retryAtMs` is the max over the refusing windows (each window only frees up as
 * time passes, so that is the earliest instant all of them have room) and `window`/`limit`
 * name the window that determines it (ties: the first declared, i.e. usually the narrowest).
 */
export class Quota {
  #factories;
  #byKey = new Map(); // key -> { name: window }, created lazily on first use

  constructor(factories) {
    const entries = Object.entries(factories ?? {});
    if (entries.length === 0) throw new TypeError('Quota needs at least one window factory');
    for (const [name, f] of entries) {
      if (typeof f !== 'function') throw new TypeError(`window factory "${name}" must be a function`);
    }
    this.#factories = entries;
  }

  windowsFor(key) {
    let w = this.#byKey.get(key);
    if (!w) {
      w = Object.fromEntries(this.#factories.map(([name, make]) => [name, make()]));
      this.#byKey.set(key, w);
    }
    return w;
  }

  keys() {
    return [...this.#byKey.keys()];
  }

  check(key, t) {
    const windows = {};
    let decision = { ok: true, retryAtMs: t, window: null, limit: null };
    for (const [name, w] of Object.entries(this.windowsFor(key))) {
      const r = w.check(t);
      windows[name] = r;
      if (!r.ok && (decision.ok || r.retryAtMs > decision.retryAtMs)) {
        decision = { ok: false, retryAtMs: r.retryAtMs, window: name, limit: r.limit };
      }
    }
    return { ...decision, windows };
  }

  record(key, t) {
    for (const w of Object.values(this.windowsFor(key))) w.record(t);
  }

  /** check(), and if every window has room, record the request in all of them. */
  take(key, t) {
    const d = this.check(key, t);
    if (d.ok) this.record(key, t);
    return d;
  }

  /** { name: { current, limit } } for each window at time t (what Hexagraph's /rate-limit shows). */
  usage(key, t) {
    const out = {};
    for (const [name, w] of Object.entries(this.windowsFor(key))) out[name] = { current: w.count(t), limit: w.limit };
    return out;
  }
}
