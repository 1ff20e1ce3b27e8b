// A fake SecureCodingHub API enforcing shared/seeds/securecodinghub-rate-limits.txt, per API
// key (Authorization: Bearer): 60 per calendar minute (UTC, fixed buckets aligned to the Unix
// epoch: 13:42:59 and 13:43:01 are different buckets) AND 1,000 per true sliding hour.
// Both windows are checked on every request, all-or-nothing.
//
// A refusal is 429 {"error":"rate_limited"} with:
// - Retry-After: the smallest safe delay in whole seconds, rounded UP from the exact instant
//   every window has room again (next minute boundary, and/or when the oldest counted request
//   in the hour leaves it). Measured from the request's arrival, so it stays safe whatever the
//   response latency. Never 0: a refused request always has a strictly later retry instant.
// - X-RateLimit-Window / X-RateLimit-Limit: the window that determines Retry-After (when both
//   trip, the one that frees up last; on a tie, per_minute).
//
// Assumptions (the seed does not say): refused requests are not counted; every authenticated
// request counts whatever its path or method; a missing key is 401 {"error":"unauthorized"}.
import { systemClock } from './clock.mjs';
import { serve } from './http.mjs';
import { Quota, fixedBuckets, slidingLog } from './quota.mjs';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export async function startSecureCodingHubServer({
  clock = systemClock,
  port = 0,
  host = '127.0.0.1',
  perMinute = 60,
  perHour = 1000,
  latencyMs, // optional () => number: real-time delay before responding (does not move arrival time)
} = {}) {
  // Names double as the X-RateLimit-Window header values.
  const quota = new Quota({ per_minute: () => fixedBuckets(perMinute, MINUTE), per_hour: () => slidingLog(perHour, HOUR) });

  function route(req, at, path) {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!auth) return { status: 401, body: { error: 'unauthorized' } };
    const key = auth[1];
    const d = quota.take(key, at);
    if (!d.ok) {
      return {
        key,
        status: 429,
        window: d.window,
        headers: {
          'retry-after': String(Math.ceil((d.retryAtMs - at) / 1000)),
          'x-ratelimit-window': d.window,
          'x-ratelimit-limit': String(d.limit),
        },
        body: { error: 'rate_limited' },
      };
    }
    if (req.method === 'GET') return { key, status: 200, body: { ok: true, path } };
    return { key, status: 405, body: { error: 'method_not_allowed' } };
  }

  const internalError = (err) => ({ error: 'internal_error', message: String(err?.message ?? err) });
  const handle = await serve({ clock, host, port, latencyMs, route, internalError });
  return { ...handle, quota };
}
